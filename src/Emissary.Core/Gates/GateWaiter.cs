using Emissary.Control;
using Emissary.Interop;
using Emissary.Events;
using Microsoft.Extensions.Logging;

namespace Emissary.Gates;

/// <summary>
/// Waits for gates without polling: inotify on the directories that matter, FIFOs in the
/// reactor's epoll set, and a thread blocked in flock(2) on each running upstream's lock, which the
/// kernel releases the moment that emissary dies. Race-free: watches are armed before every
/// evaluation, so an event that happened before we started watching is seen by the evaluation.
/// If inotify cannot be used (no instances or watches left), it falls back to re-evaluating every
/// 100 ms and says so once.
/// </summary>
internal sealed unsafe partial class GateWaiter : IGateWaiter, IDisposable
{
    private static readonly TimeSpan FallbackInterval = TimeSpan.FromMilliseconds(100);
    private const uint WatchMask = Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_CLOSE_WRITE | Libc.IN_MODIFY | Libc.IN_ATTRIB |
        Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    private readonly IEventLoop _reactor;
    private readonly GateEvaluator _evaluator;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _registrations = [];
    private readonly List<int> _fds = [];
    private readonly HashSet<string> _watchedDirectories = new(StringComparer.Ordinal);
    private readonly HashSet<string> _lockWatchers = new(StringComparer.Ordinal);
    private readonly ControlDirectory? _controlDirectory;
    private int _inotify = -1;
    private bool _polling;
    private int _wakeRead = -1;
    private int _wakeWrite = -1;

    public GateWaiter(ControlDirectory? controlDirectory, IEventLoop reactor, ILogger logger)
    {
        _controlDirectory = controlDirectory;
        _reactor = reactor;
        _logger = logger;
        _evaluator = new GateEvaluator(controlDirectory);
    }

