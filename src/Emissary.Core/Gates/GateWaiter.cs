using Emissary.Control;
using Emissary.Interop;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Foundation.Sequences;
using Emissary.Files;

namespace Emissary.Gates;

/// <summary>
/// The wait loop: waits for gates without polling, through the <see cref="DirectoryWatchSet"/> on
/// the directories that matter, FIFO gates in the reactor's epoll set, and the
/// <see cref="UpstreamWatch"/> on each running upstream. Race-free: watches are armed before every
/// evaluation, so an event that happened before we started watching is seen by the evaluation.
/// If inotify cannot be used, the <see cref="PollingFallback"/> says how often to look instead.
/// Time comes only from the <see cref="IClock"/>.
/// </summary>
internal sealed unsafe partial class GateWaiter : IGateWaiter, IDisposable
{
    private readonly IEventLoop _reactor;
    private readonly GateEvaluator _evaluator;
    private readonly ILogger _logger;
    private readonly IClock _clock;
    private readonly PollingFallback _fallback;
    private readonly DirectoryWatchSet _directories;
    private readonly UpstreamWatch _upstreams;
    private readonly List<IDisposable> _registrations = [];
    private readonly List<int> _fds = [];

    /// <param name="incoming">The step's stream, when it has a <see cref="Gate.StreamFrom"/> gate.</param>
    public GateWaiter(ControlDirectory? controlDirectory, IEventLoop reactor, ILogger logger, IClock clock, IIncomingStream? incoming = null)
    {
        _reactor = reactor;
        _logger = logger;
        _clock = clock;
        _evaluator = new GateEvaluator(controlDirectory, incoming);
        _fallback = new PollingFallback(clock, logger);
        _directories = new DirectoryWatchSet(reactor, _fallback);
        _upstreams = new UpstreamWatch(controlDirectory, reactor);
    }

    public GateOutcome Wait(IReadOnlyList<Gate> gates, TimeSpan? timeout, bool upstreamFailureOpens)
    {
        if (gates.Count == 0)
        {
            return new GateOutcome.Open([]);
        }
        TimeSpan started = _clock.Elapsed;
        foreach (Gate.Fifo fifo in gates.OfType<Gate.Fifo>())
        {
            SetUp(fifo, () => ListenOnFifo(fifo.Path));
        }

        // Gates whose directories were watched before the evaluation that follows: only those may
        // be waited on through inotify (arm, then check). An --after gate on a running upstream
        // needs no watch at all — its alive FIFO (or lock watcher) wakes the loop once the upstream
        // has recorded its outcome — so the first evaluation arms nothing for --after gates, and a waiter whose
        // upstreams are all running holds no inotify instance (a node-wide budget per uid).
        var armed = new HashSet<Gate>();
        while (true)
        {
            bool firstLook = !_evaluatedOnce;
            foreach (Gate gate in gates)
            {
                if (NeedsWatches(gate, firstLook) && _directories.TryStart())
                {
                    foreach (string directory in _evaluator.DirectoriesToWatch(gate))
                    {
                        SetUp(gate, () => _directories.WatchDirectoryAndParent(directory));
                    }
                    armed.Add(gate);
                }
            }
            _evaluatedOnce = true;

            var failures = new List<string>();
            var pending = new List<Gate>();
            foreach (Gate gate in gates)
            {
                // A stream is opened last, once every other gate is open: opening it is what lets
                // the producer start, so a consumer that will not run must not open it.
                if (gate is Gate.StreamFrom && (pending.Count > 0 || (failures.Count > 0 && !upstreamFailureOpens)))
                {
                    pending.Add(gate);
                    continue;
                }
                (GateState state, string? message) = _evaluator.Evaluate(gate);
                switch (state)
                {
                    case GateState.Skipped:
                        Log.Skipped(_logger, message!);
                        return new GateOutcome.SkippedByRequest();
                    case GateState.Failed:
                        failures.Add(message!);
                        break;
                    case GateState.Closed:
                        pending.Add(gate);
                        break;
                }
            }
            if (failures.Count > 0 && !upstreamFailureOpens)
            {
                return new GateOutcome.UpstreamFailed(failures[0]);
            }
            if (pending.Count == 0)
            {
                return new GateOutcome.Open(failures);
            }
            foreach (string step in _evaluator.RunningUpstreams)
            {
                SetUp(new Gate.AfterStep(step), () => _upstreams.Watch(step));
            }
            // A pending gate that nothing wakes us for yet: watch it, then evaluate again.
            if (pending.Any(g => NeedsWatches(g, firstLook: false) && !armed.Contains(g)) && _directories.TryStart())
            {
                continue;
            }
            // Everything pending is covered by lock watchers (or FIFOs): give the instance back.
            if (!pending.Any(g => NeedsWatches(g, firstLook: false)))
            {
                _directories.Stop();
                armed.Clear();
            }
            Log.Waiting(_logger, string.Join(", ", pending));

            TimeSpan? remaining = timeout is { } t ? t - (_clock.Elapsed - started) : null;
            if (remaining is { } r && r <= TimeSpan.Zero)
            {
                return new GateOutcome.TimedOut(string.Join(", ", pending));
            }
            bool unwatched = pending.Any(g => NeedsWatches(g, firstLook: false) && !armed.Contains(g));
            TimeSpan? wait = _fallback.Active || GateEvaluator.NeedsPolling(pending) ? Min(remaining, PollingFallback.Interval)
                : unwatched ? Min(remaining, _fallback.WaitWithoutInstance())
                : remaining;

            switch (_reactor.Next(wait))
            {
                case SupervisorEvent.SignalReceived s when Signals.IsTerminating(s.Signal):
                    return new GateOutcome.Interrupted(s.Signal);
                case SupervisorEvent.SignalReceived other:
                    Log.IgnoredWhileWaiting(_logger, Signals.Name(other.Signal));
                    break;
            }
        }
    }

