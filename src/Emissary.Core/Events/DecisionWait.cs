using Emissary.Foundation;

namespace Emissary.Events;

/// <summary>How a <see cref="DecisionWait"/> ended.</summary>
internal enum DecisionEnd
{
    /// <summary>The condition held (a decision, or whatever the caller waits for, is there).</summary>
    Decided,

    /// <summary>The limit passed first.</summary>
    TimedOut,

    /// <summary>A terminating signal came first: the pod is going away.</summary>
    Signalled,
}

/// <summary>
/// The one wait for a decision that someone outside the step makes, shared by <c>run</c>'s pauses
/// (StepRunner.Pause: a word on the signal FIFO) and the Tekton drop-in's breakpoints and file
/// waits (TektonWaiter: a file appearing, as <c>-debug_before_step</c>,
/// <c>-breakpoint_on_failure</c> and <c>-wait_file</c> are told). The protocols differ in how a
/// decision arrives, not in how it is waited for: in the step's event loop, with no polling of
/// its own (the caller's watcher posts a wake-up when something may have changed), asking
/// <c>decided</c> first and after every event, until it holds, a terminating signal comes (the
/// caller ends as signalled: 128+S) or the <c>limit</c>, if any, passes.
/// </summary>
internal static class DecisionWait
{
    /// <param name="decided">Whether the decision is there; called before every wait, so it may re-arm its watch first.</param>
    /// <param name="limit">How long to wait at most (null: until a decision or a signal).</param>
    /// <param name="signal">The terminating signal, when <see cref="DecisionEnd.Signalled"/>.</param>
    /// <param name="recheck">How long to sleep before asking again when no watcher can wake the loop (null: until an event).</param>
    public static DecisionEnd Await(ISupervisorEvents events, IClock clock, Func<bool> decided, TimeSpan? limit, out int signal, Func<TimeSpan?>? recheck = null)
    {
        signal = 0;
        TimeSpan? until = clock.Elapsed + limit;
        while (true)
        {
            if (decided())
            {
                return DecisionEnd.Decided;
            }
            TimeSpan? left = until - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return DecisionEnd.TimedOut;
            }
            TimeSpan? wait = recheck?.Invoke() is { } again && (left is null || again < left) ? again : left;
            if (events.Next(wait) is SupervisorEvent.SignalReceived s && Signals.IsTerminating(s.Signal))
            {
                signal = s.Signal;
                return DecisionEnd.Signalled;
            }
        }
    }
}
