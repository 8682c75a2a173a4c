using Emissary.Foundation;

namespace Emissary.Events;

/// <summary>Something the run loop reacts to: what the event loop delivers.</summary>
internal abstract record SupervisorEvent
{
    /// <summary>A signal was sent to emissary; <paramref name="SenderPid"/> is 0 when unknown.</summary>
    public sealed record SignalReceived(int Signal, int SenderPid) : SupervisorEvent
    {
        /// <summary>Sender of a request made with `emissary signal` through the control directory.</summary>
        public const int ViaControlDirectory = -1;
    }

    /// <summary>A child was reaped: the main child or an orphan re-parented to us.</summary>
    public sealed record ChildExited(int Pid, ExitStatus Status) : SupervisorEvent;

    /// <summary>The timeout passed to <see cref="ISupervisorEvents.Next"/> ran out.</summary>
    public sealed record DeadlineReached : SupervisorEvent;

    /// <summary>A watcher (inotify, a FIFO, a lock) saw something change: re-evaluate what we wait for.</summary>
    public sealed record Wakeup : SupervisorEvent;

    public static readonly DeadlineReached Deadline = new();

    public static readonly Wakeup Changed = new();
}

/// <summary>The kernel events the run loop waits on: signals and reaped children.</summary>
internal interface ISupervisorEvents
{
    /// <summary>Blocks until the next event, or until <paramref name="timeout"/> (null: forever).</summary>
    SupervisorEvent Next(TimeSpan? timeout);
}

/// <summary>
/// The one event loop of an emissary as the layers above the operating system see it: descriptors
/// registered for readiness, events posted by watchers, and <see cref="ISupervisorEvents.Next"/>.
/// Gates, the control directory and output capture register with it; only the composition root
/// knows which implementation runs (epoll and signalfd in the pod, fakes in the tests).
/// </summary>
internal interface IEventLoop : ISupervisorEvents
{
    /// <summary>
    /// Calls <paramref name="onReady"/> with the readiness bits (epoll's EPOLLIN, EPOLLOUT, ...)
    /// whenever <paramref name="fd"/> is ready; disposing the result stops watching.
    /// </summary>
    IDisposable Watch(int fd, uint events, Action<uint> onReady);

    /// <summary>Queues an event produced by a watcher, to be returned by <see cref="ISupervisorEvents.Next"/>.</summary>
    void Post(SupervisorEvent e);
}

/// <summary>Waits built on <see cref="ISupervisorEvents"/>.</summary>
internal static class EventWaits
{
    /// <summary>
    /// Lets <paramref name="delay"/> pass on the event loop (children are still reaped, other
    /// signals taken), unless a terminating signal comes first: returns that signal, or null when
    /// the delay ran out.
    /// </summary>
    public static int? SleepUnlessTerminated(this ISupervisorEvents events, IClock clock, TimeSpan delay)
    {
        TimeSpan until = clock.Elapsed + delay;
        while (clock.Elapsed < until)
        {
            switch (events.Next(until - clock.Elapsed))
            {
                case SupervisorEvent.SignalReceived s when Signals.IsTerminating(s.Signal):
                    return s.Signal;
                case SupervisorEvent.DeadlineReached:
                    return null;
            }
        }
        return null;
    }
}
