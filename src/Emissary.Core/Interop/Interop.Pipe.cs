using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Emissary.Interop;

internal static partial class Libc
{
    internal const int F_DUPFD_CLOEXEC = 1030;
    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int F_SETPIPE_SZ = 1031;
    internal const int F_GETPIPE_SZ = 1032;

    /// <summary>ioctl request: bytes readable now (asm-generic value, the same on x86-64 and arm64).</summary>
    internal const nuint FIONREAD = 0x541B;

    /// <summary>Writes of at most this many bytes to a pipe are atomic (and fit once poll says POLLOUT).</summary>
    internal const int PIPE_BUF = 4096;

    // pipe2(2) is in Interop.Files.cs.

    // fcntl and ioctl are variadic in C. On the System V x86-64 and AAPCS64 Linux ABIs an int or
    // pointer variadic argument is passed exactly like a fixed one, so a fixed three-argument
    // import is correct on both (dotnet/runtime goes through a C shim only for portability to
    // ABIs where that is not true, such as Apple arm64).
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(int fd, nuint request, int* argument);

    /// <summary>
    /// Reads a non-blocking descriptor until it has nothing more (EAGAIN, EOF or an error) and
    /// returns how many bytes went by: for wake-up sources (inotify, FIFOs, a wake pipe) whose
    /// content does not matter, only that something arrived.
    /// </summary>
    internal static unsafe int Drain(int fd)
    {
        byte* buffer = stackalloc byte[4096];
        int total = 0;
        nint n;
        while ((n = Read(fd, buffer, 4096)) > 0)
        {
            total += (int)n;
        }
        return total;
    }

    /// <summary>Bytes waiting in a pipe (FIONREAD), or -1 with errno set.</summary>
    internal static unsafe int BytesReadable(int fd)
    {
        int count;
        return Ioctl(fd, FIONREAD, &count) < 0 ? -1 : count;
    }

    /// <summary>
    /// Asks for a pipe of <paramref name="bytes"/> (F_SETPIPE_SZ; the kernel rounds up to a power of
    /// two pages) and returns the capacity it has afterwards: the old one when the kernel refused
    /// (above fs.pipe-max-size, or the user's pipe page budget is used up).
    /// </summary>
    internal static int GrowPipe(int fd, int bytes)
    {
        int size = Fcntl(fd, F_SETPIPE_SZ, bytes);
        return size > 0 ? size : Fcntl(fd, F_GETPIPE_SZ, 0);
    }

    /// <summary>Sets O_NONBLOCK on the open file description behind <paramref name="fd"/>.</summary>
    internal static bool SetNonBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        return flags >= 0 && Fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
    }
}

/// <summary>
/// An owned file descriptor: closed exactly once, by Dispose or by the finalizer. Code in the hot
/// path reads <see cref="Fd"/>; the owner is single-threaded, so there is no close/use race to guard.
/// </summary>
internal sealed class SafeFd : SafeHandleMinusOneIsInvalid
{
    public SafeFd(int fd)
        : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => IsClosed ? -1 : (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    /// <summary>
    /// pipe2(O_CLOEXEC), with both ends moved above 2 so that neither can be taken for a standard
    /// stream when emissary itself was started with fd 0, 1 or 2 closed.
    /// </summary>
    public static unsafe (SafeFd Read, SafeFd Write) Pipe(int extraFlags = 0)
    {
        int* fds = stackalloc int[2];
        if (Libc.Pipe2(fds, Libc.O_CLOEXEC | extraFlags) < 0)
        {
            throw new SystemCallException("pipe2", Libc.LastErrno);
        }
        return (new SafeFd(AboveStandardStreams(fds[0])), new SafeFd(AboveStandardStreams(fds[1])));
    }

    private static int AboveStandardStreams(int fd)
    {
        if (fd > 2)
        {
            return fd;
        }
        int moved = Libc.Fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        Errno errno = Libc.LastErrno;
        Libc.Close(fd);
        if (moved < 0)
        {
            throw new SystemCallException("fcntl(F_DUPFD_CLOEXEC)", errno);
        }
        return moved;
    }
}
