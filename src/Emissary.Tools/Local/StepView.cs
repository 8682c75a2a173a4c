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

    /// <summary>
    /// The pauses seen while following the step, in order: from the pause's own start to when
    /// the step was seen going on (null while paused). status.json keeps only the last pause.
    /// </summary>
    public List<(DateTimeOffset From, DateTimeOffset? To)> Pauses { get; } = [];

    /// <summary>When each run that ended <c>restarting</c> ended (the runs before the one <see cref="Status"/> records): local restarted the step then.</summary>
    public List<DateTimeOffset> Restarts { get; } = [];

    /// <summary>Results from the step's termination message (DIR/NAME/termination.json).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Results { get; set; } = [];

    /// <summary>The step's emissary process; 0 once reaped.</summary>
    public int Pid { get; set; }

    public int? ProcessExitCode { get; set; }

    public bool Succeeded => State == StepState.Succeeded;

    public bool Final => State?.IsFinal() == true || ProcessExitCode is not null;
}
