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

    /// <summary>The emptyDir shared as the control directory.</summary>
    public const string ControlVolume = "emissary-control";

    public const string BinDirectory = "/var/run/emissary-bin";

    /// <summary>The binary as every wrapped container runs it; a command starting with it and "run" is already rewritten.</summary>
    public const string Binary = BinDirectory + "/emissary";

    /// <summary>Where the control directory is mounted: <c>emissary run</c>'s default, so no --control-dir is needed.</summary>
    public const string ControlDirectory = Control.ControlDirectory.DefaultRoot;

    public const string InitContainerName = "emissary-init";

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
        // A native sidecar is stopped by the kubelet; told to stop by us it would exit 0 and be
        // restarted (restartPolicy: Always).
        string[] sidecarOf = step.Role == StepRole.Sidecar && !graph.NativeSidecars
            ? graph.Steps.Where(s => s.Role == StepRole.Step).Select(s => s.Name).ToArray()
            : [];
        return new RunArguments
        {
            Name = host.NamesSteps() ? step.Name : null,
            After = step.Gates,
            WaitStart = step.WaitForStart,
            RunOnUpstreamFailure = step.RunOnUpstreamFailure,
            WaitProxy = proxy,
            SidecarOf = sidecarOf,
            StopSignal = step.StopSignal,
            Grace = step.Grace,
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
            Extra = step.ExtraRunArguments,
            // Only the steps that end last tell the proxy to quit: a step that quit it earlier would
            // cut the network of the steps after it.
            Quit = proxy is not null && graph.IsFinal(step) ? proxy : null,
            // The kubelet mounts the message file where the container says; emissary's default is its default.
            TerminationLog = host.HasContainerPaths() ? step.TerminationMessagePath : null,
            TerminationBudget = graph.TerminationBudget,
        };
    }

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
    private static readonly HashSet<CliOption> DerivedOptions = [RunCli.Name, RunCli.WaitProxy, RunCli.Quit, RunCli.TerminationBudget, RunCli.TerminationLog];
}

/// <summary>
/// An already rewritten command read back: the flags that step fields describe (field, value) in
/// order, the other flags verbatim, and where the original command starts (-1 when there is no
/// "--" and command).
/// </summary>
internal sealed record WrappedRun(IReadOnlyList<(StepField Field, string Value)> Settings, IReadOnlyList<string> ExtraArguments, int CommandStart);
