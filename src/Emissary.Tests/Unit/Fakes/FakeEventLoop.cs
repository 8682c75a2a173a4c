using Emissary.Events;

namespace Emissary.Tests.Unit.Fakes;

/// <summary>
/// An event loop that plays a script: events posted by watchers come first, then each wait takes
/// the next scripted step, which may change the world (and the fake clock) before answering.
/// Registered descriptors are only counted: nothing reads them.
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
        return new Registration(this);
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

    private sealed class Registration(FakeEventLoop loop) : IDisposable
    {
        private bool _disposed;

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
