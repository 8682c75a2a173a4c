using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>chmod(2), fchmod(2), fchmodat(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "chmod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Chmod(string path, int mode);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchmodat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int FchmodAt(int dirFd, string path, uint mode, int flags);
}
