using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>One line of `--events FILE`: a state change of a step.</summary>
internal sealed record StepEvent(DateTimeOffset Time, string Step, StepState State, int? ExitCode, string? Reason, string? Message)
{
    /// <summary>On a step's final event: what it cost (status.json's "usage").</summary>
    public StepUsage? Usage { get; init; }
}
