using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Interop;

namespace Emissary.Streams;

/// <summary>How a producer's wait for its consumer ended (classes, not records: a record's generated members cost the pod binary size for nothing).</summary>
internal abstract class ConsumerOutcome
{
    /// <summary>The consumer opened the FIFO: the write end is in <see cref="StdoutStream.WriteEnd"/>.</summary>
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
/// The producer's side of <c>run --stdout-to CONSUMER</c>. At registration it makes the FIFO
/// <c>DIR/NAME/stdout</c>; once the step's gates are open it waits for the consumer to open it
/// (a thread blocked in open(2) for writing: the kernel's rendezvous, no polling), and puts the
/// write end into <see cref="WriteEnd"/>, a descriptor reserved up front, which is the command's
/// fd 1 (or the console of the stdout pump when stdout is also captured). The wait ends, without
/// starting the command, when the consumer is over without having opened it (skipped, failed, its
/// emissary died: watched like a sidecar's steps), after <c>--stream-timeout</c>, or on SIGTERM.
/// Emissary keeps its copy of the write end until the step's outcome is recorded, so the
/// consumer's EOF comes after the producer's exit code is in the control directory.
/// </summary>
internal sealed class StdoutStream : IConsumerWait, IDisposable
{
    /// <summary>How long a producer waits for its consumer by default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    private readonly StepHandle _handle;
    private readonly string _consumer;
    private readonly TimeSpan _timeout;
    private readonly IEventLoop _loop;
    private readonly GateWaiter _watcher;
    private readonly ReservedFd _writeEnd = new(readEnd: false);

    private StdoutStream(StepHandle handle, string consumer, TimeSpan timeout, IEventLoop loop, GateWaiter watcher)
    {
        _handle = handle;
        _consumer = consumer;
        _timeout = timeout;
        _loop = loop;
        _watcher = watcher;
    }

    /// <summary>Makes the FIFO (before the gates, so an early consumer finds it) and reserves the write end's descriptor.</summary>
    public static StdoutStream Create(StepHandle handle, string consumer, TimeSpan timeout, IEventLoop loop, GateWaiter watcher)
    {
        StreamFifo.Create(handle);
        return new StdoutStream(handle, consumer, timeout, loop, watcher);
    }

    /// <summary>The descriptor the command writes to (via dup2 onto fd 1, or through the pump).</summary>
    public int WriteEnd => _writeEnd.Fd;

    public unsafe ConsumerOutcome WaitForConsumer()
    {
        (SafeFd wakeRead, SafeFd wakeWrite) = SafeFd.Pipe(Libc.O_NONBLOCK);
        using (wakeRead)
        {
            int opened = -1;
            int cancelled = 0;
            int stepFd = _handle.DirectoryFd;
            int wake = wakeWrite.Fd;
            var opener = new Thread(() =>
            {
                int fd = StreamFifo.OpenForWritingBlocking(stepFd);
                if (Volatile.Read(ref cancelled) == 1 && fd >= 0)
                {
                    Libc.Close(fd);
                    fd = -1;
                }
                Volatile.Write(ref opened, fd);
                byte one = 1;
                Libc.Write(wake, &one, 1);
            })
            {
                IsBackground = true,
                Name = "stream opener",
            };
            opener.Start();
            using IDisposable registration = _loop.Watch(wakeRead.Fd, Libc.EPOLLIN, _ =>
            {
                Libc.Drain(wakeRead.Fd);
                _loop.Post(SupervisorEvent.Changed);
            });
            long started = Environment.TickCount64;
            ConsumerOutcome? outcome = null;
            while (outcome is null)
            {
                if (Volatile.Read(ref opened) >= 0)
                {
                    break;
                }
                TimeSpan remaining = _timeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
                if (_watcher.AllOver([_consumer]))
                {
                    outcome = new ConsumerOutcome.GaveUp(ExitCodes.ForSignal(Signals.PIPE),
                        $"step '{_consumer}' ended without reading the stream: not starting the command (as a shell pipeline's writer would get SIGPIPE)");
                }
                else if (remaining <= TimeSpan.Zero)
                {
                    outcome = new ConsumerOutcome.GaveUp(ExitCodes.EmissaryFailure,
                        $"gave up after waiting {Duration.Format(_timeout)} for step '{_consumer}' to open the stream {_handle.DisplayPath(StreamFifo.FileName)} (--stream-timeout)");
                }
                else if (_loop.Next(_watcher.Polling ? Min(remaining, TimeSpan.FromMilliseconds(100)) : remaining) is SupervisorEvent.SignalReceived s && Signals.IsTerminating(s.Signal))
                {
                    outcome = new ConsumerOutcome.GaveUp(ExitCodes.ForSignal(s.Signal), $"{Signals.Name(s.Signal)} received while waiting for step '{_consumer}' to open the stream: the command was not started");
                }
            }
            if (outcome is not null)
            {
                // End the blocked open: be a reader for an instant ourselves, then drop what it got.
                Volatile.Write(ref cancelled, 1);
                while (opener.IsAlive)
                {
                    StreamFifo.Knock(stepFd);
                    opener.Join(TimeSpan.FromMilliseconds(10));
                }
                int late = Volatile.Read(ref opened);
                if (late >= 0)
                {
                    Libc.Close(late);
                }
                wakeWrite.Dispose();
                return outcome;
            }
            opener.Join();
            wakeWrite.Dispose();
            _writeEnd.Fill(new SafeFd(Volatile.Read(ref opened)));
            return new ConsumerOutcome.Ready();
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Closes emissary's copy of the write end: once the command's copies are gone too, the consumer reads EOF.</summary>
    public void Dispose() => _writeEnd.Dispose();
}
