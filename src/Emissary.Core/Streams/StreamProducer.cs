using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Foundation.Sequences;

namespace Emissary.Streams;

/// <summary>How a producer's wait for its consumer ended (classes, not records: a record's generated members cost the pod binary size for nothing).</summary>
internal abstract class ConsumerOutcome
{
    /// <summary>The consumer opened the FIFO: the write end is in <see cref="StreamProducer.WriteEnd"/>.</summary>
    public sealed class Ready : ConsumerOutcome;

    /// <summary>The command must not start: exit with <paramref name="exitCode"/>, saying <paramref name="message"/>.</summary>
    public sealed class GaveUp(int exitCode, string message) : ConsumerOutcome
    {
        public int ExitCode { get; } = exitCode;

        public string Message { get; } = message;
    }
}

/// <summary>What the step runner asks of a producer before it starts the command.</summary>
internal interface IConsumerWait
{
    /// <summary>Blocks until the consumer has opened the stream, it is over without having done so, the timeout passed, or a terminating signal came.</summary>
    ConsumerOutcome WaitForConsumer();
}

/// <summary>
/// The producer's side of <c>run --stdout-to CONSUMER</c>. At registration it listens on the unix
/// socket <c>DIR/NAME/stdout</c> (<see cref="StreamSocket"/>); once the step's gates are open it
/// waits, in the event loop, for the consumer to connect and prove who it is (a nonce sent on each
/// connection, which only the consumer's container can write into <c>DIR/CONSUMER/stream-claim</c>),
/// then hands it the read end of a fresh pipe and puts the write end into <see cref="WriteEnd"/>, a
/// descriptor reserved up front, which is the command's fd 1 (or the console of the stdout capture pump when
/// stdout is also captured). Connections that do not prove it (another container, garbage, a
/// connection held open) are closed without ending anything; at most
/// <see cref="MaxHandshakes"/> are served at once, each for at most <see cref="HandshakeTimeout"/>.
/// The wait ends, without starting the command, when the consumer is over without having taken the
/// stream (skipped, failed, its emissary died: watched like a sidecar's steps), after
/// <c>--stream-timeout</c>, or on SIGTERM — nothing in it blocks, whatever is done to the socket's
/// name. Emissary keeps its copy of the write end until the step's outcome is recorded, so the
/// consumer's EOF comes after the producer's exit code is in the control directory.
/// </summary>
internal sealed partial class StreamProducer : IConsumerWait, IDisposable
{
    /// <summary>How long a producer waits for its consumer by default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Connections served at once; more wait in the kernel's queue until one is done.</summary>
    public const int MaxHandshakes = 16;

    /// <summary>How long one connection may take to claim the stream (the consumer needs a few milliseconds).</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly StepHandle _handle;
    private readonly ControlDirectory _dir;
    private readonly string _consumer;
    private readonly TimeSpan _timeout;
    private readonly IEventLoop _loop;
    private readonly GateWaiter _watcher;
    private readonly ILogger _logger;
    private readonly ReservedFd _writeEnd = new(readEnd: false);
    private readonly List<Handshake> _handshakes = [];
    private SafeFd? _listener;
    private IDisposable? _accepting;
    private SafeFd? _handedOver;
    private bool _refusedOnce;

    private StreamProducer(StepHandle handle, ControlDirectory dir, string consumer, TimeSpan timeout, IEventLoop loop, GateWaiter watcher, ILogger logger, SafeFd listener)
    {
        _handle = handle;
        _dir = dir;
        _consumer = consumer;
        _timeout = timeout;
        _loop = loop;
        _watcher = watcher;
        _logger = logger;
        _listener = listener;
    }

    /// <summary>Listens on the socket (before the gates, so an early consumer finds it) and reserves the write end's descriptor.</summary>
    public static StreamProducer Create(StepHandle handle, ControlDirectory dir, string consumer, TimeSpan timeout, IEventLoop loop, GateWaiter watcher, ILogger logger) =>
        new(handle, dir, consumer, timeout, loop, watcher, logger, StreamSocket.Listen(handle));

    /// <summary>The descriptor the command writes to (via dup2 onto fd 1, or through the capture pump).</summary>
    public int WriteEnd => _writeEnd.Fd;

    private string SocketPath => _handle.DisplayPath(StreamSocket.FileName);

    public ConsumerOutcome WaitForConsumer()
    {
        long started = Environment.TickCount64;
        try
        {
            Accept(true);
            while (_handedOver is null)
            {
                long now = Environment.TickCount64;
                DropExpired(now);
                TimeSpan remaining = _timeout - TimeSpan.FromMilliseconds(now - started);
                if (_watcher.AllOver([_consumer]))
                {
                    return new ConsumerOutcome.GaveUp(ExitCodes.ForSignal(Signals.PIPE),
                        $"step '{_consumer}' ended without reading the stream: not starting the command (as a shell pipeline's writer would get SIGPIPE)");
                }
                if (remaining <= TimeSpan.Zero)
                {
                    return new ConsumerOutcome.GaveUp(ExitCodes.EmissaryFailure,
                        $"gave up after waiting {Duration.Format(_timeout)} for step '{_consumer}' to take the stream {SocketPath} (--stream-timeout)");
                }
                TimeSpan wait = _watcher.Polling ? Min(remaining, TimeSpan.FromMilliseconds(100)) : remaining;
                foreach (Handshake h in _handshakes)
                {
                    wait = Min(wait, TimeSpan.FromMilliseconds(Math.Max(0, h.Deadline - now)));
                }
                if (_loop.Next(wait) is SupervisorEvent.SignalReceived s && Signals.IsTerminating(s.Signal))
                {
                    return new ConsumerOutcome.GaveUp(ExitCodes.ForSignal(s.Signal), $"{Signals.Name(s.Signal)} received while waiting for step '{_consumer}' to take the stream: the command was not started");
                }
            }
            _writeEnd.Fill(_handedOver);
            _handedOver = null;
            return new ConsumerOutcome.Ready();
        }
        finally
        {
            StopListening();
        }
    }

