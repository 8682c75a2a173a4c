using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>fcntl(2), and setting or clearing O_NONBLOCK with it.</summary>
internal static partial class Libc
{
    internal const int F_DUPFD_CLOEXEC = 1030;
    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int F_SETPIPE_SZ = 1031;
    internal const int F_GETPIPE_SZ = 1032;

    /// <summary>Writes of at most this many bytes to a pipe are atomic (and fit once poll says POLLOUT).</summary>
    internal const int PIPE_BUF = 4096;

    // fcntl and ioctl are variadic in C. On the System V x86-64 and AAPCS64 Linux ABIs an int or
    // pointer variadic argument is passed exactly like a fixed one, so a fixed three-argument
    // import is correct on both (dotnet/runtime goes through a C shim only for portability to
    // ABIs where that is not true, such as Apple arm64).
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);

    /// <summary>Sets O_NONBLOCK on the open file description behind <paramref name="fd"/>.</summary>
    internal static bool SetNonBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        return flags >= 0 && Fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
    }

    /// <summary>Clears O_NONBLOCK on the open file description behind <paramref name="fd"/>.</summary>
    internal static bool SetBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        return flags >= 0 && Fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
    }
}
