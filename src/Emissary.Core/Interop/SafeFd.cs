using Microsoft.Win32.SafeHandles;

namespace Emissary.Interop;

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
