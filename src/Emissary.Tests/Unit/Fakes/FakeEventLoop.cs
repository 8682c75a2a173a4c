using Emissary.Events;
using Emissary.Interop;

namespace Emissary.Tests.Unit.Fakes;

/// <summary>
/// An event loop that plays a script: events posted by watchers come first, then each wait takes
/// the next scripted step, which may change the world (and the fake clock) before answering.
/// Registered descriptors are counted, and read only when a step asks what would wake the real loop
/// (<see cref="WakeFromReadyDescriptors"/>).
/// </summary>
internal sealed class FakeEventLoop : IEventLoop
{
    private readonly Queue<SupervisorEvent> _posted = new();
    private readonly Queue<Func<TimeSpan?, SupervisorEvent>> _script = new();

    /// <summary>The timeout of every wait that reached the script.</summary>
    public List<TimeSpan?> Waits { get; } = [];

    /// <summary>Descriptors registered and not yet released.</summary>
    public int Watching { get; private set; }

    public FakeEventLoop Then(Func<TimeSpan?, SupervisorEvent> step)
    {
        _script.Enqueue(step);
        return this;
    }

    public FakeEventLoop Then(SupervisorEvent e) => Then(_ => e);

    public IDisposable Watch(int fd, uint events, Action<uint> onReady)
    {
        Watching++;
        var registration = new Registration(this, fd, onReady);
        _registrations.Add(registration);
        return registration;
    }

    private readonly List<Registration> _registrations = [];

    /// <summary>
    /// What the real loop would do now: runs the callback of every registered descriptor that is
    /// ready (asked with a zero-timeout poll) and returns the first event they post. Throws when
    /// none is ready: a real loop would sleep, and nothing armed would ever wake it.
    /// </summary>
    public SupervisorEvent WakeFromReadyDescriptors()
    {
        foreach (Registration registration in _registrations.Where(r => !r.Disposed).ToArray())
        {
            if (Libc.PollOne(registration.Fd, Libc.POLLIN, 0))
            {
                registration.OnReady(Libc.EPOLLIN);
            }
        }
        return _posted.TryDequeue(out SupervisorEvent? posted) ? posted
            : throw new InvalidOperationException("no armed descriptor is ready: the real loop would sleep through this change");
    }

    public void Post(SupervisorEvent e) => _posted.Enqueue(e);

    public SupervisorEvent Next(TimeSpan? timeout)
    {
        if (_posted.TryDequeue(out SupervisorEvent? posted))
        {
            return posted;
        }
        Waits.Add(timeout);
        if (_script.Count == 0)
        {
            throw new InvalidOperationException("the loop waited for an event the script does not have (it would hang)");
        }
        return _script.Dequeue()(timeout);
    }

    private sealed class Registration(FakeEventLoop loop, int fd, Action<uint> onReady) : IDisposable
    {
        private bool _disposed;

        public int Fd => fd;

        public Action<uint> OnReady => onReady;

        public bool Disposed => _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                loop.Watching--;
            }
        }
    }
}
