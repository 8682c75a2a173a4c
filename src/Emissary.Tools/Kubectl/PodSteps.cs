using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Json;

namespace Emissary.Tools.Kubectl;

/// <summary>A container's state as the pod's status reports it (core/v1 ContainerState).</summary>
internal enum ContainerPhase
{
    /// <summary>No status yet (the pod is not scheduled, or the init containers still run).</summary>
    Unknown,
    Waiting,
    Running,
    Terminated,
}

/// <summary>What the kubelet says of one container: its state and, once ended, how.</summary>
internal sealed record ContainerReport
{
    public ContainerPhase Phase { get; init; }

    /// <summary>Waiting: why (ContainerCreating, PodInitializing, ...); terminated: the kubelet's reason.</summary>
    public string? Reason { get; init; }

    public int? ExitCode { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The termination message (emissary's JSON object, written by the step's own container).</summary>
    public string? Message { get; init; }
}

/// <summary>
/// A container of the pod that runs an <c>emissary run --name STEP</c>: which step, where its
/// binary is (the command's first word: <c>/var/run/emissary-bin/emissary</c> in every pod
/// <c>rewrite</c> or the webhook wires, whether by init container or image volume), the control
/// directory it names (null: the default, or its <c>EMISSARY_CONTROL_DIR</c>, which a
/// <c>kubectl exec</c> in that container inherits), and the steps it comes after.
/// </summary>
internal sealed record PodStep
{
    public required string Container { get; init; }

    public required string Step { get; init; }

    public required string Binary { get; init; }

    public string? ControlDirectory { get; init; }

    /// <summary><c>--after</c> and <c>--stdin-from</c>: the edges of the graph into this step.</summary>
    public IReadOnlyList<string> Upstreams { get; init; } = [];

    /// <summary><c>--sidecar-of</c>: the steps this sidecar lives as long as.</summary>
    public IReadOnlyList<string> SidecarOf { get; init; } = [];

    public ContainerReport Report { get; init; } = new();
}

/// <summary>A pod as <c>kubectl get pod POD -o json</c> prints it, reduced to its emissary steps, in the pod's order.</summary>
internal sealed record PodSteps(string Name, string? Namespace, string? Phase, IReadOnlyList<PodStep> Steps)
{
    /// <summary>
    /// Reads the pod. Throws <see cref="FormatException"/> when the text is not a Pod object. The
    /// containers are read in the pod's order: init containers first (native sidecars among them),
    /// then the rest; a container is a step when its command (and args) is
    /// <c>/PATH/emissary run ... --name STEP</c> (or names the step in <c>EMISSARY_NAME</c>).
    /// </summary>
    public static PodSteps Parse(string json)
    {
        JsonValue pod = JsonValue.Parse(json);
        if (pod.Kind != JsonKind.Object || Text(pod, "kind") != "Pod" || !pod.TryGetProperty("metadata", out JsonValue metadata) || metadata.Kind != JsonKind.Object)
        {
            throw new FormatException("not a Pod object");
        }
        JsonValue? spec = Member(pod, "spec");
        JsonValue? status = Member(pod, "status");
        var reports = new Dictionary<string, ContainerReport>(StringComparer.Ordinal);
        foreach (string list in new[] { "initContainerStatuses", "containerStatuses" })
        {
            foreach (JsonValue entry in Items(status, list))
            {
                if (Text(entry, "name") is { } name)
                {
                    reports.TryAdd(name, ReadReport(entry));
                }
            }
        }
        var steps = new List<PodStep>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string list in new[] { "initContainers", "containers" })
        {
            foreach (JsonValue container in Items(spec, list))
            {
                if (ReadStep(container) is { } step && seen.Add(step.Step))
                {
                    steps.Add(step with { Report = reports.GetValueOrDefault(step.Container) ?? new ContainerReport() });
                }
            }
        }
        return new PodSteps(Text(metadata, "name") ?? "", Text(metadata, "namespace"), Text(status, "phase"), steps);
    }

