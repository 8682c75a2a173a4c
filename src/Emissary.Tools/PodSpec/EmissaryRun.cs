using Emissary.Cli;

namespace Emissary.Tools.PodSpec;

/// <summary>
/// How a step becomes an <c>emissary run</c> command line: the flags for a <see cref="StepSpec"/>
/// in its <see cref="PodGraph"/> (used by <c>rewrite</c> for pods and by <c>local</c> for local
/// processes), and the reverse, for commands that were rewritten already.
/// </summary>
internal static class EmissaryRun
{
    /// <summary>The emptyDir the init container copies the binary into.</summary>
    public const string BinVolume = "emissary-bin";

    /// <summary>
    /// The emptyDir shared as the control directory: mounted read-write in every wrapped
    /// container, it holds only requests (<c>emissary start|skip</c>) and the steps' mount points.
    /// </summary>
    public const string ControlVolume = "emissary-control";

    /// <summary>
    /// Each step's own emptyDir, <c>emissary-step-NAME</c> (see <see cref="StepVolume"/>), mounted at
    /// <c>ControlDirectory/NAME</c>: read-write in the step's container, read-only in every other
    /// one, so that no other container can write the step's record, whatever its uid.
    /// </summary>
    public const string StepVolumePrefix = "emissary-step-";

    /// <summary>
    /// The size limit of a step's volume (tmpfs, so the limit is the tmpfs size and costs nothing
    /// until used). It must hold any result set that fits the termination message: at most 4096
    /// bytes, and a non-empty result costs at least 8 of them (<c>"a":"x",</c>), so at most 510
    /// result files, each on its own page; with the record (status.json, exitcode, lock,
    /// termination.json and the temporary copies of atomic writes) about 520 pages: 2 MiB with
    /// 4 KiB pages, 33 MiB on a kernel with 64 KiB pages. 1Mi would cut a legal set of 300 one-byte
    /// results short; 64Mi holds every legal set on every page size and still stops a runaway command from
    /// filling the node's memory through its results directory.
    /// </summary>
    public const string StepVolumeSizeLimit = "64Mi";

    public const string BinDirectory = "/var/run/emissary-bin";

    /// <summary>The binary as every wrapped container runs it; a command starting with it and "run" is already rewritten.</summary>
    public const string Binary = BinDirectory + "/emissary";

    /// <summary>Where the control directory is mounted: <c>emissary run</c>'s default, so no --control-dir is needed.</summary>
    public const string ControlDirectory = Control.ControlDirectory.DefaultRoot;

    public const string InitContainerName = "emissary-init";

    /// <summary>Longest volume name: a DNS-1123 label.</summary>
    public const int MaxVolumeName = 63;

