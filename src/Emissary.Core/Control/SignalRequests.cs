using Emissary.Interop;
using Emissary.Events;
using Emissary.Logging;

namespace Emissary.Control;

/// <summary>
/// The receiving end of `emissary signal NAME SIG`: a FIFO (0622) in the step's own directory that
/// the running step keeps open read-write (so it never sees EOF and a writer never blocks while the
/// step lives). A writer gets ENXIO when no step holds it open, which is how `emissary signal`
/// knows the step is not running. Requests become ordinary signal events for the run loop.
/// Anyone in the pod may write to it, so what is read is bounded: a line is at most
/// <see cref="MaxLine"/> bytes (a longer one is dropped whole), and one wake-up reads at most
/// <see cref="MaxBytesPerWakeup"/>, so a writer that never stops cannot starve the loop.
/// The same lines carry `emissary debug`'s requests (a word instead of a number): they are kept
/// here for the step runner to take at its decision points, and wake the loop.
/// </summary>
internal sealed unsafe partial class SignalRequests : IDisposable, IDebugRequests
{
    public const int MaxLine = SignalLines.MaxLine;
    private const int ChunkSize = 4096;
    private const int MaxBytesPerWakeup = 16 * ChunkSize;
    private const uint FifoMode = 0x192; // 0622: any uid of the pod may ask for a signal, only the step reads

    private readonly int _fd;
    private readonly string _path;
    private readonly IDisposable _registration;
    private readonly IEventLoop _reactor;
    private readonly ILogger _logger;
    private readonly SignalLines _lines = new();
    private readonly Action<int> _post;
    private readonly Action<DebugRequest> _debug;
    private DebugRequest? _resume;
    private bool _warned;

    private SignalRequests(int fd, string path, IEventLoop reactor, ILogger logger)
    {
        _fd = fd;
        _path = path;
        _reactor = reactor;
        _logger = logger;
        _post = signal => _reactor.Post(new SupervisorEvent.SignalReceived(signal, SupervisorEvent.SignalReceived.ViaControlDirectory));
        _debug = request =>
        {
            if (request == DebugRequest.Pause)
            {
                PauseAsked = true;
            }
            else
            {
                _resume = request;
            }
            _reactor.Post(SupervisorEvent.Changed);
        };
        _registration = reactor.Watch(fd, Libc.EPOLLIN, _ => Drain());
    }

    public static SignalRequests Listen(StepHandle step, IEventLoop reactor, ILogger logger)
    {
        int dir = step.DirectoryFd;
        const string name = ControlDirectory.SignalFifo;
        string path = step.DisplayPath(name);
        if (Libc.MkFifoAt(dir, name, FifoMode) != 0)
        {
            if (Libc.LastErrno != Errno.EEXIST)
            {
                throw new SystemCallException($"mkfifo {path}", Libc.LastErrno);
            }
            // Left by an earlier attempt: keep a FIFO, replace anything else.
            if (Libc.StatAt(dir, name) is { Kind: not FileType.Fifo } st)
            {
                int flags = st.Kind == FileType.Directory ? Libc.AT_REMOVEDIR : 0;
                if (Libc.UnlinkAt(dir, name, flags) != 0 || Libc.MkFifoAt(dir, name, FifoMode) != 0)
                {
                    throw new SystemCallException($"replace {path} with a FIFO", Libc.LastErrno);
                }
            }
        }
        int fd = Libc.OpenAtRetrying(dir, name, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException($"open {path}", Libc.LastErrno);
        }
        if (Libc.KindOf(fd) != FileType.Fifo || Libc.Fchmod(fd, FifoMode) != 0)
        {
            Errno errno = Libc.LastErrno;
            Libc.Close(fd);
            throw new SystemCallException($"open {path} as a FIFO", errno == 0 ? Errno.EINVAL : errno);
        }
        return new SignalRequests(fd, path, reactor, logger);
    }

    private void Drain()
    {
        byte* buffer = stackalloc byte[ChunkSize];
        for (int total = 0; total < MaxBytesPerWakeup;)
        {
            nint n = Libc.Read(_fd, buffer, ChunkSize);
            if (n <= 0)
            {
                return;
            }
            total += (int)n;
            if (_lines.Feed(new ReadOnlySpan<byte>(buffer, (int)n), _post, _debug) && !_warned)
            {
                _warned = true;
                Log.LineTooLong(_logger, _path, MaxLine);
            }
        }
    }

    public bool PauseAsked { get; private set; }

