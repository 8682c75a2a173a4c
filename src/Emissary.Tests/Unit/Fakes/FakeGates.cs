using Emissary.Control;
using Emissary.Recording;
using Emissary.Gates;
using Emissary.Supervision;

namespace Emissary.Tests.Unit.Fakes;

/// <summary>
/// A gate waiter that returns a fixed outcome, optionally after letting fake time pass, and
/// records what it was asked to wait for. Writes "wait" to the shared journal.
/// </summary>
internal sealed class FakeGateWaiter(GateOutcome outcome, FakeClock? clock = null, TimeSpan? takes = null, List<string>? journal = null) : IGateWaiter
{
    public List<(IReadOnlyList<Gate> Gates, TimeSpan? Timeout, bool UpstreamFailureOpens)> Calls { get; } = [];

    public GateOutcome Wait(IReadOnlyList<Gate> gates, TimeSpan? timeout, bool upstreamFailureOpens)
    {
        Calls.Add((gates, timeout, upstreamFailureOpens));
        journal?.Add("wait");
        if (clock is not null && takes is { } t)
        {
            clock.Advance(t);
        }
        return outcome;
    }
}

/// <summary>Records every call the step runner makes to write markers, in order (also into the shared journal).</summary>
internal sealed class FakeRecorder(List<string>? journal = null) : IStepRecorder
{
    public List<(int Pid, DateTimeOffset StartedAt)> Running { get; } = [];

    public List<StepStatus> Finished { get; } = [];

    /// <summary>What Finish returns instead of the status it was given (as results collection may change it).</summary>
    public Func<StepStatus, StepStatus>? Rewrite { get; set; }

    public List<StepStatus> Paused { get; } = [];

    public void MarkRunning(int pid, DateTimeOffset startedAt, int attempts)
    {
        Running.Add((pid, startedAt));
        journal?.Add(attempts > 0 ? $"running {pid} attempt {attempts}" : $"running {pid}");
    }

    public void MarkPaused(StepStatus paused, IReadOnlyList<string> argv, string? directory, IReadOnlyDictionary<string, string> added)
    {
        Paused.Add(paused);
        journal?.Add($"paused {paused.Pause!.At.Name()} {paused.ExitCode}");
    }

    public StepStatus Finish(StepStatus final)
    {
        Finished.Add(final);
        journal?.Add($"finish {final.State.JsonName()} {final.ExitCode}");
        return Rewrite?.Invoke(final) ?? final;
    }
}

/// <summary>Counts how often the command was started (including starts that threw), and journals them.</summary>
internal sealed class CountingLauncher(IProcessLauncher inner, List<string>? journal = null) : IProcessLauncher
{
    public int Attempts { get; private set; }

    /// <summary>Attempt number (1-based) → exception to throw instead of starting.</summary>
    public Dictionary<int, Exception> FailOnAttempt { get; } = [];

    public int Start(ResolvedCommand command, LaunchSettings settings)
    {
        Attempts++;
        journal?.Add($"start {Attempts}");
        if (FailOnAttempt.TryGetValue(Attempts, out Exception? e))
        {
            throw e;
        }
        return inner.Start(command, settings);
    }

    public bool Signal(int pid, bool toGroup, int signal) => inner.Signal(pid, toGroup, signal);
}
