using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>One line of `--events FILE`: a state change of a step.</summary>
internal sealed record StepEvent(DateTimeOffset Time, string Step, StepState State, int? ExitCode, string? Reason, string? Message);