    /// <summary>Whether a resume request (continue, fail, rerun) was taken and acted on.</summary>
    public bool Answered { get; private set; }

    public DebugRequest? TakeResume()
    {
        DebugRequest? resume = _resume;
        _resume = null;
        Answered |= resume is not null;
        return resume;
    }

    public void Clear()
    {
        PauseAsked = false;
        _resume = null;
    }

    public void Dispose()
    {
        _registration.Dispose();
        Libc.Close(_fd);
    }

    private static class Log
    {
        public static void LineTooLong(ILogger logger, string path, int max)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"ignoring a line longer than {max} bytes written to {path} (requests are signal numbers or debug words); further ones are ignored silently");
            }
        }
    }
}

/// <summary>
/// The signal FIFO's framing, apart from the FIFO (so that the bytes can be fuzzed): lines of at
/// most <see cref="MaxLine"/> bytes, each a signal number from 1 to 64 or a debug request
/// (continue, fail, rerun, pause), blanks around it allowed; anything else is ignored; a longer line is dropped whole, up to its newline, in however many reads it comes.
/// </summary>
internal sealed class SignalLines
{
    public const int MaxLine = 64;

    private readonly byte[] _line = new byte[MaxLine];
    private int _length;
    private bool _discarding;

    /// <summary>Takes the bytes of one read; <paramref name="signal"/> gets each signal request, <paramref name="debug"/> each debug request. True when a line was too long.</summary>
    public bool Feed(ReadOnlySpan<byte> bytes, Action<int> signal, Action<DebugRequest>? debug = null)
    {
        bool tooLong = false;
        foreach (byte b in bytes)
        {
            if (b == (byte)'\n')
            {
                if (!_discarding)
                {
                    Handle(_line.AsSpan(0, _length), signal, debug);
                }
                _length = 0;
                _discarding = false;
            }
            else if (_discarding)
            {
                continue;
            }
            else if (_length == MaxLine)
            {
                _discarding = true;
                _length = 0;
                tooLong = true;
            }
            else
            {
                _line[_length++] = b;
            }
        }
        return tooLong;
    }

    private static void Handle(ReadOnlySpan<byte> line, Action<int> signal, Action<DebugRequest>? debug)
    {
        line = line.Trim(" \t\r"u8);
        if (System.Buffers.Text.Utf8Parser.TryParse(line, out int number, out int consumed) && consumed == line.Length && number is > 0 and < 65)
        {
            signal(number);
        }
        else if (debug is not null && DebugRequests.Parse(line) is { } request)
        {
            debug(request);
        }
    }
}

/// <summary>What `emissary debug` asks of a step, one word a line on its signal FIFO.</summary>
internal enum DebugRequest
{
    /// <summary>Go on from a pause; the recorded outcome stands.</summary>
    Continue,

    /// <summary>Go on from a pause as failed.</summary>
    Fail,

    /// <summary>Run the command again in place, as a new attempt.</summary>
    Rerun,

    /// <summary>Pause at the next decision point (before the command, or when it ends).</summary>
    Pause,
}

/// <summary>The one map between <see cref="DebugRequest"/> and its word.</summary>
internal static class DebugRequests
{
    public static string Word(this DebugRequest request) => request switch
    {
        DebugRequest.Continue => "continue",
        DebugRequest.Fail => "fail",
        DebugRequest.Rerun => "rerun",
        _ => "pause",
    };

    public static DebugRequest? Parse(ReadOnlySpan<byte> word) =>
        word.SequenceEqual("continue"u8) ? DebugRequest.Continue
        : word.SequenceEqual("fail"u8) ? DebugRequest.Fail
        : word.SequenceEqual("rerun"u8) ? DebugRequest.Rerun
        : word.SequenceEqual("pause"u8) ? DebugRequest.Pause
        : null;
}

/// <summary>
/// The debug requests that reached a step, as its runner takes them at its decision points: a
/// pause asked for (kept until the next decision point), and the last resume (continue, fail,
/// rerun). Only the step's own emissary reads them; anyone in the pod may send them.
/// </summary>
internal interface IDebugRequests
{
    /// <summary>Whether `emissary debug pause` came since the last <see cref="Clear"/>.</summary>
    bool PauseAsked { get; }

    /// <summary>The last continue, fail or rerun that came, taken (null when none).</summary>
    DebugRequest? TakeResume();

    /// <summary>Forgets what came so far: a pause starts afresh, a resume sent before it does not count.</summary>
    void Clear();
}