    public GateOutcome Wait(IReadOnlyList<Gate> gates, TimeSpan? timeout, bool upstreamFailureOpens)
    {
        if (gates.Count == 0)
        {
            return new GateOutcome.Open([]);
        }
        long started = Environment.TickCount64;
        StartInotify();
        foreach (Gate.Fifo fifo in gates.OfType<Gate.Fifo>())
        {
            ListenOnFifo(fifo.Path);
        }

        while (true)
        {
            foreach (Gate gate in gates)
            {
                foreach (string directory in _evaluator.DirectoriesToWatch(gate))
                {
                    WatchDirectoryOrAncestor(directory);
                }
            }

            var failures = new List<string>();
            var pending = new List<Gate>();
            foreach (Gate gate in gates)
            {
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
                WatchLock(step);
            }
            Log.Waiting(_logger, string.Join(", ", pending));

            TimeSpan? remaining = timeout is { } t ? t - TimeSpan.FromMilliseconds(Environment.TickCount64 - started) : null;
            if (remaining is { } r && r <= TimeSpan.Zero)
            {
                return new GateOutcome.TimedOut(string.Join(", ", pending));
            }
            TimeSpan? wait = _polling || GateEvaluator.NeedsPolling(pending) ? Min(remaining, FallbackInterval) : remaining;

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

    /// <summary>
    /// For a sidecar's stop condition: arms the same watches as an --after gate (directories and
    /// lock watchers) and says whether every step is over. Wakeups arrive as reactor events.
    /// </summary>
    public bool AllOver(IReadOnlyList<string> steps)
    {
        StartInotify();
        foreach (string step in steps)
        {
            foreach (string directory in _evaluator.DirectoriesToWatch(new Gate.AfterStep(step)))
            {
                WatchDirectoryOrAncestor(directory);
            }
        }
        bool over = steps.All(_evaluator.IsOver);
        foreach (string step in _evaluator.RunningUpstreams)
        {
            WatchLock(step);
        }
        return over;
    }

    /// <summary>True when inotify is unavailable and the caller must re-check on a timer.</summary>
    public bool Polling => _polling;

    private static TimeSpan? Min(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    private void StartInotify()
    {
        if (_inotify >= 0 || _polling)
        {
            return;
        }
        _inotify = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (_inotify < 0)
        {
            FallBackToPolling(Libc.LastErrno, "/proc/sys/fs/inotify/max_user_instances");
            return;
        }
        _fds.Add(_inotify);
        _registrations.Add(_reactor.Watch(_inotify, Libc.EPOLLIN, _ => DrainAndWake(_inotify)));
    }

    /// <summary>Watches <paramref name="directory"/>, or its deepest existing ancestor until it appears.</summary>
    private void WatchDirectoryOrAncestor(string directory)
    {
        if (_polling)
        {
            return;
        }
        for (string? d = directory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (_watchedDirectories.Contains(d))
            {
                return;
            }
            if (!Directory.Exists(d))
            {
                continue;
            }
            if (Libc.InotifyAddWatch(_inotify, d, WatchMask) < 0)
            {
                Errno errno = Libc.LastErrno;
                if (errno is Errno.ENOSPC or Errno.ENOMEM)
                {
                    FallBackToPolling(errno, "/proc/sys/fs/inotify/max_user_watches");
                }
                else if (errno is not (Errno.ENOENT or Errno.ENOTDIR or Errno.EACCES))
                {
                    throw new SystemCallException($"inotify_add_watch {d}", errno);
                }
                continue;
            }
            _watchedDirectories.Add(d);
            return;
        }
    }

    private void FallBackToPolling(Errno errno, string limit)
    {
        _polling = true;
        Log.Polling(_logger, Libc.Describe(errno), limit);
    }

    /// <summary>A FIFO gate: created if missing, held open read-write so that writers never block and EOF never spins.</summary>
    private void ListenOnFifo(string path)
    {
        if (Libc.MkFifo(path, 0x1B6) == 0)
        {
            Libc.Chmod(path, 0x1B6);
        }
        else if (Libc.LastErrno != Errno.EEXIST)
        {
            throw new SystemCallException($"mkfifo {path}", Libc.LastErrno);
        }
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException($"open {path}", Libc.LastErrno);
        }
        _fds.Add(fd);
        _registrations.Add(_reactor.Watch(fd, Libc.EPOLLIN, _ =>
        {
            if (Libc.Drain(fd) > 0)
            {
                _evaluator.FifoWritten(path);
            }
            _reactor.Post(SupervisorEvent.Changed);
        }));
    }

    /// <summary>
    /// One background thread per running upstream, blocked in flock(LOCK_SH) on its lock: it
    /// returns when the upstream's emissary exits for any reason, and wakes the loop.
    /// </summary>
    private void WatchLock(string step)
    {
        if (!_lockWatchers.Add(step) || _controlDirectory is null)
        {
            return;
        }
        if (_wakeRead < 0)
        {
            int* fds = stackalloc int[2];
            if (Libc.Pipe2(fds, Libc.O_CLOEXEC | Libc.O_NONBLOCK) != 0)
            {
                throw new SystemCallException("pipe2", Libc.LastErrno);
            }
            (_wakeRead, _wakeWrite) = (fds[0], fds[1]);
            _fds.Add(_wakeRead);
            _registrations.Add(_reactor.Watch(_wakeRead, Libc.EPOLLIN, _ => DrainAndWake(_wakeRead)));
        }
        string lockPath = _controlDirectory.PathOf(step, ControlDirectory.LockFile);
        int wake = _wakeWrite;
        var thread = new Thread(() =>
        {
            int fd = Libc.Open(lockPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd >= 0)
            {
                while (Libc.Flock(fd, Libc.LOCK_SH) != 0 && Libc.LastErrno == Errno.EINTR)
                {
                }
                Libc.Close(fd);
            }
            byte one = 1;
            Libc.Write(wake, &one, 1);
        })
        {
            IsBackground = true,
            Name = "lock watcher " + step,
        };
        thread.Start();
    }

    private void DrainAndWake(int fd)
    {
        Libc.Drain(fd);
        _reactor.Post(SupervisorEvent.Changed);
    }

    public void Dispose()
    {
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (int fd in _fds)
        {
            Libc.Close(fd);
        }
        // _wakeWrite stays open: a lock watcher thread may still write to it. It is CLOEXEC.
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Debug, Message = "waiting for {Pending}")]
        public static partial void Waiting(ILogger logger, string pending);

        [LoggerMessage(Level = LogLevel.Information, Message = "{Message}")]
        public static partial void Skipped(ILogger logger, string message);

        [LoggerMessage(Level = LogLevel.Debug, Message = "{Signal} received while waiting: nothing to forward it to yet")]
        public static partial void IgnoredWhileWaiting(ILogger logger, string signal);

        [LoggerMessage(Level = LogLevel.Warning, Message = "inotify unavailable ({Reason}): checking gates every 100 ms instead; raise {Limit} to restore event-driven waiting")]
        public static partial void Polling(ILogger logger, string reason, string limit);
    }
}
