using Emissary.Control;
using Emissary.Interop;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Foundation.Sequences;
using Emissary.Files;

namespace Emissary.Gates;

/// <summary>
/// Waits for gates without polling: inotify on the directories that matter, FIFOs in the
/// reactor's epoll set, and for each running upstream its alive FIFO, whose hangup comes the
/// moment that emissary lets go or dies (or, where there is none, a thread blocked in flock(2) on
/// its lock, which the kernel releases just as surely). Race-free: watches are armed before every
/// evaluation, so an event that happened before we started watching is seen by the evaluation.
/// If inotify cannot be used (no instances or watches left), it falls back to re-evaluating every
/// 100 ms and says so once.
/// </summary>
internal sealed unsafe partial class GateWaiter : IGateWaiter, IDisposable
{
    private static readonly TimeSpan FallbackInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ShortPollInterval = TimeSpan.FromMilliseconds(5);
    private const long ShortPollingFor = 2000; // ms
    // Entries appearing or going away: enough for a parent or an ancestor standing in for a missing directory.
    private const uint EntryMask = Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_DELETE | Libc.IN_MOVED_FROM |
        Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    // A directory a gate reads from: also what is written in it.
    private const uint WatchMask = EntryMask | Libc.IN_CLOSE_WRITE | Libc.IN_MODIFY | Libc.IN_ATTRIB;

    private readonly IEventLoop _reactor;
    private readonly GateEvaluator _evaluator;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _registrations = [];
    private readonly List<int> _fds = [];
    private readonly Dictionary<string, WatchedDirectory> _watched = new(StringComparer.Ordinal);
    private readonly HashSet<string> _lockWatchers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _aliveWatched = new(StringComparer.Ordinal);
    private readonly HashSet<string> _aliveSpent = new(StringComparer.Ordinal);
    private readonly List<SafeFd> _aliveFds = [];
    private readonly ControlDirectory? _controlDirectory;
    private int _inotify = -1;
    private IDisposable? _inotifyRegistration;
    private long _unavailableSince = -1;
    private Errno _unavailableErrno;
    private bool _warned;
    private bool _polling;
    private int _wakeRead = -1;
    private int _wakeWrite = -1;

    /// <param name="incoming">The step's stream, when it has a <see cref="Gate.StreamFrom"/> gate.</param>
    public GateWaiter(ControlDirectory? controlDirectory, IEventLoop reactor, ILogger logger, IIncomingStream? incoming = null)
    {
        _controlDirectory = controlDirectory;
        _reactor = reactor;
        _logger = logger;
        _evaluator = new GateEvaluator(controlDirectory, incoming);
    }

