namespace Emissary.Foundation;

// Time as the run loop and the gate waiter see it: one seam, so that unit tests drive both with a
// fake clock. Here, below every layer that reads time, so that none of them depends on another for it.

/// <summary>Monotonic time, for deadlines.</summary>
internal interface IClock
{
    TimeSpan Elapsed { get; }

    DateTimeOffset UtcNow { get; }
}

internal sealed class SystemClock : IClock
{
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();

    public TimeSpan Elapsed => System.Diagnostics.Stopwatch.GetElapsedTime(_start);

    public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;
}
