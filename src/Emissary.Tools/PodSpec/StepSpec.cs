using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>What a container is in the pod's step graph.</summary>
internal enum StepRole
{
    /// <summary>A step: it runs once its gates open, and others may wait for it to end.</summary>
    Step,

    /// <summary>Runs alongside the steps and is stopped once they are all over (<c>sidecar: true</c>).</summary>
    Sidecar,
}

/// <summary>What a failed step means for the steps after it (<c>onError</c>, <c>--on-error</c>).</summary>
internal enum OnErrorPolicy
{
    StopAndFail,
    Continue,
}

/// <summary>An injected proxy a step waits for (ready) and tells to quit (<c>--wait-proxy</c>, <c>--quit</c>).</summary>
internal enum ProxyKind
{
    None,
    Istio,
    Linkerd,
}

/// <summary>A literal <c>env</c> entry: name and value.</summary>
internal sealed record EnvVar(string Name, string Value);

/// <summary>
/// One container of a pod as a step of its graph, with the emissary settings declared for it
/// (container fields, <c>emissary.dev/</c> annotations, or an already rewritten command).
/// Null means "not set": <c>emissary run</c>'s default applies.
/// </summary>
internal sealed record StepSpec
{
    /// <summary>The container's name, which is the step's name.</summary>
    public required string Name { get; init; }

    public string? Image { get; init; }

    /// <summary>
    /// The full argv the container runs, as a pod spec would write it: <c>command</c> + <c>args</c>,
    /// or the image's entrypoint and cmd (from <c>--entrypoints</c>) where <c>command</c> is not set.
    /// Kubernetes <c>$(VAR)</c> references are not expanded; text taken from the image has every
    /// <c>$</c> doubled so that Kubernetes' expansion leaves it as it was. Null when the image's
    /// entrypoint is needed and unknown.
    /// </summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>The literal <c>env</c> entries (name and value), in order.</summary>
    public IReadOnlyList<EnvVar> Env { get; init; } = [];

    /// <summary>Names of the <c>env</c> entries whose value comes from <c>valueFrom</c> (a secret, a field, ...).</summary>
    public IReadOnlyList<string> EnvValueFrom { get; init; } = [];

    public string? WorkingDir { get; init; }

    /// <summary>The container's <c>terminationMessagePath</c> when it is not the default /dev/termination-log.</summary>
    public string? TerminationMessagePath { get; init; }

    public StepRole Role { get; init; } = StepRole.Step;

    /// <summary>The steps this one waits for (<c>waitForTermination</c>, <c>--after</c>), in the pod's container order.</summary>
    public IReadOnlyList<string> Gates { get; init; } = [];

    /// <summary>
    /// The steps whose records this one's command reads while they run, without waiting for them
    /// (<c>observes</c>, <c>--observe</c>): their files, <c>emissary status</c>, <c>emissary signal</c>.
    /// In the pod's container order.
    /// </summary>
    public IReadOnlyList<string> Observes { get; init; } = [];

    public TimeSpan? Timeout { get; init; }

    public int? Retries { get; init; }

    public TimeSpan? RetryDelay { get; init; }

    public OnErrorPolicy? OnError { get; init; }

    public bool WaitForStart { get; init; }

    public bool RunOnUpstreamFailure { get; init; }

    public string? ResultFromStdout { get; init; }

    /// <summary>The step whose stdout is this step's stdin (<c>stdinFrom</c>, <c>--stdin-from</c>).</summary>
    public string? StdinFrom { get; init; }

    /// <summary>The step that reads this step's stdout (derived from the consumer's <c>stdinFrom</c>; <c>--stdout-to</c>).</summary>
    public string? StdoutTo { get; init; }

    /// <summary>The steps whose results its command, args or env take (<c>$(steps.NAME.results.KEY)</c>), in the pod's order.</summary>
    public IReadOnlyList<string> ResultSources { get; init; } = [];

    /// <summary>The signal number a sidecar is stopped with (<c>--stop-signal</c>): emissary's <c>stopSignal</c> field, else the container's <c>lifecycle.stopSignal</c>.</summary>
    public int? StopSignal { get; init; }

    /// <summary>The <c>restartPolicy</c> that applies to the container as written (its own, else the pod's); null when neither says.</summary>
    public string? RestartPolicy { get; init; }

    /// <summary>The container's <c>restartPolicyRules</c> as compact JSON, or null.</summary>
    public string? RestartRules { get; init; }

    public TimeSpan? Grace { get; init; }

    /// <summary>Where the step pauses for <c>emissary debug</c> (<c>breakpoint</c>, <c>--breakpoint</c>); None: nowhere.</summary>
    public Control.PausePoint Breakpoints { get; init; }

    /// <summary>The injected proxy this step waits for and, when it is a final step, tells to quit. None for sidecars.</summary>
    public ProxyKind Proxy { get; init; } = ProxyKind.None;

    /// <summary><c>emissary run</c> flags of an already rewritten command that the fields do not describe (e.g. <c>--wait-file</c>); kept as they are.</summary>
    public IReadOnlyList<string> ExtraRunArguments { get; init; } = [];

    /// <summary>Where the container is, e.g. "spec.containers[2]" (for error lines).</summary>
    public required string Path { get; init; }

    /// <summary>Whether the container is (already) a native sidecar among the init containers.</summary>
    public bool InInitContainers { get; init; }

    /// <summary>The container's node, which the rewriter edits.</summary>
    internal YamlMappingNode? Node { get; init; }

    /// <summary>The nodes of <see cref="Command"/> (the original scalars where there were some, so their style is kept).</summary>
    internal IReadOnlyList<YamlNode>? CommandNodes { get; init; }
}