    /// <summary>Watches the listening socket (or stops, while <see cref="MaxHandshakes"/> are served: the kernel queues the rest).</summary>
    private void Accept(bool on)
    {
        if (on && _accepting is null && _listener is not null)
        {
            _accepting = _loop.Watch(_listener.Fd, Libc.EPOLLIN, _ => AcceptAll());
        }
        else if (!on)
        {
            _accepting?.Dispose();
            _accepting = null;
        }
    }

    /// <summary>Takes the queued connections, up to the bound, and sends each its nonce.</summary>
    private unsafe void AcceptAll()
    {
        while (_handedOver is null && _handshakes.Count < MaxHandshakes && _listener is not null)
        {
            int fd = Libc.Accept4(_listener.Fd, null, null, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            if (fd < 0)
            {
                // EAGAIN: none left. Anything else (out of descriptors, a connection already
                // reset): look again at the next readiness, never spin here.
                break;
            }
            var connection = new SafeFd(fd);
            byte[] nonce = StreamSocket.NewNonce();
            nint sent;
            fixed (byte* p = nonce)
            {
                sent = Libc.Send(fd, p, (nuint)nonce.Length, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
            }
            if (sent != nonce.Length)
            {
                connection.Dispose(); // gone already
                continue;
            }
            var handshake = new Handshake(connection, nonce, Environment.TickCount64 + (long)HandshakeTimeout.TotalMilliseconds);
            handshake.Watch = _loop.Watch(fd, Libc.EPOLLIN, _ => OnClaim(handshake));
            _handshakes.Add(handshake);
        }
        if (_handshakes.Count >= MaxHandshakes)
        {
            Accept(false);
        }
    }

    /// <summary>
    /// A connection spoke: one byte saying its nonce is in the consumer's claim file, which must then
    /// hold that nonce. Then the pipe is made and its read end handed over on this connection.
    /// Anything else — EOF, garbage, a claim that does not match — closes the connection.
    /// </summary>
    private unsafe void OnClaim(Handshake handshake)
    {
        byte* buffer = stackalloc byte[2];
        nint n = Libc.Recv(handshake.Connection.Fd, buffer, 2, Libc.MSG_DONTWAIT);
        if (n < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
        {
            return;
        }
        string? problem = n == 0 ? "it closed before claiming the stream"
            : n != 1 || buffer[0] != StreamSocket.Claimed ? "it sent something else than a claim"
            : StreamSocket.ClaimProblem(_dir, _consumer, handshake.Nonce);
        if (problem is null && _handedOver is null)
        {
            (SafeFd read, SafeFd write) = SafeFd.Pipe();
            using (read)
            {
                if (Libc.SendDescriptor(handshake.Connection.Fd, StreamSocket.Handed, read.Fd) == 1)
                {
                    _handedOver = write;
                    _loop.Post(SupervisorEvent.Changed);
                }
                else
                {
                    problem = $"the pipe could not be sent ({Libc.Describe(Libc.LastErrno)})";
                    write.Dispose();
                }
            }
        }
        if (problem is not null)
        {
            Refused(problem);
        }
        Close(handshake);
    }

    private void DropExpired(long now)
    {
        foreach (Handshake h in _handshakes.ToArray())
        {
            if (now >= h.Deadline)
            {
                Refused($"it did not claim the stream within {Duration.Format(HandshakeTimeout)}");
                Close(h);
            }
        }
    }

    private void Close(Handshake handshake)
    {
        handshake.Watch?.Dispose();
        handshake.Connection.Dispose();
        if (_handshakes.RemoveSame(handshake) && _handedOver is null)
        {
            Accept(true);
        }
    }

    /// <summary>One warning for the first refused connection (it may be an attack, or a misconfigured consumer), debug lines after it.</summary>
    private void Refused(string problem)
    {
        Log.Refused(_logger, _refusedOnce ? LogLevel.Debug : LogLevel.Warning, SocketPath, problem, _consumer);
        _refusedOnce = true;
    }

    /// <summary>Closes every connection and the listening socket, and removes its name: nobody else may take the stream.</summary>
    private void StopListening()
    {
        Accept(false);
        foreach (Handshake h in _handshakes.ToArray())
        {
            h.Watch?.Dispose();
            h.Connection.Dispose();
        }
        _handshakes.Clear();
        if (_listener is not null)
        {
            _listener.Dispose();
            _listener = null;
            StreamSocket.Remove(_handle);
        }
        _handedOver?.Dispose();
        _handedOver = null;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Closes emissary's copy of the write end: once the command's copies are gone too, the consumer reads EOF.</summary>
    public void Dispose()
    {
        StopListening();
        _writeEnd.Dispose();
    }

    /// <summary>One accepted connection: the nonce it was sent, and until when it may claim the stream.</summary>
    private sealed class Handshake(SafeFd connection, byte[] nonce, long deadline)
    {
        public SafeFd Connection { get; } = connection;

        public byte[] Nonce { get; } = nonce;

        public long Deadline { get; } = deadline;

        public IDisposable? Watch { get; set; }
    }

    private static class Log
    {
        public static void Refused(ILogger logger, LogLevel level, string path, string problem, string consumer)
        {
            if (logger.IsEnabled(level))
            {
                logger.Write(level, $"closed a connection to the stream {path}: {problem} (only step '{consumer}' can take the stream){(level == LogLevel.Warning ? "; further ones are logged at debug level" : "")}");
            }
        }
    }
}
