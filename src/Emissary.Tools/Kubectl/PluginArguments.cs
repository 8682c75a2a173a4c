using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;

namespace Emissary.Tools.Kubectl;

/// <summary>What <c>kubectl emissary</c> was asked to do.</summary>
internal enum PluginVerb
{
    Help,
    Version,
    Status,
    Debug,
    Signal,
}

/// <summary>
/// One <c>kubectl emissary</c> command line, read: the verb and its operands, the kubectl flags
/// to pass on to every kubectl call, the flags a <c>debug</c> verb hands to <c>emissary debug</c>.
/// </summary>
internal sealed record PluginRequest
{
    public required PluginVerb Verb { get; init; }

    public string Pod { get; init; } = "";

    /// <summary>The step (<c>debug</c>, <c>signal</c>); null for <c>status</c>.</summary>
    public string? Step { get; init; }

    /// <summary><c>continue</c>, <c>fail</c>, <c>rerun</c>, <c>pause</c> or <c>env</c> (<c>debug</c>).</summary>
    public string? DebugAction { get; init; }

    /// <summary>The signal as the user wrote it, checked (<c>signal</c>).</summary>
    public string? Signal { get; init; }

    /// <summary><c>--namespace=X</c>, <c>--context=X</c>, <c>--kubeconfig=X</c>, in the order given: put before every kubectl verb.</summary>
    public IReadOnlyList<string> KubectlFlags { get; init; } = [];

    /// <summary>Flags that are not the plugin's (<c>debug</c> only): handed to <c>emissary debug</c> as written.</summary>
    public IReadOnlyList<string> DebugFlags { get; init; } = [];

    /// <summary><c>--timeout</c>: how long a kubectl call may take.</summary>
    public TimeSpan Timeout { get; init; } = PluginArguments.DefaultTimeout;

    /// <summary><c>-o json</c> (<c>status</c>): the merged records as JSON instead of a table.</summary>
    public bool Json { get; init; }
}

