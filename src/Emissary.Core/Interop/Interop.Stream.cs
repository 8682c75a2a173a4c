using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>What a streamed step's FIFO needs beyond the *at(2) family: putting a descriptor into a reserved slot.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "dup3", SetLastError = true)]
    internal static partial int Dup3(int oldFd, int newFd, int flags);

    [LibraryImport("libc", EntryPoint = "fchmodat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int FchmodAt(int dirFd, string path, uint mode, int flags);

    /// <summary>Clears O_NONBLOCK on the open file description behind <paramref name="fd"/>.</summary>
    internal static bool SetBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        return flags >= 0 && Fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
    }
}
