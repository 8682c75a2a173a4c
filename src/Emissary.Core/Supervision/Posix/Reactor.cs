using Emissary.Events;
using Emissary.Interop;

namespace Emissary.Supervision.Posix;

/// <summary>
/// The one event loop of a supervising emissary: an epoll set holding a signalfd for every
/// signal the shim blocked (so nothing is delivered asynchronously, nothing is polled), plus any
/// descriptor a gate or an output pump registers. Single-threaded by design.
///
/// Overview of reaping: SIGCHLD arrives through the signalfd; signalfd coalesces, so each
/// SIGCHLD reaps with waitpid(-1, WNOHANG) until nothing is left. That reaps the main child and
/// every orphan re-parented to us (PID 1 or child subreaper) without a 1 s sleep between zombies
/// (Argo's reap loop had one).
/// </summary>
internal sealed unsafe class Reactor : IEventLoop, IDisposable
{
    private const ulong SignalToken = ulong.MaxValue;
    private const ulong FaultSignalToken = ulong.MaxValue - 1;

    private readonly int _epoll;
    private readonly int _signalFd;
    private readonly int _faultSignalFd = -1;
    private readonly int _ownPid = Libc.GetPid();
    private readonly Queue<SupervisorEvent> _pending = new();
    private readonly Dictionary<ulong, Action<uint>> _handlers = new();
    private ulong _nextToken;

    public Reactor()
    {
        SigSet supervised;
        Shim.Supervised(&supervised);
        _signalFd = Libc.SignalFd(-1, &supervised, Libc.SFD_CLOEXEC | Libc.SFD_NONBLOCK);
        if (_signalFd < 0)
        {
            throw new SystemCallException("signalfd", Libc.LastErrno);
        }
        _epoll = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw new SystemCallException("epoll_create1", Libc.LastErrno);
        }
        Add(_signalFd, Libc.EPOLLIN, SignalToken);
        // The fault signals (SEGV, ...) cannot be blocked for the signalfd without breaking the
        // runtime's handling of real faults: the shim catches the ones sent with kill(2) instead.
        _faultSignalFd = ForwardFaultSignals();
        if (_faultSignalFd >= 0)
        {
            Add(_faultSignalFd, Libc.EPOLLIN, FaultSignalToken);
        }
    }

    private static int ForwardFaultSignals()
    {
        try
        {
            // One process-wide handler set: a second Reactor (emissary-tools' local runner) keeps
            // the first one's pipe, and the shim says EBUSY.
            return Shim.ForwardFaults();
        }
        catch (DllNotFoundException)
        {
            return -1; // the JIT (unit tests, dotnet run): no shim
        }
    }

    /// <summary>Calls <paramref name="onReady"/> with the epoll event bits whenever <paramref name="fd"/> is ready.</summary>
    public IDisposable Watch(int fd, uint events, Action<uint> onReady)
    {
        ulong token = _nextToken++;
        _handlers[token] = onReady;
        Add(fd, events, token);
        return new Registration(this, fd, token);
    }

    /// <summary>Queues an event produced by a watcher, to be returned by <see cref="Next"/>.</summary>
    public void Post(SupervisorEvent e) => _pending.Enqueue(e);

    public SupervisorEvent Next(TimeSpan? timeout)
    {
        long deadline = timeout is { } t ? Environment.TickCount64 + (long)Math.Ceiling(t.TotalMilliseconds) : long.MaxValue;
        const int Capacity = 16;
        EpollEvent* ready = stackalloc EpollEvent[Capacity];
        while (_pending.Count == 0)
        {
            int waitMs = deadline == long.MaxValue ? -1 : (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);
            int n = Libc.EpollWait(_epoll, ready, Capacity, waitMs);
            if (n < 0)
            {
                Errno errno = Libc.LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                throw new SystemCallException("epoll_wait", errno);
            }
            // Checked even when descriptors were ready: a writer that never stops (another
            // container spamming a FIFO) must not hold off a timeout.
            if (_pending.Count == 0 && deadline != long.MaxValue && Environment.TickCount64 >= deadline)
            {
                return SupervisorEvent.Deadline;
            }
            for (int i = 0; i < n; i++)
            {
                if (ready[i].Data == SignalToken)
                {
                    DrainSignals();
                }
                else if (ready[i].Data == FaultSignalToken)
                {
                    DrainFaultSignals();
                }
                else if (_handlers.TryGetValue(ready[i].Data, out Action<uint>? handler))
                {
                    handler(ready[i].Events);
                }
            }
        }
        return _pending.Dequeue();
    }

    private void DrainSignals()
    {
        SignalFdSigInfo info;
        while (Libc.Read(_signalFd, &info, (nuint)sizeof(SignalFdSigInfo)) == sizeof(SignalFdSigInfo))
        {
            int signal = (int)info.ssi_signo;
            if (signal == Signals.CHLD)
            {
                ReapAll();
            }
            else if (signal == Signals.PIPE && info.ssi_pid == _ownPid)
            {
                // Raised by our own write to a closed pipe (the shim keeps PIPE blocked, so the
                // kernel queues it instead of discarding it): not meant for the child.
                continue;
            }
            else
            {
                _pending.Enqueue(new SupervisorEvent.SignalReceived(signal, (int)info.ssi_pid));
            }
        }
    }

    private void DrainFaultSignals()
    {
        int* record = stackalloc int[2];
        while (Libc.Read(_faultSignalFd, record, 2 * sizeof(int)) == 2 * sizeof(int))
        {
            _pending.Enqueue(new SupervisorEvent.SignalReceived(record[0], record[1]));
        }
    }

    private void ReapAll()
    {
        while (true)
        {
            int status;
            int pid = Libc.WaitPid(-1, &status, Libc.WNOHANG);
            if (pid > 0)
            {
                _pending.Enqueue(new SupervisorEvent.ChildExited(pid, ExitStatus.FromWaitStatus(status)));
                continue;
            }
            if (pid < 0 && Libc.LastErrno == Errno.EINTR)
            {
                continue;
            }
            return; // 0: children left but none exited; ECHILD: no children at all.
        }
    }

    private void Add(int fd, uint events, ulong token)
    {
        var ev = new EpollEvent { Events = events, Data = token };
        if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, fd, &ev) < 0)
        {
            throw new SystemCallException("epoll_ctl", Libc.LastErrno);
        }
    }

    public void Dispose()
    {
        Libc.Close(_signalFd);
        Libc.Close(_epoll);
        // The fault pipe stays open: the shim's handler keeps writing to it for the process's life.
    }

    private sealed class Registration(Reactor reactor, int fd, ulong token) : IDisposable
    {
        public void Dispose()
        {
            if (reactor._handlers.Remove(token))
            {
                Libc.EpollCtl(reactor._epoll, Libc.EPOLL_CTL_DEL, fd, null);
            }
        }
    }
}