/// <summary>
/// Reads the command line the way kubectl users write one: the kubectl flags (<c>-n</c>,
/// <c>--namespace</c>, <c>--context</c>, <c>--kubeconfig</c>, each as <c>-n X</c>, <c>-nX</c>,
/// <c>-n=X</c> or <c>--namespace=X</c>) and the plugin's own may stand anywhere, before or after
/// the verb and its operands.
/// </summary>
internal static class PluginArguments
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);

    /// <summary>The <c>emissary debug</c> verbs the plugin runs (what the control directory takes).</summary>
    public static readonly string[] DebugActions = ["continue", "fail", "rerun", "pause", "env"];

    private static readonly string[] Verbs = ["status", "debug", "signal", "help", "version"];

    // kubectl's own flags, passed on: long name, short name.
    private static readonly (string Long, string? Short)[] KubectlOptions = [("--namespace", "-n"), ("--context", null), ("--kubeconfig", null)];

    private static readonly string[] OwnOptions = ["--namespace", "-n", "--context", "--kubeconfig", "--timeout", "--output", "-o", "--help", "-h", "--version"];

    public const string Usage = """
        kubectl emissary: the steps of a pod wired by Emissary, from outside the pod.

        Usage:
          kubectl emissary status POD [-o json]                    the step graph: states, exit codes, timings
          kubectl emissary debug continue|fail|rerun|pause|env POD STEP [FLAGS]
                                                                   emissary debug ACTION STEP in STEP's container
          kubectl emissary signal POD STEP SIGNAL                  emissary signal STEP SIGNAL in STEP's container

        Options (anywhere on the line):
          -n, --namespace NS, --context CTX, --kubeconfig FILE     passed on to every kubectl call
          --timeout DURATION                                       how long one kubectl call may take (default 1m)
          -o json                                                  status: JSON instead of a table
          -h, --help                                               this text

        KUBECTL names the kubectl to run (default: kubectl on PATH). Exit codes: docs/kubectl-plugin.md.

        """;

    /// <summary>Reads <paramref name="args"/>; throws <see cref="UsageException"/> with one line saying what is wrong.</summary>
    public static PluginRequest Parse(IReadOnlyList<string> args)
    {
        var operands = new List<string>();
        var kubectlFlags = new List<string>();
        var unknown = new List<string>();
        TimeSpan timeout = DefaultTimeout;
        bool json = false;
        bool help = false, version = false;
        bool endOfOptions = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (endOfOptions || arg.Length < 2 || arg[0] != '-')
            {
                operands.Add(arg);
                continue;
            }
            if (arg == "--")
            {
                endOfOptions = true;
                continue;
            }
            if (arg is "-h" or "--help")
            {
                help = true;
                continue;
            }
            if (arg == "--version")
            {
                version = true;
                continue;
            }
            if (KubectlOption(arg) is { } kubectl)
            {
                string value = ValueOf(args, ref i, kubectl.Text);
                kubectlFlags.Add(kubectl.Long + "=" + value);
                continue;
            }
            if (Split(arg, "--timeout", null) is { } t)
            {
                string value = ValueOf(args, ref i, t);
                if (!Duration.TryParse(value, out timeout) || timeout <= TimeSpan.Zero)
                {
                    throw new UsageException($"--timeout: '{value}' is not a duration (such as 30s, 2m)");
                }
                continue;
            }
            if (Split(arg, "--output", "-o") is { } o)
            {
                string value = ValueOf(args, ref i, o);
                json = value == "json" ? true : throw new UsageException($"-o: '{value}' is not an output format this plugin writes (json)");
                continue;
            }
            unknown.Add(arg);
        }

        if (help || (operands.Count > 0 && operands[0] == "help"))
        {
            return new PluginRequest { Verb = PluginVerb.Help };
        }
        if (version || (operands.Count > 0 && operands[0] == "version"))
        {
            return new PluginRequest { Verb = PluginVerb.Version };
        }
        if (operands.Count == 0)
        {
            throw new UsageException("no command given (status, debug, signal; see: kubectl emissary --help)");
        }
        string verb = operands[0];
        PluginVerb parsed = verb switch
        {
            "status" => PluginVerb.Status,
            "debug" => PluginVerb.Debug,
            "signal" => PluginVerb.Signal,
            _ => throw new UsageException($"unknown command '{verb}'{Guess(verb, Verbs)} (see: kubectl emissary --help)"),
        };
        if (parsed != PluginVerb.Debug && unknown.Count > 0)
        {
            string flag = unknown[0];
            string name = flag.Contains('=') ? flag[..flag.IndexOf('=')] : flag;
            throw new UsageException($"{verb}: unknown option '{name}'{Guess(name, OwnOptions)}");
        }
        if (json && parsed != PluginVerb.Status)
        {
            throw new UsageException($"{verb}: -o json is for status only");
        }

        var request = new PluginRequest { Verb = parsed, KubectlFlags = kubectlFlags, Timeout = timeout, Json = json };
        switch (parsed)
        {
            case PluginVerb.Status:
                Expect(operands, 2, "status POD");
                return request with { Pod = operands[1] };
            case PluginVerb.Debug:
                if (operands.Count < 2)
                {
                    throw new UsageException($"debug: which action? ({string.Join(", ", DebugActions)}; usage: debug ACTION POD STEP)");
                }
                string action = operands[1];
                if (!DebugActions.Contains(action))
                {
                    throw new UsageException($"debug: unknown action '{action}'{Guess(action, DebugActions)} (one of {string.Join(", ", DebugActions)})");
                }
                Expect(operands, 4, $"debug {action} POD STEP");
                return request with { DebugAction = action, Pod = operands[2], Step = StepName(operands[3]), DebugFlags = unknown };
            default:
                Expect(operands, 4, "signal POD STEP SIGNAL");
                if (!Signals.TryParse(operands[3], out _))
                {
                    throw new UsageException($"signal: unknown signal '{operands[3]}' (TERM, SIGUSR1, 15, ...)");
                }
                return request with { Pod = operands[1], Step = StepName(operands[2]), Signal = operands[3] };
        }
    }

    /// <summary>The kubectl flag <paramref name="arg"/> is: its long name and the <see cref="OptionText"/>; null when it is none.</summary>
    private static (string Long, OptionText Text)? KubectlOption(string arg)
    {
        foreach ((string longName, string? shortName) in KubectlOptions)
        {
            if (Split(arg, longName, shortName) is { } text)
            {
                return (longName, text);
            }
        }
        return null;
    }

    /// <summary>An option as written: the name given, and its value when written with it (<c>--x=V</c>, <c>-nV</c>, <c>-n=V</c>).</summary>
    private readonly record struct OptionText(string Name, string? Inline);

    /// <summary>Whether <paramref name="arg"/> is the option <paramref name="longName"/> (or <paramref name="shortName"/>); null when not.</summary>
    private static OptionText? Split(string arg, string longName, string? shortName)
    {
        if (arg == longName || arg == shortName)
        {
            return new OptionText(arg, null);
        }
        if (arg.StartsWith(longName + "=", StringComparison.Ordinal))
        {
            return new OptionText(longName, arg[(longName.Length + 1)..]);
        }
        if (shortName is not null && arg.StartsWith(shortName, StringComparison.Ordinal) && !arg.StartsWith("--", StringComparison.Ordinal))
        {
            string rest = arg[shortName.Length..];
            return new OptionText(shortName, rest.StartsWith('=') ? rest[1..] : rest);
        }
        return null;
    }

    /// <summary>The option's value: written with it, else the next argument; never empty.</summary>
    private static string ValueOf(IReadOnlyList<string> args, ref int i, OptionText option)
    {
        string value = option.Inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option {option.Name} needs a value"));
        return value.Length > 0 ? value : throw new UsageException($"option {option.Name} has an empty value (an unset shell variable?)");
    }

    private static void Expect(List<string> operands, int count, string usage)
    {
        if (operands.Count < count)
        {
            throw new UsageException($"missing argument (usage: kubectl emissary {usage})");
        }
        if (operands.Count > count)
        {
            throw new UsageException($"unexpected argument '{operands[count]}' (usage: kubectl emissary {usage})");
        }
    }

    private static string StepName(string name)
    {
        ControlDirectory.ValidateName(name);
        return name;
    }

    private static string Guess(string given, IEnumerable<string> known) =>
        DidYouMean.Closest(given, known) is { } guess ? $" (did you mean '{guess}'?)" : "";
}