    public GateOutcome Wait(IReadOnlyList<Gate> gates, TimeSpan? timeout, bool upstreamFailureOpens)
    {
        if (gates.Count == 0)
        {
            return new GateOutcome.Open([]);
        }
        long started = Environment.TickCount64;
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
                if (NeedsWatches(gate, firstLook) && EnsureInotify())
                {
                    foreach (string directory in _evaluator.DirectoriesToWatch(gate))
                    {
                        SetUp(gate, () => WatchDirectoryAndParent(directory));
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
                SetUp(new Gate.AfterStep(step), () => WatchUpstream(step));
            }
            // A pending gate that nothing wakes us for yet: watch it, then evaluate again.
            if (pending.Any(g => NeedsWatches(g, firstLook: false) && !armed.Contains(g)) && EnsureInotify())
            {
                continue;
            }
            // Everything pending is covered by lock watchers (or FIFOs): give the instance back.
            if (!pending.Any(g => NeedsWatches(g, firstLook: false)))
            {
                StopInotify();
                armed.Clear();
            }
            Log.Waiting(_logger, string.Join(", ", pending));

            TimeSpan? remaining = timeout is { } t ? t - TimeSpan.FromMilliseconds(Environment.TickCount64 - started) : null;
            if (remaining is { } r && r <= TimeSpan.Zero)
            {
                return new GateOutcome.TimedOut(string.Join(", ", pending));
            }
            bool unwatched = pending.Any(g => NeedsWatches(g, firstLook: false) && !armed.Contains(g));
            TimeSpan? wait = _polling || GateEvaluator.NeedsPolling(pending) ? Min(remaining, FallbackInterval)
                : unwatched ? Min(remaining, PollInterval())
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
        Gate.AfterStep after => !firstLook && !WatchedAsUpstream(after.Step),
        _ => false,
    };

    /// <summary>
    /// How long to sleep when a gate needs watching but no inotify instance could be had: briefly
    /// at first (instances are held only until upstreams register, so they come back quickly when a
    /// burst of steps starts at once), then every 100 ms with a warning if that lasts.
    /// </summary>
    private TimeSpan PollInterval()
    {
        if (_unavailableSince < 0 || Environment.TickCount64 - _unavailableSince < ShortPollingFor)
        {
            return ShortPollInterval;
        }
        if (!_warned)
        {
            _warned = true;
            Log.Polling(_logger, Libc.Describe(_unavailableErrno), "/proc/sys/fs/inotify/max_user_instances");
        }
        return FallbackInterval;
    }

    /// <summary>An inotify instance for <see cref="Wait"/>, made on demand; false (poll) when none can be had now.</summary>
    private bool EnsureInotify()
    {
        if (_inotify >= 0)
        {
            return true;
        }
        if (_polling)
        {
            return false;
        }
        int fd = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (fd < 0)
        {
            _unavailableErrno = Libc.LastErrno;
            if (_unavailableSince < 0)
            {
                _unavailableSince = Environment.TickCount64;
            }
            return false;
        }
        _unavailableSince = -1;
        _inotify = fd;
        _inotifyRegistration = _reactor.Watch(_inotify, Libc.EPOLLIN, _ => OnInotify());
        return true;
    }

    private void StopInotify()
    {
        if (_inotify < 0)
        {
            return;
        }
        _inotifyRegistration?.Dispose();
        _inotifyRegistration = null;
        Libc.Close(_inotify);
        _inotify = -1;
        _watched.Clear();
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
                WatchDirectoryAndParent(directory);
            }
        }
        bool over = steps.All(_evaluator.IsOver);
        foreach (string step in _evaluator.RunningUpstreams)
        {
            WatchUpstream(step);
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
    public bool Polling => _polling;

    private static TimeSpan? Min(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    private void StartInotify()
    {
        if (_inotify >= 0 || _polling)
        {
            return;
        }
        if (!EnsureInotify())
        {
            FallBackToPolling(_unavailableErrno, "/proc/sys/fs/inotify/max_user_instances");
        }
    }

    /// <summary>
    /// Reads the inotify events and wakes the loop. A watch whose directory was removed, moved away
    /// or unmounted no longer stands for its path and is forgotten; on overflow every watch is
    /// re-armed (adding a watch again on the same directory is harmless).
    /// </summary>
    private void OnInotify()
    {
        byte* buffer = stackalloc byte[4096];
        nint n;
        while ((n = Libc.Read(_inotify, buffer, 4096)) > 0)
        {
            for (nint offset = 0; offset + 16 <= n;)
            {
                int wd = *(int*)(buffer + offset);
                uint mask = *(uint*)(buffer + offset + 4);
                uint nameLength = *(uint*)(buffer + offset + 12);
                offset += 16 + (nint)nameLength;
                if ((mask & Libc.IN_Q_OVERFLOW) != 0)
                {
                    _watched.Clear();
                }
                else if ((mask & (Libc.IN_IGNORED | Libc.IN_DELETE_SELF | Libc.IN_UNMOUNT | Libc.IN_MOVE_SELF)) != 0)
                {
                    foreach (string path in _watched.Where(w => w.Value.Wd == wd).Select(w => w.Key).ToArray())
                    {
                        Forget(path);
                    }
                }
            }
        }
        _reactor.Post(SupervisorEvent.Changed);
    }

    /// <summary>
    /// Watches <paramref name="directory"/> and its parent (or their nearest existing ancestors):
    /// the parent sees the directory itself removed and made again, which the directory's own
    /// watch may not report (DELETE_SELF waits until no open file inside pins it).
    /// </summary>
    private void WatchDirectoryAndParent(string directory)
    {
        // Absolute, so that the walk up from a relative control directory reaches the working directory.
        string full = Path.GetFullPath(directory);
        ForgetIfReplaced(full);
        WatchDirectoryOrAncestor(full, WatchMask);
        if (Path.GetDirectoryName(full) is { } parent)
        {
            ForgetIfReplaced(parent);
            WatchDirectoryOrAncestor(parent, EntryMask);
        }
    }

    /// <summary>
    /// Watches <paramref name="directory"/> (absolute) for <paramref name="mask"/>, or its deepest
    /// existing ancestor for entries only until it appears.
    /// </summary>
    private void WatchDirectoryOrAncestor(string directory, uint mask)
    {
        if (_polling)
        {
            return;
        }
        for (string? d = directory; d is not null; d = Path.GetDirectoryName(d), mask = EntryMask)
        {
            uint already = _watched.TryGetValue(d, out WatchedDirectory existing) ? existing.Mask : 0;
            if ((already & mask) == mask)
            {
                return;
            }
            mask |= already; // one watch per directory: its mask is replaced, so ask for both
            // The identity is taken before the watch: if the path changes in between, the next
            // round sees a mismatch and watches again, never the other way round.
            if (IdentityOf(d) is not { } identity)
            {
                continue;
            }
            int wd = Libc.InotifyAddWatch(_inotify, d, mask);
            if (wd < 0)
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
            _watched[d] = new WatchedDirectory(wd, identity, mask);
            return;
        }
    }

    /// <summary>Forgets the watch on <paramref name="path"/> when the path now names another directory, or nothing.</summary>
    private void ForgetIfReplaced(string path)
    {
        if (_watched.TryGetValue(path, out WatchedDirectory watched) && IdentityOf(path) != watched.Identity)
        {
            Forget(path);
        }
    }

    private void Forget(string path)
    {
        if (!_watched.Remove(path, out WatchedDirectory watched))
        {
            return;
        }
        if (!_watched.Values.Any(w => w.Wd == watched.Wd))
        {
            // Already gone when the kernel dropped it (EINVAL): nothing to undo.
            Libc.InotifyRmWatch(_inotify, watched.Wd);
        }
    }

    /// <summary>Device and inode of the directory <paramref name="path"/> names (links followed, as inotify does), or null.</summary>
    private static (uint Major, uint Minor, ulong Inode)? IdentityOf(string path)
    {
        StatX st;
        return Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_INO | Libc.STATX_TYPE, &st) == 0 && st.Kind == FileType.Directory
            ? (st.DevMajor, st.DevMinor, st.Inode)
            : null;
    }

    private readonly record struct WatchedDirectory(int Wd, (uint Major, uint Minor, ulong Inode) Identity, uint Mask);

    private void FallBackToPolling(Errno errno, string limit)
    {
        _polling = true;
        Log.Polling(_logger, Libc.Describe(errno), limit);
    }

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

    /// <summary>
    /// Whether <paramref name="step"/> was seen running and is watched through its FIFO or lock —
    /// or its FIFO has just spoken: the next look settles it (over, or still running and then
    /// watched through its lock), with no directory watch in between.
    /// </summary>
    private bool WatchedAsUpstream(string step) =>
        _lockWatchers.Contains(step) || _aliveWatched.Contains(step) || _aliveSpent.Contains(step);

    /// <summary>
    /// Wakes the loop when running upstream <paramref name="step"/> is over: through its alive FIFO
    /// while that has said nothing yet, otherwise through its lock.
    /// </summary>
    private void WatchUpstream(string step)
    {
        if (_lockWatchers.Contains(step) || _aliveWatched.Contains(step))
        {
            return;
        }
        if (!_aliveSpent.Contains(step) && WatchAlive(step))
        {
            return;
        }
        WatchLock(step);
    }

    /// <summary>
    /// The upstream's alive FIFO, opened for reading in the reactor's epoll set: its emissary holds
    /// the only writer, so the hangup comes straight into this loop when it lets go or dies — no
    /// thread, one wake-up. Used once per upstream: after any event (the hangup, or bytes a
    /// misbehaving upstream wrote) it is closed, and if the step still runs the lock takes over,
    /// so a writer that never stops cannot keep this loop busy.
    /// </summary>
    private bool WatchAlive(string step)
    {
        if (_controlDirectory?.OpenAlive(step) is not { } fd)
        {
            _aliveSpent.Add(step);
            return false;
        }
        _aliveFds.Add(fd);
        _aliveWatched.Add(step);
        IDisposable? registration = null;
        registration = _reactor.Watch(fd.Fd, Libc.EPOLLIN, _ =>
        {
            registration?.Dispose();
            fd.Dispose();
            _aliveWatched.Remove(step);
            _aliveSpent.Add(step);
            _reactor.Post(SupervisorEvent.Changed);
        });
        _registrations.Add(registration);
        // The kernel reports a hangup only to a reader that saw a writer. The upstream lets go of
        // its lock before its FIFO: a lock still held now means the FIFO was held when it was
        // opened above, and the hangup will come; a free lock means it may already have gone.
        if (!_controlDirectory.IsLockHeld(step))
        {
            _reactor.Post(SupervisorEvent.Changed);
        }
        return true;
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
        // Opened here, type-checked and without blocking; only the flock waits, on its own thread.
        SafeFd? lockFd = _controlDirectory.OpenLock(step);
        int wake = _wakeWrite;
        var thread = new Thread(() =>
        {
            if (lockFd is not null)
            {
                while (Libc.Flock(lockFd.Fd, Libc.LOCK_SH) != 0 && Libc.LastErrno == Errno.EINTR)
                {
                }
                lockFd.Dispose();
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
        Descriptors.Drain(fd);
        _reactor.Post(SupervisorEvent.Changed);
    }

    public void Dispose()
    {
        StopInotify();
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (SafeFd fd in _aliveFds)
        {
            fd.Dispose();
        }
        foreach (int fd in _fds)
        {
            Libc.Close(fd);
        }
        // _wakeWrite stays open: a lock watcher thread may still write to it. It is CLOEXEC.
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

        public static void Polling(ILogger logger, string reason, string limit)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"inotify unavailable ({reason}): checking gates every 100 ms instead; raise {limit} to restore event-driven waiting");
            }
        }
    }
}
