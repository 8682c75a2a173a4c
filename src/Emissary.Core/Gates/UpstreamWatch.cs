using Emissary.Control;
using Emissary.Events;
using Emissary.Interop;

namespace Emissary.Gates;

/// <summary>
/// Wakes the loop when a running upstream is over, without polling: through its alive FIFO, whose
/// hangup comes the moment that emissary lets go or dies, or where there is none (or it has spoken
/// once) through a thread blocked in flock(2) on its lock, which the kernel releases just as surely.
/// </summary>
internal sealed class UpstreamWatch(ControlDirectory? controlDirectory, IEventLoop reactor) : IDisposable
{
    private readonly HashSet<string> _lockWatchers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _aliveWatched = new(StringComparer.Ordinal);
    private readonly HashSet<string> _aliveSpent = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _registrations = [];
    private readonly List<SafeFd> _aliveFds = [];
    private readonly LockWatcher _locks = new(reactor);

    /// <summary>
    /// Wakes the loop when running upstream <paramref name="step"/> is over: through its alive FIFO
    /// while that has said nothing yet, otherwise through its lock.
    /// </summary>
    public void Watch(string step)
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
    /// Forgets how upstream <paramref name="step"/> was watched: it is not running now (restarting,
    /// or a record of an earlier pod incarnation), and its next run, in a restarted container,
    /// makes a new alive FIFO and holds its lock again — watched as a first run is.
    /// </summary>
    public void Forget(string step)
    {
        _aliveSpent.Remove(step);
        _lockWatchers.Remove(step);
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
        if (controlDirectory?.OpenAlive(step) is not { } fd)
        {
            _aliveSpent.Add(step);
            return false;
        }
        _aliveFds.Add(fd);
        _aliveWatched.Add(step);
        IDisposable? registration = null;
        registration = reactor.Watch(fd.Fd, Libc.EPOLLIN, _ =>
        {
            registration?.Dispose();
            fd.Dispose();
            _aliveWatched.Remove(step);
            _aliveSpent.Add(step);
            reactor.Post(SupervisorEvent.Changed);
        });
        _registrations.Add(registration);
        // The kernel reports a hangup only to a reader that saw a writer. The upstream lets go of
        // its lock before its FIFO: a lock still held now means the FIFO was held when it was
        // opened above, and the hangup will come; a free lock means it may already have gone.
        if (!controlDirectory.IsLockHeld(step))
        {
            reactor.Post(SupervisorEvent.Changed);
        }
        return true;
    }

    /// <summary>Through its lock: a thread blocked in flock(2) wakes the loop when the upstream's emissary exits.</summary>
    private void WatchLock(string step)
    {
        if (!_lockWatchers.Add(step) || controlDirectory is null)
        {
            return;
        }
        // Opened here, type-checked and without blocking; only the flock waits, on its own thread.
        _locks.Watch(controlDirectory.OpenLock(step), "lock watcher " + step);
    }

    public void Dispose()
    {
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (SafeFd fd in _aliveFds)
        {
            fd.Dispose();
        }
        _locks.Dispose();
    }
}
