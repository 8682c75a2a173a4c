using Emissary.Interop;
using Emissary.Logging;

namespace Emissary.Output;

/// <summary>
/// A file the command's output is copied into (<c>--stdout-path</c>, <c>--stderr-path</c>). When
/// both streams name the same file they share one instance, hence one open file description and
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

    /// <summary>Whether splice(2) into it works; cleared on the first EINVAL (then read/write is used).</summary>
    public bool SpliceWorks { get; set; } = true;

    /// <summary>
    /// Opens <paramref name="path"/> with O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, mode 0644 (minus
    /// umask), creating missing parent directories (O_APPEND instead of O_TRUNC with
    /// <paramref name="append"/>). On failure logs one warning and returns null.
    /// </summary>
    public static CaptureFile? Open(string path, string stream, ILogger logger, bool append = false)
    {
        string? parent = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(parent))
        {
            Errno mkdirErrno = Libc.MakeDirectories(parent);
            if (mkdirErrno != 0)
            {
                Log.CannotOpen(logger, path, stream, $"cannot create {parent}: {Libc.Describe(mkdirErrno)}");
                return null;
            }
        }
        int fd = Libc.OpenRetrying(path, Libc.O_WRONLY | Libc.O_CREAT | (append ? Libc.O_APPEND : Libc.O_TRUNC) | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            Log.CannotOpen(logger, path, stream, Libc.Describe(Libc.LastErrno));
            return null;
        }
        return new CaptureFile(path, new SafeFd(fd), logger);
    }

    /// <summary>Writes all of <paramref name="data"/>; on failure warns once and drops the file.</summary>
    public void Write(ReadOnlySpan<byte> data, string stream)
    {
        if (_fd is null)
        {
            return;
        }
        Errno errno = Libc.WriteAll(_fd.Fd, data);
        if (errno != 0)
        {
            Fail(errno, stream);
        }
    }

    /// <summary>Logs the failure once and closes the file: later output goes to the console only.</summary>
    public void Fail(Errno errno, string stream)
    {
        if (_fd is null)
        {
            return;
        }
        Log.CannotWrite(_logger, stream, Path, Libc.Describe(errno));
        _fd.Dispose();
        _fd = null;
    }

    public void Dispose()
    {
        _fd?.Dispose();
        _fd = null;
    }

    private static partial class Log
    {
        public static void CannotOpen(ILogger logger, string path, string stream, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot open {path} to capture {stream}: {reason}; the output still goes to the container's log");
            }
        }

        public static void CannotWrite(ILogger logger, string stream, string path, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot write the captured {stream} to {path}: {reason}; the rest goes only to the container's log");
            }
        }
    }
}
