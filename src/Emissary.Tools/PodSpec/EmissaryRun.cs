using System.Globalization;
using Emissary.Events;

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
    /// The <c>emissary run</c> arguments for <paramref name="step"/>, from <c>--name</c> to
    /// <c>--termination-budget</c>, without the <c>--</c> and the command. In a fixed order, and
    /// every value written in one canonical form, so that rewriting a rewritten pod changes nothing.
    /// </summary>
    public static IReadOnlyList<string> RunArguments(StepSpec step, PodGraph graph)
    {
        var args = new List<string> { "--name", step.Name };
        foreach (string gate in step.Gates)
        {
            args.Add("--after");
            args.Add(gate);
        }
        if (step.WaitForStart)
        {
            args.Add("--wait-start");
        }
        if (step.RunOnUpstreamFailure)
        {
            args.Add("--run-on-upstream-failure");
        }
        string? proxy = ProxyPreset(step.Role == StepRole.Step ? step.Proxy : ProxyKind.None);
        if (proxy is not null)
        {
            args.Add("--wait-proxy");
            args.Add(proxy);
        }
        // A native sidecar is stopped by the kubelet; told to stop by us it would exit 0 and be
        // restarted (restartPolicy: Always).
        if (step.Role == StepRole.Sidecar && !graph.NativeSidecars)
        {
            string[] mainSteps = graph.Steps.Where(s => s.Role == StepRole.Step).Select(s => s.Name).ToArray();
            if (mainSteps.Length > 0)
            {
                args.Add("--sidecar-of");
                args.Add(string.Join(',', mainSteps));
            }
        }
        Add(args, "--stop-signal", step.StopSignal is { } signal ? SignalName(signal) : null);
        Add(args, "--grace", FormatDuration(step.Grace));
        Add(args, "--timeout", FormatDuration(step.Timeout));
        Add(args, "--retries", step.Retries?.ToString(CultureInfo.InvariantCulture));
        Add(args, "--retry-delay", FormatDuration(step.RetryDelay));
        Add(args, "--on-error", step.OnError switch
        {
            OnErrorPolicy.Continue => "continue",
            OnErrorPolicy.StopAndFail => "stopAndFail",
            _ => null,
        });
        Add(args, "--result-from-stdout", step.ResultFromStdout);
        args.AddRange(step.ExtraRunArguments);
        // Only the steps that end last tell the proxy to quit: a step that quit it earlier would cut
        // the network of the steps after it.
        if (proxy is not null && graph.IsFinal(step))
        {
            args.Add("--quit");
            args.Add(proxy);
        }
        // The kubelet mounts the message file where the container says; emissary's default is its default.
        Add(args, "--termination-log", step.TerminationMessagePath);
        args.Add("--termination-budget");
        args.Add(graph.TerminationBudget.ToString(CultureInfo.InvariantCulture));
        return args;
    }

    /// <summary>The container's new command: the binary, <c>run</c>, the arguments, <c>--</c>, the original argv.</summary>
    public static IReadOnlyList<string> WrappedCommand(StepSpec step, PodGraph graph) =>
        [Binary, "run", .. RunArguments(step, graph), "--", .. step.Command ?? throw new InvalidOperationException($"the command of step '{step.Name}' is unknown")];

    public static string? ProxyPreset(ProxyKind proxy) => proxy switch
    {
        ProxyKind.Istio => "istio",
        ProxyKind.Linkerd => "linkerd",
        _ => null,
    };

    /// <summary>Go-style and canonical: 1h30m, 1m30s, 1.5s, 500ms, 0s.</summary>
    public static string? FormatDuration(TimeSpan? value)
    {
        if (value is not { } duration)
        {
            return null;
        }
        if (duration < TimeSpan.FromSeconds(1))
        {
            return duration == TimeSpan.Zero ? "0s" : duration.TotalMilliseconds.ToString("0.######", CultureInfo.InvariantCulture) + "ms";
        }
        long hours = (long)duration.TotalHours;
        int minutes = duration.Minutes;
        double seconds = (duration - TimeSpan.FromHours(hours) - TimeSpan.FromMinutes(minutes)).TotalSeconds;
        string text = "";
        if (hours > 0)
        {
            text += hours.ToString(CultureInfo.InvariantCulture) + "h";
        }
        if (minutes > 0)
        {
            text += minutes.ToString(CultureInfo.InvariantCulture) + "m";
        }
        if (seconds > 0)
        {
            text += seconds.ToString("0.#######", CultureInfo.InvariantCulture) + "s";
        }
        return text;
    }

    /// <summary>TERM, USR1, ... (run accepts them with or without SIG); real-time signals as numbers.</summary>
    public static string SignalName(int signal)
    {
        string name = Signals.Name(signal);
        return name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : signal.ToString(CultureInfo.InvariantCulture);
    }

    private static void Add(List<string> args, string flag, string? value)
    {
        if (value is not null)
        {
            args.Add(flag);
            args.Add(value);
        }
    }

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
        var settings = new List<(string Flag, string Value)>();
        var extra = new List<string>();
        int i = 2;
        for (; i < command.Count && command[i] != "--"; i++)
        {
            string arg = command[i];
            int eq = arg.IndexOf('=');
            string flag = eq > 0 ? arg[..eq] : arg;
            bool takesValue = !FlagsWithoutValue.Contains(flag);
            string? value = eq > 0 ? arg[(eq + 1)..] : takesValue && i + 1 < command.Count && command[i + 1] != "--" ? command[++i] : null;
            if (DerivedFlags.Contains(flag))
            {
                continue;
            }
            if (ModelledFlags.Contains(flag))
            {
                settings.Add((flag, value ?? "true"));
            }
            else
            {
                extra.Add(arg);
                if (eq < 0 && value is not null)
                {
                    extra.Add(value);
                }
            }
        }
        bool complete = i < command.Count - 1; // a "--" with a command after it
        return new WrappedRun(settings, extra, complete ? i + 1 : -1);
    }

    // Flags that the rewrite computes from the pod (recomputed each time, never read back).
    private static readonly HashSet<string> DerivedFlags = ["--name", "--wait-proxy", "--quit", "--termination-budget", "--termination-log"];

    // Flags that map to step fields.
    private static readonly HashSet<string> ModelledFlags =
    [
        "--after", "--timeout", "--retries", "--retry-delay", "--on-error", "--result-from-stdout", "--stop-signal",
        "--grace", "--wait-start", "--run-on-upstream-failure", "--sidecar-of",
    ];

    // The flags of `emissary run` that take no value (RunCli).
    private static readonly HashSet<string> FlagsWithoutValue = ["--wait-start", "--run-on-upstream-failure", "--wait-content", "--single-child"];
}

/// <summary>
/// An already rewritten command read back: the modelled flags (flag, value) in order, the other
/// flags verbatim, and where the original command starts (-1 when there is no "--" and command).
/// </summary>
internal sealed record WrappedRun(IReadOnlyList<(string Flag, string Value)> Settings, IReadOnlyList<string> ExtraArguments, int CommandStart);
