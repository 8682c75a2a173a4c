using Emissary.Interop;

namespace Emissary.Files;

/// <summary>What Emissary does with descriptors beyond one system call: typed opens, draining wake-ups, sizing pipes.</summary>
internal static class Descriptors
{
    /// <summary>
    /// <paramref name="name"/> in <paramref name="dirFd"/> opened with <paramref name="access"/>,
    /// not through a link and without blocking, only if it is a <paramref name="kind"/>: checked
    /// before opening (opening a device can have effects of its own) and again on the descriptor
    /// (it may have been swapped in between); else null.
    /// </summary>
    public static SafeFd? OpenKindAt(int dirFd, string name, FileType kind, int access)
    {
        if (Libc.StatAt(dirFd, name) is not { } st || st.Kind != kind)
        {
            return null;
        }
        int fd = Libc.OpenAtRetrying(dirFd, name, access | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        var handle = new SafeFd(fd);
        if (Libc.KindOf(fd) != kind)
        {
            handle.Dispose();
            return null;
        }
        return handle;
    }

    /// <summary>
    /// Reads a non-blocking descriptor until it has nothing more (EAGAIN, EOF or an error) and
    /// returns how many bytes went by: for wake-up sources (inotify, FIFOs, a wake pipe) whose
    /// content does not matter, only that something arrived.
    /// </summary>
    public static unsafe int Drain(int fd)
    {
        byte* buffer = stackalloc byte[4096];
        int total = 0;
        nint n;
        while ((n = Libc.Read(fd, buffer, 4096)) > 0)
        {
            total += (int)n;
        }
        return total;
    }

    /// <summary>Bytes waiting in a pipe (FIONREAD), or -1 with errno set.</summary>
    public static unsafe int BytesReadable(int fd)
    {
        int count;
        return Libc.Ioctl(fd, Libc.FIONREAD, &count) < 0 ? -1 : count;
    }

    /// <summary>
    /// Asks for a pipe of <paramref name="bytes"/> (F_SETPIPE_SZ; the kernel rounds up to a power of
    /// two pages) and returns the capacity it has afterwards: the old one when the kernel refused
    /// (above fs.pipe-max-size, or the user's pipe page budget is used up).
    /// </summary>
    public static int GrowPipe(int fd, int bytes)
    {
        int size = Libc.Fcntl(fd, Libc.F_SETPIPE_SZ, bytes);
        return size > 0 ? size : Libc.Fcntl(fd, Libc.F_GETPIPE_SZ, 0);
    }
}
