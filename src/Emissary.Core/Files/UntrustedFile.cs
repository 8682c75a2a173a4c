using Emissary.Interop;

namespace Emissary.Files;

/// <summary>How reading a file another container may have planted went.</summary>
internal enum ReadOutcome
{
    Read,
    Missing,

    /// <summary>A symlink, FIFO, directory, device or socket: never opened for reading.</summary>
    NotRegular,

    /// <summary>More than the limit: nothing of it is returned.</summary>
    TooLarge,
    Failed,
}

/// <summary>The bytes read, or why there are none (<paramref name="Problem"/> says it in a few words).</summary>
internal readonly record struct BoundedRead(ReadOutcome Outcome, byte[]? Bytes, string? Problem, long Size = 0);

/// <summary>
/// Reads a file whose type and size are not trusted (a marker of another step, a result): relative
/// to a directory descriptor, never through a symlink (O_NOFOLLOW), never blocking (a FIFO or a
/// device is refused before it is read, O_NONBLOCK in case it was swapped in between), and never
/// more than a limit, so /dev/zero or a sparse terabyte costs nothing.
/// </summary>
internal static class UntrustedFile
{
    private const int InitialBuffer = 64 * 1024;
    private const int MinimumBuffer = 256;

    public static unsafe BoundedRead Read(int dirFd, string name, int maxBytes)
    {
        // Look before opening: opening a device can have effects of its own.
        if (Libc.StatAt(dirFd, name) is not { } before)
        {
            Errno errno = Libc.LastErrno;
            return errno is Errno.ENOENT or Errno.ENOTDIR
                ? new BoundedRead(ReadOutcome.Missing, null, null)
                : new BoundedRead(ReadOutcome.Failed, null, Libc.Describe(errno));
        }
        if (before.Kind != FileType.Regular)
        {
            return NotRegular(before.Kind);
        }
        int fd = Libc.OpenAtRetrying(dirFd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            return errno switch
            {
                Errno.ENOENT => new BoundedRead(ReadOutcome.Missing, null, null),
                Errno.ELOOP => NotRegular(FileType.SymbolicLink),
                Errno.ENXIO => new BoundedRead(ReadOutcome.NotRegular, null, "is a socket or device, not a regular file"),
                _ => new BoundedRead(ReadOutcome.Failed, null, Libc.Describe(errno)),
            };
        }
        using var handle = new SafeFd(fd);
        if (Libc.StatOf(fd) is not { } st)
        {
            return new BoundedRead(ReadOutcome.Failed, null, Libc.Describe(Libc.LastErrno));
        }
        if (st.Kind != FileType.Regular)
        {
            return NotRegular(st.Kind);
        }

        // Read one byte more than allowed: that byte existing is how "too large" is detected
        // without trusting st_size (a file still being written).
        long want = (long)maxBytes + 1;
        // st_size is a hint only (the file may grow while read): it sizes the first buffer, so a
        // 400-byte status.json costs a 401-byte array, not a fresh 64 KiB one (16 pages to clear).
        long hint = Math.Clamp((long)st.Size + 1, MinimumBuffer, InitialBuffer);
        byte[] buffer = new byte[(int)Math.Min(want, hint)];
        int length = 0;
        while (length < want)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(want, Math.Min((long)buffer.Length * 2, Array.MaxLength)));
            }
            nint n;
            fixed (byte* start = buffer)
            {
                n = Libc.Read(fd, start + length, (nuint)(buffer.Length - length));
            }
            if (n > 0)
            {
                length += (int)n;
            }
            else if (n == 0)
            {
                break;
            }
            else if (Libc.LastErrno != Errno.EINTR)
            {
                return new BoundedRead(ReadOutcome.Failed, null, Libc.Describe(Libc.LastErrno));
            }
        }
        if (length > maxBytes)
        {
            long size = Libc.StatOf(fd) is { } now ? (long)now.Size : 0;
            return new BoundedRead(ReadOutcome.TooLarge, null, $"is larger than {maxBytes} bytes", size);
        }
        return new BoundedRead(ReadOutcome.Read, length == buffer.Length ? buffer : buffer.AsSpan(0, length).ToArray(), null, length);
    }

    private static BoundedRead NotRegular(FileType kind) =>
        new(ReadOutcome.NotRegular, null, $"is {Libc.Describe(kind)}, not a regular file");
}