    /// <summary>
    /// The name of <paramref name="step"/>'s volume: <c>emissary-step-NAME</c> when that is a valid
    /// volume name (a DNS-1123 label of at most 63 characters); otherwise the name lower-cased,
    /// other characters turned to '-', cut short, plus 8 hex digits of its FNV-1a hash, so that the
    /// same container always gets the same volume (rewriting a rewritten pod changes nothing) and
    /// two names that look alike once cut do not share one.
    /// </summary>
    public static string StepVolume(string step)
    {
        string plain = StepVolumePrefix + step;
        if (plain.Length <= MaxVolumeName && step.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && !step.EndsWith('-'))
        {
            return plain;
        }
        string hash = Fnv1a(step).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
        var cleaned = new string(step.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
        int room = MaxVolumeName - StepVolumePrefix.Length - 1 - hash.Length;
        return StepVolumePrefix + cleaned[..Math.Min(room, cleaned.Length)] + "-" + hash;
    }

    // FNV-1a (32 bits): stable across runs and builds, unlike string.GetHashCode; no crypto library
    // (OpenSSL cannot be loaded by the static binary) for a name that only needs to be stable.
    private static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 16777619;
        }
        return hash;
    }

    /// <summary>Where <paramref name="step"/>'s volume is mounted: its directory in the control directory.</summary>
    public static string StepDirectory(string step) => ControlDirectory + "/" + step;

    /// <summary>The kubelet keeps at most 12 KiB of termination messages per pod, and 4 KiB per container.</summary>
    public const int PodTerminationBudget = 12288;

    public const int ContainerTerminationBudget = Results.TerminationMessage.DefaultBudget;

    /// <summary>
    /// The <c>emissary run</c> settings of <paramref name="step"/> in <paramref name="graph"/>, for
    /// where it runs: what a pod has and <paramref name="host"/> lacks (a mesh proxy, container
    /// paths) is never asked for, rather than written and taken out again.
    /// </summary>
    public static RunArguments ArgumentsFor(StepSpec step, PodGraph graph, StepHost host = StepHost.Kubernetes)
    {
        string? proxy = host.HasMeshProxy() && step.Role == StepRole.Step ? ProxyPreset(step.Proxy) : null;
        return new RunArguments
        {
            Name = host.NamesSteps() ? step.Name : null,
            After = step.Gates,
            Observe = step.Observes,
            WaitStart = step.WaitForStart,
            RunOnUpstreamFailure = step.RunOnUpstreamFailure,
            WaitProxy = proxy,
            SidecarOf = graph.SidecarOf(step),
            StopSignal = step.StopSignal,
            Grace = step.Grace,
            Breakpoints = step.Breakpoints,
            Timeout = step.Timeout,
            Retries = step.Retries,
            RetryDelay = step.RetryDelay,
            ContinueOnError = step.OnError switch
            {
                OnErrorPolicy.Continue => true,
                OnErrorPolicy.StopAndFail => false,
                _ => null,
            },
            ResultFromStdout = step.ResultFromStdout,
            StdinFrom = step.StdinFrom,
            StdoutTo = step.StdoutTo,
            Extra = step.ExtraRunArguments,
            // Only the steps that end last tell the proxy to quit: a step that quit it earlier would
            // cut the network of the steps after it.
            Quit = proxy is not null && graph.IsFinal(step) ? proxy : null,
            // The kubelet mounts the message file where the container says; emissary's default is its default.
            TerminationLog = host.HasContainerPaths() ? step.TerminationMessagePath : null,
            TerminationBudget = graph.TerminationBudget,
            // Never is run's default: said only when it is not. A pod that does not say is Always
            // to the kubelet: the API server writes that default before any admission webhook (ours
            // included) sees the pod, so a rewritten manifest says what the webhook would.
            RestartPolicy = host.RestartsContainers() && step.Role == StepRole.Step && (step.RestartPolicy ?? KubernetesDefaultRestartPolicy) is var policy
                && policy != "Never" ? policy : null,
            RestartRules = host.RestartsContainers() && step.Role == StepRole.Step ? step.RestartRules : null,
        };
    }

    /// <summary>What the API server makes of a pod spec without <c>restartPolicy</c> (a Job's must say, or it is refused).</summary>
    public const string KubernetesDefaultRestartPolicy = "Always";

    /// <summary>
    /// The <c>--restart-policy</c>/<c>--restart-rules</c> arguments <c>emissary local</c> gives a step it restarts itself
    /// (the kubelet's part, <see cref="Emissary.Tools.Local.LocalRestarts"/>): kept apart from <see cref="RunArguments"/>
    /// because the last run local allows goes without them, so that its failure is final. Empty for sidecars
    /// and when nothing restarts the step.
    /// </summary>
    public static IReadOnlyList<string> LocalRestartArguments(StepSpec step) => step.Role != StepRole.Step ? [] : new RunArguments
    {
        RestartPolicy = step.RestartPolicy != "Never" ? step.RestartPolicy : null,
        RestartRules = step.RestartRules,
    }.Format();

    /// <summary>
    /// The <c>emissary run</c> arguments for <paramref name="step"/>, from <c>--name</c> to
    /// <c>--termination-budget</c>, without the <c>--</c> and the command (<see cref="Emissary.Cli.RunArguments.Format"/>).
    /// </summary>
    public static IReadOnlyList<string> RunArguments(StepSpec step, PodGraph graph, StepHost host = StepHost.Kubernetes) =>
        ArgumentsFor(step, graph, host).Format();

    /// <summary>The container's new command: the binary, <c>run</c>, the arguments, <c>--</c>, the original argv.</summary>
    public static IReadOnlyList<string> WrappedCommand(StepSpec step, PodGraph graph, StepHost host = StepHost.Kubernetes) =>
        [Binary, "run", .. RunArguments(step, graph, host), RunArgumentReader.EndOfOptions, .. step.Command ?? throw new InvalidOperationException($"the command of step '{step.Name}' is unknown")];

    public static string? ProxyPreset(ProxyKind proxy) => proxy switch
    {
        ProxyKind.Istio => "istio",
        ProxyKind.Linkerd => "linkerd",
        _ => null,
    };

    /// <summary>
    /// Reads a command that starts with <see cref="Binary"/> <c>run</c> back into the settings it
    /// carries, so that rewriting is idempotent and <c>local</c> can run rewritten manifests.
    /// Null when <paramref name="command"/> is not such a command.
    /// </summary>
    public static WrappedRun? ParseWrapped(IReadOnlyList<string> command)
    {
        if (command.Count < 2 || command[0] != Binary || command[1] != "run")
        {
            return null;
        }
        var settings = new List<(StepField Field, string Value)>();
        var extra = new List<string>();
        IReadOnlyList<GivenOption> options = RunArgumentReader.Read(command, 2, out int end);
        foreach (GivenOption given in options)
        {
            if (given.Option is { } option && DerivedOptions.Contains(option))
            {
                continue;
            }
            if (given.Option is { } modelled && StepFields.FromRunOption(modelled) is { } field)
            {
                settings.Add((field, given.Value));
            }
            else
            {
                extra.AddRange(given.Tokens);
            }
        }
        bool complete = end < command.Count - 1; // a "--" with a command after it
        return new WrappedRun(settings, extra, complete ? end + 1 : -1);
    }

    // What the rewrite computes from the pod (recomputed each time, never read back).
    private static readonly HashSet<CliOption> DerivedOptions = [RunCli.Name, RunCli.WaitProxy, RunCli.Quit, RunCli.TerminationBudget, RunCli.TerminationLog, RunCli.StdoutTo, RunCli.RestartPolicy, RunCli.RestartRules];
}

/// <summary>
/// An already rewritten command read back: the flags that step fields describe (field, value) in
/// order, the other flags verbatim, and where the original command starts (-1 when there is no
/// "--" and command).
/// </summary>
internal sealed record WrappedRun(IReadOnlyList<(StepField Field, string Value)> Settings, IReadOnlyList<string> ExtraArguments, int CommandStart);
