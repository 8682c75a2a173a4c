using Emissary.Interop;
using Emissary.Events;
using Emissary.Logging;

namespace Emissary.Output;

/// <summary>What to capture of the command's output.</summary>
/// <param name="StdoutPath">File to copy stdout into (<c>--stdout-path</c>), or null.</param>
/// <param name="StderrPath">File to copy stderr into (<c>--stderr-path</c>), or null. May be the same file as stdout.</param>
/// <param name="CaptureStdoutForResult">Keep the beginning of stdout for a result (<c>--result-from-stdout</c>).</param>
/// <param name="ResultLimitBytes">Bytes of stdout a result may hold; limit + 1 are kept so that "too large" shows.</param>
internal sealed record CaptureOptions(string? StdoutPath, string? StderrPath, bool CaptureStdoutForResult, int ResultLimitBytes);

/// <summary>Registers a descriptor with the event loop: the shape of <see cref="IEventLoop.Watch"/>.</summary>
internal delegate IDisposable WatchDescriptor(int fd, uint events, Action<uint> onReady);

/// <summary>
/// Captures the command's stdout and/or stderr while still passing them through, complete, in order
/// and byte-exact, to emissary's own fd 1 and fd 2 (so <c>kubectl logs</c> keeps working): see
/// <see cref="CapturePump"/> for how (tee/splice on the reactor thread, bounded memory, backpressure).
/// An output that is not captured is not touched at all: the command inherits emissary's descriptor.
///
/// Lifecycle: <see cref="Start"/> before the first spawn; pass <see cref="ChildStdout"/> and
/// <see cref="ChildStderr"/> to every attempt (retries share one capture and one file);
/// <see cref="Finish()"/> once the last attempt exited; then read <see cref="StdoutForResult"/>;
/// Dispose.
/// </summary>
internal sealed class OutputCapture : IDisposable
{
    /// <summary>How long <see cref="Finish()"/> waits, in total, for a console that applies backpressure.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly List<CaptureFile> _files = [];
    private CapturePump? _stdout;
    private CapturePump? _stderr;

    private OutputCapture()
    {
    }

    /// <summary>
    /// Starts capturing, or returns null when nothing needs capturing (no path, no result): the
    /// command then inherits fds 1 and 2 untouched. A capture file that cannot be opened is
    /// reported as one warning and the output is still passed through.
    /// </summary>
    /// <exception cref="SystemCallException">A pipe could not be created (EMFILE, ...).</exception>
    public static OutputCapture? Start(CaptureOptions options, IEventLoop reactor, ILogger logger) =>
        Start(options, reactor.Watch, logger, stdoutConsole: 1, stderrConsole: 2);

    /// <summary>
    /// <see cref="Start(CaptureOptions, IEventLoop, ILogger)"/>, appending to the capture files instead
    /// of truncating them (Tekton's -stdout_path/-stderr_path open with O_APPEND). A separate entry
    /// point so that the in-pod emissary, which never appends, does not carry it.
    /// </summary>
    public static OutputCapture? StartAppending(CaptureOptions options, IEventLoop reactor, ILogger logger) =>
        Start(options, reactor.Watch, logger, stdoutConsole: 1, stderrConsole: 2, append: true);

    /// <summary>
    /// <see cref="Start(CaptureOptions, IEventLoop, ILogger)"/> with the event loop and the console
    /// descriptors given (tests use their own loop and pipes; -1 means "no console").
    /// </summary>
    internal static OutputCapture? Start(CaptureOptions options, WatchDescriptor watch, ILogger logger, int stdoutConsole, int stderrConsole, bool append = false)
    {
        bool stdout = options.StdoutPath is not null || options.CaptureStdoutForResult;
        bool stderr = options.StderrPath is not null;
        if (!stdout && !stderr)
        {
            return null;
        }
        var capture = new OutputCapture();
        try
        {
            CaptureFile? stdoutFile = options.StdoutPath is { } outPath ? capture.OpenFile(outPath, "stdout", append, logger) : null;
            CaptureFile? stderrFile = options.StderrPath is { } errPath ? capture.OpenFile(errPath, "stderr", append, logger) : null;
            if (stdout)
            {
                int limit = options.CaptureStdoutForResult ? Math.Max(options.ResultLimitBytes, 0) : -1;
                capture._stdout = CapturePump.Start("stdout", stdoutConsole, stdoutFile, limit, watch, logger);
            }
            if (stderr)
            {
                capture._stderr = CapturePump.Start("stderr", stderrConsole, stderrFile, -1, watch, logger);
            }
            return capture;
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    /// <summary>The write end the command gets as fd 1 (the launch settings' <c>StdoutFd</c>), or -1.</summary>
    public int ChildStdout => _stdout?.ChildEnd ?? -1;

    /// <summary>The write end the command gets as fd 2 (<c>StderrFd</c>), or -1.</summary>
    public int ChildStderr => _stderr?.ChildEnd ?? -1;

    /// <summary>
    /// With <see cref="CaptureOptions.CaptureStdoutForResult"/>: the first
    /// <see cref="CaptureOptions.ResultLimitBytes"/> + 1 bytes of stdout (fewer if stdout was
    /// shorter), complete once <see cref="Finish()"/> returned. A length over the limit means
    /// "too large". Otherwise null.
    /// </summary>
    public byte[]? StdoutForResult => _stdout?.ResultPrefix;

    /// <summary><see cref="Finish(TimeSpan)"/> with <see cref="DefaultDrainTimeout"/>.</summary>
    public void Finish() => Finish(DefaultDrainTimeout);

    /// <summary>
    /// Called after the command exited: closes emissary's copies of the write ends, then moves what
    /// is already in the pipes, without waiting for end-of-file — a background process started by
    /// the command may keep the pipe open forever (Argo #6375) — and stops capturing. Only a console
    /// that applies backpressure is waited for, at most <paramref name="consoleTimeout"/>.
    /// </summary>
    public void Finish(TimeSpan consoleTimeout)
    {
        _stdout?.CloseChildEnd();
        _stderr?.CloseChildEnd();
        long deadline = Environment.TickCount64 + (long)consoleTimeout.TotalMilliseconds;
        _stdout?.Finish(Remaining(deadline));
        _stderr?.Finish(Remaining(deadline));
    }

    public void Dispose()
    {
        _stdout?.Dispose();
        _stderr?.Dispose();
        foreach (CaptureFile file in _files)
        {
            file.Dispose();
        }
        _files.Clear();
    }

    private static TimeSpan Remaining(long deadline) => TimeSpan.FromMilliseconds(Math.Max(deadline - Environment.TickCount64, 0));

    /// <summary>Opens a capture file, or reuses the one already open when both outputs name the same file.</summary>
    private CaptureFile? OpenFile(string path, string output, bool append, ILogger logger)
    {
        CaptureFile? file = CaptureFile.Open(path, output, logger, append);
        if (file is null)
        {
            return null;
        }
        var identity = Libc.IdentityOf(file.Fd);
        foreach (CaptureFile open in _files)
        {
            if (identity is not null && Libc.IdentityOf(open.Fd) == identity)
            {
                file.Dispose();
                return open;
            }
        }
        _files.Add(file);
        return file;
    }
}
