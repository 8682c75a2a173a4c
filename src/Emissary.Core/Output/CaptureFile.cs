using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Files;

namespace Emissary.Output;

/// <summary>
/// A file the command's output is copied into (<c>--stdout-path</c>, <c>--stderr-path</c>). When
/// both outputs name the same file they share one instance, hence one open file description and
/// one offset, like <c>&gt;file 2&gt;&amp;1</c>: two descriptions would overwrite each other.
///
/// Writes to it are treated as non-blocking (regular files are). The first failure (ENOSPC, EIO,
/// EDQUOT, ...) is logged once and the file is dropped; the output keeps flowing to the container's
/// stdout/stderr, and the command is never blocked or killed because of it.
/// </summary>
internal sealed partial class CaptureFile : IDisposable
{
    private readonly ILogger _logger;
    private SafeFd? _fd;

    private CaptureFile(string path, SafeFd fd, ILogger logger)
    {
        Path = path;
        _fd = fd;
        _logger = logger;
    }

    public string Path { get; }

    /// <summary>False once a write failed (the file is then closed).</summary>
    public bool Active => _fd is not null;

    public int Fd => _fd?.Fd ?? -1;

    /// <summary>
    /// Opens <paramref name="path"/> for writing, mode 0644 (minus umask), creating missing parent
    /// directories (0755), and empties it (appends instead with <paramref name="append"/>). The
    /// path is resolved by <see cref="WritePath"/>: a link another container may have planted is
    /// not followed, and only a regular file or a character device is written, never a FIFO (it
    /// would hang the step), socket or block device. A device (/dev/null, /dev/full) stays
    /// non-blocking: output it cannot take now drops it with the usual warning instead of
    /// stalling the command. On failure or refusal logs one warning and returns null: the step
    /// runs on.
    /// </summary>
    public static CaptureFile? Open(string path, string output, ILogger logger, bool append = false)
    {
        try
        {
            using WritePath place = WritePath.Resolve(path, createParents: true);
            SafeFd fd = place.Open(Libc.O_WRONLY | (append ? Libc.O_APPEND : 0), create: true, mode: (UnixFileMode)0x1A4 /* 0644 */, characterDevice: true);
            if (!append && Libc.KindOf(fd.Fd) == FileType.Regular && Libc.Ftruncate(fd.Fd, 0) != 0)
            {
                Errno errno = Libc.LastErrno;
                fd.Dispose();
                throw new WritePathException(Libc.Describe(errno), errno);
            }
            return new CaptureFile(path, fd, logger);
        }
        catch (WritePathException e)
        {
            Log.CannotOpen(logger, path, output, e.Message);
            return null;
        }
    }

    /// <summary>Writes all of <paramref name="data"/>; on failure warns once and drops the file.</summary>
    public void Write(ReadOnlySpan<byte> data, string output)
    {
        if (_fd is null)
        {
            return;
        }
        Errno errno = Libc.WriteAll(_fd.Fd, data);
        if (errno != 0)
        {
            Fail(errno, output);
        }
    }

    /// <summary>Logs the failure once and closes the file: later output goes to the console only.</summary>
    private void Fail(Errno errno, string output)
    {
        if (_fd is null)
        {
            return;
        }
        Log.CannotWrite(_logger, output, Path, Libc.Describe(errno));
        _fd.Dispose();
        _fd = null;
    }

    public void Dispose()
    {
        _fd?.Dispose();
        _fd = null;
    }

    private static class Log
    {
        public static void CannotOpen(ILogger logger, string path, string output, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot open {path} to capture {output}: {reason}; the output still goes to the container's log");
            }
        }

        public static void CannotWrite(ILogger logger, string output, string path, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot write the captured {output} to {path}: {reason}; the rest goes only to the container's log");
            }
        }
    }
}
