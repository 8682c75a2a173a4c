using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>What `emissary local` shows and reports of one step.</summary>
internal sealed class StepView(string name, bool isSidecar)
{
    public string Name { get; } = name;

    public bool IsSidecar { get; } = isSidecar;

    /// <summary>pending (not registered yet), then the states of status.json.</summary>
    public string State { get; set; } = "pending";

    public StepStatus? Status { get; set; }

    /// <summary>Results from the step's termination message (DIR/NAME/termination.json).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Results { get; set; } = [];

    /// <summary>The step's emissary process; 0 once reaped.</summary>
    public int Pid { get; set; }

    public int? ProcessExitCode { get; set; }

    public bool Succeeded => State == StepStates.Succeeded;

    public bool Final => StepStates.IsFinal(State) || ProcessExitCode is not null;
}
