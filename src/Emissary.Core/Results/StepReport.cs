namespace Emissary.Results;

/// <summary>How a step ended, as the termination message reports it.</summary>
/// <param name="Name">The step name (<c>--name</c>, or the command's file name).</param>
/// <param name="ExitCode">emissary's exit code for the step (0-255: the command's own code, 128+S for a signal, 122-127 for emissary's outcomes; see ExitCodes).</param>
/// <param name="Reason">One of <see cref="StepReasons"/>.</param>
/// <param name="StartedAt">When the command started (after the gates opened).</param>
/// <param name="FinishedAt">When the step ended.</param>
internal sealed record StepReport(string Name, int ExitCode, string Reason, DateTimeOffset StartedAt, DateTimeOffset FinishedAt)
{
    /// <summary>What the step cost; in the emissary format only, and the first thing left out when the budget is short.</summary>
    public Control.StepUsage? Usage { get; init; }

    /// <summary>The step's last pause and how it was resumed (<c>--breakpoint</c>, <c>emissary debug</c>), or null.</summary>
    public Control.StepPause? Pause { get; init; }

    /// <summary>Attempts in place (<c>emissary debug rerun</c>); 0 when never rerun.</summary>
    public int Attempts { get; init; }

    // By reference, and printed without its times, as Control.StepStatus is, for the same reason:
    // the record's own members format DateTimeOffset, which keeps the time-zone code in the binary.

    /// <summary>By reference (see above).</summary>
    public bool Equals(StepReport? other) => ReferenceEquals(this, other);

    /// <summary>By reference (see above).</summary>
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);

    /// <summary>The step and its outcome, for messages.</summary>
    public override string ToString() => Name + ": " + Reason + ", exit code " + ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>The values of <see cref="StepReport.Reason"/>.</summary>
internal static class StepReasons
{
    /// <summary>The command ran and exited 0.</summary>
    public const string Completed = "Completed";

    /// <summary>The command failed, could not start, or emissary itself failed.</summary>
    public const string Error = "Error";

    /// <summary>The step did not run because an upstream step failed.</summary>
    public const string Skipped = "Skipped";

    /// <summary>
    /// <c>--timeout</c> expired. The same word Tekton's entrypoint writes, which Tekton's
    /// controller turns into "exited because the step exceeded the specified timeout limit".
    /// </summary>
    public const string TimeoutExceeded = "TimeoutExceeded";

    /// <summary>The step was stopped by a signal request or a signal to emissary.</summary>
    public const string Stopped = "Stopped";

    /// <summary>The results did not fit the termination message budget and were left out.</summary>
    public const string ResultsTooLarge = "ResultsTooLarge";
}

/// <summary>A named result of a step: the bytes of a file in the results directory, or captured stdout.</summary>
internal sealed record Result(string Name, byte[] Value);

/// <summary>The shape of the termination message.</summary>
internal enum TerminationFormat
{
    /// <summary>emissary's own JSON object for the termination message (the "emissary" format).</summary>
    Emissary,

    /// <summary>Tekton's array of <c>{"key","value","type"}</c> entries, for Tekton's controller.</summary>
    Tekton,
}
