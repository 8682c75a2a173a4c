using Emissary.Control;
using Emissary.Interop;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Foundation.Sequences;
using Emissary.Files;
using Emissary.Net;

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
    private readonly IGateView _view;
    private readonly IIncomingStream? _incoming;
    private readonly ILogger _logger;
    private readonly IClock _clock;
    private readonly PollingFallback _fallback;
    private readonly DirectoryWatchSet _directories;
    private readonly UpstreamWatch _upstreams;
    private readonly List<IDisposable> _registrations = [];
    private readonly List<int> _fds = [];

    /// <param name="incoming">The step's stream, when it has a <see cref="Gate.StreamFrom"/> gate.</param>
    /// <param name="view">What the evaluator looks through; the control directory and the file system unless a test says otherwise.</param>
    public GateWaiter(ControlDirectory? controlDirectory, IEventLoop reactor, ILogger logger, IClock clock, IIncomingStream? incoming = null, IGateView? view = null)
    {
        _reactor = reactor;
        _logger = logger;
        _clock = clock;
        _view = view ?? new DiskGateView(controlDirectory);
        _incoming = incoming;
        _evaluator = new GateEvaluator(_view, incoming);
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

        // What can change each gate (by position), as the evaluator said at its last look. An
        // --after gate starts with nothing to arm: its first look finds out whether the upstream
        // runs, and a running upstream needs no directory watch at all — its alive FIFO (or lock)
        // wakes the loop once it has recorded its outcome — so a waiter whose upstreams all run
        // holds no inotify instance (a node-wide budget per uid).
        int count = gates.Count;
        var wakes = new Wake[count];
        // Gates whose directories were watched before the look that follows: only those may be
        // waited on through inotify (arm, then look: a change after the look still wakes us).
        var armed = new bool[count];
        for (int i = 0; i < count; i++)
        {
            wakes[i] = GateEvaluator.WakeBeforeLooking(gates[i]);
        }
        var pending = new List<int>();
        while (true)
        {
            for (int i = 0; i < count; i++)
            {
                Gate gate = gates[i];
                // Every look re-arms: a directory that appeared since is watched itself now (until
                // then its nearest ancestor stood in), one that was replaced is watched again.
                if (wakes[i] == Wake.Directories && _directories.TryStart())
                {
                    foreach (string directory in _view.DirectoriesToWatch(gate))
                    {
                        SetUp(gate, () => _directories.WatchDirectoryAndParent(directory));
                    }
                    armed[i] = true;
                }
                if (_evaluator.NeedsProbe(gate) && Probe(gate))
                {
                    _evaluator.EndpointReady(gate);
                }
            }

            var failures = new List<string>();
            pending.Clear();
            bool again = false, unwatched = false, watchedOnly = true, probing = false;
            for (int i = 0; i < count; i++)
            {
                Gate gate = gates[i];
                // A stream is opened last, once every other gate is open: opening it is what lets
                // the producer start, so a consumer that will not run must not open it.
                if (gate is Gate.StreamFrom && (pending.Count > 0 || (failures.Count > 0 && !upstreamFailureOpens)))
                {
                    pending.Add(i);
                    continue;
                }
                if (gate is Gate.StreamFrom && _incoming is not null)
                {
                    _evaluator.StreamAdvanced(_incoming.Advance());
                }
                GateVerdict verdict = _evaluator.Evaluate(gate);
                wakes[i] = verdict.Wake;
                switch (verdict.State)
                {
                    case GateState.Skipped:
                        Log.Skipped(_logger, verdict.Message!);
                        return new GateOutcome.SkippedByRequest();
                    case GateState.Failed:
                        failures.Add(verdict.Message!);
                        break;
                    case GateState.Closed:
                        pending.Add(i);
                        break;
                }
            }
            if (failures.Count > 0 && !upstreamFailureOpens)
            {
                return new GateOutcome.UpstreamFailed(failures[0]);
            }
            if (pending.Count == 0)
            {
                return new GateOutcome.Open([.. failures]);
            }
            foreach (int i in pending)
            {
                switch (wakes[i])
                {
                    case Wake.Upstream when gates[i] is Gate.AfterStep running:
                        SetUp(running, () => _upstreams.Watch(running.Step));
                        break;
                    case Wake.Again:
                        again = true;
                        break;
                    case Wake.Directories:
                        if (gates[i] is Gate.AfterStep notRunning)
                        {
                            // Not running (any more): a restarted container registers it again, to be watched afresh.
                            _upstreams.Forget(notRunning.Step);
                        }
                        watchedOnly = false;
                        unwatched |= !armed[i];
                        break;
                    case Wake.Probe:
                        probing = true;
                        break;
                }
            }
            // A pending gate that nothing wakes us for yet: watch it, then look again.
            if (again || (unwatched && _directories.TryStart()))
            {
                continue;
            }
            // Everything pending is covered by upstream watches (or FIFOs, or probes): give the instance back.
            if (watchedOnly)
            {
                _directories.Stop();
                Array.Clear(armed);
            }
            Log.Waiting(_logger, gates, pending);

            TimeSpan? remaining = timeout is { } t ? t - (_clock.Elapsed - started) : null;
            if (remaining is { } r && r <= TimeSpan.Zero)
            {
                return new GateOutcome.TimedOut(Describe(gates, pending));
            }
            TimeSpan? wait = _fallback.Active || probing ? Min(remaining, PollingFallback.Interval)
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

    /// <summary>How long one readiness probe may take; the loop probes again at its polling interval.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Probes an HTTP or TCP gate once: a 2xx answer, or an accepted connection.</summary>
    private static bool Probe(Gate gate)
    {
        try
        {
            return gate switch
            {
                Gate.HttpReady http => LoopbackHttp.Request(http.Target, "GET", ProbeTimeout) is >= 200 and < 300,
                Gate.TcpReady tcp => LoopbackHttp.CanConnect(tcp.Endpoint, ProbeTimeout),
                _ => false,
            };
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// For a sidecar's stop condition: arms the same watches as an --after gate (directories and
    /// upstream watches) and says whether every step is over. Wakeups arrive as reactor events.
    /// </summary>
    public bool AllOver(IReadOnlyList<string> steps)
    {
        _directories.StartOrFallBack();
        bool over = true;
        foreach (string step in steps)
        {
            foreach (string directory in _view.DirectoriesToWatch(new Gate.AfterStep(step)))
            {
                _directories.WatchDirectoryAndParent(directory);
            }
            switch (_evaluator.IsOver(step))
            {
                case StepProgress.Running:
                    _upstreams.Watch(step);
                    over = false;
                    break;
                case StepProgress.NotStarted:
                    over = false;
                    break;
            }
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

    private static string Describe(IReadOnlyList<Gate> gates, List<int> pending) => string.Join(", ", pending.Select(i => gates[i]));

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
        public static void Waiting(ILogger logger, IReadOnlyList<Gate> gates, List<int> pending)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"waiting for {Describe(gates, pending)}");
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