    private bool _evaluatedOnce;

    /// <summary>
    /// Whether <paramref name="gate"/> can only be waited on through directory watches right now:
    /// files and manual starts always; an --after gate until its upstream is seen running (then its
    /// alive FIFO or its lock says when it is over), and not on the first look, which finds out
    /// whether it runs.
    /// </summary>
    private bool NeedsWatches(Gate gate, bool firstLook) => gate switch
    {
        Gate.FileExists or Gate.ManualStart or Gate.StreamFrom => true,
        Gate.AfterStep after => !firstLook && !_upstreams.Covers(after.Step),
        _ => false,
    };

    /// <summary>
    /// For a sidecar's stop condition: arms the same watches as an --after gate (directories and
    /// lock watchers) and says whether every step is over. Wakeups arrive as reactor events.
    /// </summary>
    public bool AllOver(IReadOnlyList<string> steps)
    {
        _directories.StartOrFallBack();
        foreach (string step in steps)
        {
            foreach (string directory in _evaluator.DirectoriesToWatch(new Gate.AfterStep(step)))
            {
                _directories.WatchDirectoryAndParent(directory);
            }
        }
        bool over = steps.All(_evaluator.IsOver);
        foreach (string step in _evaluator.RunningUpstreams)
        {
            _upstreams.Watch(step);
        }
        return over;
    }

    /// <summary>Runs one gate's set-up; a failed system call is reported with the gate it was for.</summary>
    private static void SetUp(Gate gate, Action setUp)
    {
        try
        {
            setUp();
        }
        catch (SystemCallException e)
        {
            throw new GateSetupException(gate, e);
        }
    }

    /// <summary>True when inotify is unavailable and the caller must re-check on a timer.</summary>
    public bool Polling => _fallback.Active;

    private static TimeSpan? Min(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    /// <summary>
    /// A FIFO gate: created if missing, held open read-write so that writers never block and EOF
    /// never comes (so there is nothing to reopen and nothing to spin on). The path is the user's,
    /// but what is there is not trusted: anything but a FIFO (a regular file, /dev/random) is a
    /// usage error, checked before opening and again on the descriptor.
    /// </summary>
    private void ListenOnFifo(string path)
    {
        FileType? kind = Libc.KindFollowing(path);
        if (kind is null && Libc.LastErrno == Errno.ENOENT)
        {
            if (Libc.MkFifo(path, 0x1B6) == 0)
            {
                Libc.Chmod(path, 0x1B6);
            }
            else if (Libc.LastErrno != Errno.EEXIST)
            {
                throw new SystemCallException($"mkfifo {path}", Libc.LastErrno);
            }
        }
        else if (kind is { } k && k != FileType.Fifo)
        {
            throw new UsageException($"--wait-fifo {path} is not a FIFO (it is {Libc.Describe(k)})");
        }
        int fd = Libc.OpenRetrying(path, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException($"open {path}", Libc.LastErrno);
        }
        _fds.Add(fd);
        if (Libc.KindOf(fd) is { } opened && opened != FileType.Fifo)
        {
            throw new UsageException($"--wait-fifo {path} is not a FIFO (it is {Libc.Describe(opened)})");
        }
        IDisposable? registration = null;
        registration = _reactor.Watch(fd, Libc.EPOLLIN, _ =>
        {
            // One bounded read is enough to know it was written to; then the FIFO is no longer
            // watched, so a writer that never stops cannot keep the loop busy.
            byte* buffer = stackalloc byte[4096];
            if (Libc.Read(fd, buffer, 4096) > 0)
            {
                _evaluator.FifoWritten(path);
                registration?.Dispose();
            }
            _reactor.Post(SupervisorEvent.Changed);
        });
        _registrations.Add(registration);
    }

    public void Dispose()
    {
        _directories.Dispose();
        _upstreams.Dispose();
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (int fd in _fds)
        {
            Libc.Close(fd);
        }
    }

    private static class Log
    {
        public static void Waiting(ILogger logger, string pending)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"waiting for {pending}");
            }
        }

        public static void Skipped(ILogger logger, string message)
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                logger.Write(LogLevel.Information, $"{message}");
            }
        }

        public static void IgnoredWhileWaiting(ILogger logger, string signal)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"{signal} received while waiting: nothing to forward it to yet");
            }
        }
    }
}