    /// <summary>The step named <paramref name="name"/>, else null.</summary>
    public PodStep? Find(string name) => Steps.FirstOrDefault(s => s.Step == name);

    private static PodStep? ReadStep(JsonValue container)
    {
        if (Text(container, "name") is not { } containerName)
        {
            return null;
        }
        List<string> argv = [.. Strings(container, "command"), .. Strings(container, "args")];
        if (argv.Count < 2 || argv[1] != "run" || !argv[0].StartsWith('/') || !argv[0].EndsWith("/emissary", StringComparison.Ordinal))
        {
            return null;
        }
        string? name = null, controlDirectory = null;
        var upstreams = new List<string>();
        var sidecarOf = new List<string>();
        foreach (GivenOption given in RunArgumentReader.Read(argv, 2, out _))
        {
            if (given.Option == RunCli.Name)
            {
                name = given.Value;
            }
            else if (given.Option == RunCli.ControlDir)
            {
                controlDirectory = given.Value;
            }
            else if (given.Option == RunCli.After || given.Option == RunCli.StdinFrom)
            {
                upstreams.AddRange(List(given.Value));
            }
            else if (given.Option == RunCli.SidecarOf)
            {
                sidecarOf.AddRange(List(given.Value));
            }
        }
        name ??= Environment(container, "EMISSARY_NAME");
        if (name is null || !Control.ControlDirectory.IsValidName(name))
        {
            return null; // a plain `emissary run` (tini): no record to read
        }
        return new PodStep
        {
            Container = containerName,
            Step = name,
            Binary = argv[0],
            ControlDirectory = controlDirectory,
            Upstreams = upstreams.Distinct(StringComparer.Ordinal).ToArray(),
            SidecarOf = sidecarOf.Distinct(StringComparer.Ordinal).ToArray(),
        };
    }

    private static ContainerReport ReadReport(JsonValue entry)
    {
        JsonValue? state = Member(entry, "state");
        if (Member(state, "terminated") is { } ended)
        {
            return new ContainerReport
            {
                Phase = ContainerPhase.Terminated,
                Reason = Text(ended, "reason"),
                ExitCode = Member(ended, "exitCode") is { } code && code.TryGetInt32(out int c) ? c : null,
                StartedAt = Time(ended, "startedAt"),
                FinishedAt = Time(ended, "finishedAt"),
                Message = Text(ended, "message"),
            };
        }
        if (Member(state, "running") is { } running)
        {
            return new ContainerReport { Phase = ContainerPhase.Running, StartedAt = Time(running, "startedAt") };
        }
        if (Member(state, "waiting") is { } waiting)
        {
            return new ContainerReport { Phase = ContainerPhase.Waiting, Reason = Text(waiting, "reason") };
        }
        return new ContainerReport();
    }

    private static IEnumerable<string> List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string? Environment(JsonValue container, string variable) =>
        Items(container, "env").Where(e => Text(e, "name") == variable).Select(e => Text(e, "value")).FirstOrDefault(v => !string.IsNullOrEmpty(v));

    internal static JsonValue? Member(JsonValue? value, string name) =>
        value is { Kind: JsonKind.Object } o && o.TryGetProperty(name, out JsonValue member) && member.Kind != JsonKind.Null ? member : null;

    internal static string? Text(JsonValue? value, string name) => Member(value, name) is { Kind: JsonKind.String } s ? s.GetString() : null;

    internal static DateTimeOffset? Time(JsonValue? value, string name) => Rfc3339.TryParse(Text(value, name), out DateTimeOffset t) ? t : null;

    internal static IEnumerable<JsonValue> Items(JsonValue? value, string name) => Member(value, name) is { Kind: JsonKind.Array } a ? a.Items : [];

    private static IEnumerable<string> Strings(JsonValue container, string name) =>
        Items(container, name).Select(i => i.Kind == JsonKind.String ? i.GetString() ?? "" : "");
}
