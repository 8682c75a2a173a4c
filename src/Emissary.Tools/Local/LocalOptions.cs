namespace Emissary.Tools.Local;

/// <summary>How `emissary local` reports, whatever runs the steps.</summary>
internal sealed record LocalOptions
{
    /// <summary>Each step's output into DIR/NAME.stdout and .stderr instead of the terminal.</summary>
    public string? OutputDirectory { get; init; }

    public string? EventsFile { get; init; }

    public string? TimelineSvg { get; init; }

    /// <summary>A live, redrawn view (stdout is a terminal) instead of line-by-line progress.</summary>
    public bool Live { get; init; }

    /// <summary>--debug on a terminal: a shell in each step that pauses, then continue, fail or rerun (<see cref="StepDebugger"/>).</summary>
    public bool Debug { get; init; }

    /// <summary>Keep what the run leaves behind: the temporary control directory, or the podman pod and its volumes.</summary>
    public bool KeepControlDirectory { get; init; }
}
