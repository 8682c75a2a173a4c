using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>What `emissary local` shows and reports of one step.</summary>
internal sealed class StepView(string name, bool isSidecar)
{
    public string Name { get; } = name;

    public bool IsSidecar { get; } = isSidecar;

    /// <summary>pending (not registered yet), then the states of status.json.</summary>
    public StepState? State { get; set; }

    public StepStatus? Status { get; set; }

    /// <summary>Results from the step's termination message (DIR/NAME/termination.json).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Results { get; set; } = [];

    /// <summary>The step's emissary process; 0 once reaped.</summary>
    public int Pid { get; set; }

    public int? ProcessExitCode { get; set; }

    public bool Succeeded => State == StepState.Succeeded;

    public bool Final => State?.IsFinal() == true || ProcessExitCode is not null;
}
