using Emissary.Commands;
using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Net;
using Emissary.Results;
using Emissary.Sidecars;
using Emissary.Supervision;
using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>
/// The flags of <c>emissary run</c>: the one definition of them. The pod binary parses and binds
/// with it; <see cref="RunArguments"/> writes arguments with it and <see cref="RunArgumentReader"/>
/// reads rewritten commands with it. Every flag can also come from EMISSARY_&lt;FLAG&gt;.
/// </summary>
internal static class RunCli
{
    private static CliOption Text(string name, string valueName, string description) => CliOption.Value(name, valueName, description);

    private static CliOption Repeatable(string name, string valueName, string description) => CliOption.List(name, valueName, description);

    private static CliOption Flag(string name, string description) => CliOption.Flag(name, description);

    // Identity and control directory
    internal static readonly CliOption Name = Text("--name", "NAME", "The step's name: its entry in the control directory");
    internal static readonly CliOption ControlDir = Text("--control-dir", "DIR", $"The shared control directory (default {ControlDirectory.DefaultRoot})");
    internal static readonly CliOption Observe = Repeatable("--observe", "STEP", "Declares that the command reads STEP's record; 'emissary rewrite' mounts it (repeatable, or comma-separated)");

    // Gates
    internal static readonly CliOption After = Repeatable("--after", "NAME", "Wait until step NAME has finished successfully (repeatable, or comma-separated)");
    internal static readonly CliOption WaitFile = Repeatable("--wait-file", "PATH", "Wait until PATH exists; PATH.err means upstream failed (repeatable)");
    internal static readonly CliOption WaitContent = Flag("--wait-content", "With --wait-file: also wait until the file is not empty");
    internal static readonly CliOption WaitFifo = Repeatable("--wait-fifo", "PATH", "Wait until something writes to the FIFO PATH (created if missing) (repeatable)");
    internal static readonly CliOption WaitStart = Flag("--wait-start", "Wait for 'emissary start NAME' (or 'emissary skip NAME')");
    internal static readonly CliOption WaitTimeout = Text("--wait-timeout", "DURATION", "Give up waiting for the gates after DURATION (exit 125)");
    internal static readonly CliOption RunOnUpstreamFailure = Flag("--run-on-upstream-failure", "Run even if an upstream step failed (cleanup steps)");

    // Sidecars
    internal static readonly CliOption SidecarOf = Repeatable("--sidecar-of", "STEP", "Run as a sidecar of these steps: stop the command (--stop-signal, then SIGKILL after --grace) once they are all over, and count that as success");
    internal static readonly CliOption StopSignal = Text("--stop-signal", "SIGNAL", "What a sidecar is stopped with, and the container's stop signal: received, it counts as SIGTERM does (default TERM)");
    internal static readonly CliOption QuitUrl = Repeatable("--quit-url", "URL", "When the step ends (any outcome), POST to URL so an injected sidecar quits (repeatable)");
    internal static readonly CliOption Quit = Repeatable("--quit", "PRESET", "--quit-url presets: istio (http://127.0.0.1:15020/quitquitquit), linkerd (http://127.0.0.1:4191/shutdown)");
    internal static readonly CliOption WaitHttp = Repeatable("--wait-http", "URL", "Gate: wait until a GET of URL answers 2xx (repeatable)");
    internal static readonly CliOption WaitTcp = Repeatable("--wait-tcp", "HOST:PORT", "Gate: wait until a TCP connection to HOST:PORT succeeds (repeatable)");
    internal static readonly CliOption WaitProxy = Repeatable("--wait-proxy", "PRESET", "--wait-http presets: istio (http://127.0.0.1:15021/healthz/ready), linkerd (http://127.0.0.1:4191/ready)");

    // Results and output
    internal static readonly CliOption ResultsDir = Text("--results-dir", "DIR", "Where the command writes results, one file per result (default DIR/NAME/results); exported as EMISSARY_RESULTS");
    internal static readonly CliOption TerminationLog = Text("--termination-log", "PATH", "Where to write the termination message (default /dev/termination-log, when it exists)");
    internal static readonly CliOption TerminationBudget = Text("--termination-budget", "BYTES", "Maximum size of the termination message (default 4096, the kubelet's per-container limit)");
    internal static readonly CliOption TerminationFormat = Text("--termination-format", "FORMAT", "emissary (default: one JSON object) or tekton (Tekton's array of key/value/type)");
    internal static readonly CliOption StdoutPath = Text("--stdout-path", "PATH", "Also write the command's stdout to PATH (it still goes to emissary's stdout)");
    internal static readonly CliOption StderrPath = Text("--stderr-path", "PATH", "Also write the command's stderr to PATH (it still goes to emissary's stderr)");
    internal static readonly CliOption ResultFromStdout = Text("--result-from-stdout", "NAME", "The command's stdout also becomes result NAME (within the budget)");

    // Run policy
    internal static readonly CliOption SingleChild = Flag("--single-child", "Keep the child in emissary's process group and signal only the child");
    internal static readonly CliOption Timeout = Text("--timeout", "DURATION", "Stop the command after DURATION: SIGTERM to its group, SIGKILL after --grace; exit 124");
    internal static readonly CliOption Grace = Text("--grace", "DURATION", "Time between SIGTERM and SIGKILL when stopping the command (default 10s)");
    internal static readonly CliOption OnError = Text("--on-error", "POLICY", "stopAndFail (default) or continue: record the failure, exit 0, let later steps run");
    internal static readonly CliOption Retries = Text("--retries", "N", "Run a failed command again up to N times (default 0)");
    internal static readonly CliOption RestartPolicy = Text("--restart-policy", "POLICY", "The restartPolicy that applies to this container (the container's own, else the pod's): Never (default), OnFailure or Always; a failure the kubelet restarts is recorded as restarting, not failed");
    internal static readonly CliOption RestartRules = Text("--restart-rules", "JSON", "The container's restartPolicyRules as JSON ([{\"action\":\"Restart\",\"exitCodes\":{\"operator\":\"In\",\"values\":[42]}}]): checked before --restart-policy");
    internal static readonly CliOption RetryDelay = Text("--retry-delay", "DURATION", "Wait DURATION between attempts (default 1s)");
    internal static readonly CliOption StdinFrom = Text("--stdin-from", "STEP", "The command's stdin is step STEP's stdout (STEP runs with --stdout-to this step), through a pipe STEP hands to this step alone on its socket DIR/STEP/stdout");
    internal static readonly CliOption StdoutTo = Text("--stdout-to", "STEP", "The command's stdout goes to step STEP's stdin (STEP runs with --stdin-from this step) through a pipe handed to STEP alone on the socket DIR/NAME/stdout");
    internal static readonly CliOption StreamTimeout = Text("--stream-timeout", "DURATION", "With --stdout-to: give up when the consumer has not taken the stream after DURATION (default 10m; exit 125)");
    internal static readonly CliOption Breakpoint = Repeatable("--breakpoint", "WHERE", "Pause before the command, after it or on-failure, until 'emissary debug' (repeatable)");
    internal static readonly CliOption BreakpointTimeout = Text("--breakpoint-timeout", "DURATION", "End a pause after DURATION as 'debug continue' would (default 1h)");
    internal static readonly CliOption PostFile = Text("--post-file", "PATH", "When done, write PATH (empty) on success or PATH.err (the exit code) on failure");

    /// <summary>Every flag of <c>emissary run</c>, in the order <c>--help</c> lists them (declared after the flags: static fields initialise in order).</summary>
    internal static readonly CliOption[] Options =
    [
        Name, ControlDir, Observe,
        After, WaitFile, WaitContent, WaitFifo, WaitStart, WaitHttp, WaitTcp, WaitProxy, WaitTimeout, RunOnUpstreamFailure,
        SidecarOf, StopSignal, QuitUrl, Quit,
        ResultsDir, TerminationLog, TerminationBudget, TerminationFormat, StdoutPath, StderrPath, ResultFromStdout,
        SingleChild, Timeout, Grace, OnError, Retries, RetryDelay, RestartPolicy, RestartRules, PostFile,
        Breakpoint, BreakpointTimeout,
        StdinFrom, StdoutTo, StreamTimeout,
    ];

    /// <summary>The names <c>--on-error</c> takes, and what each means for <see cref="StepRules.ContinueOnError"/>.</summary>
    internal const string OnErrorStopAndFail = "stopAndFail", OnErrorContinue = "continue";

    public static CliCommand Build()
    {
        var command = new CliCommand("run",
            "Run COMMAND as a supervised step: wait for its gates, forward signals, reap zombies, record its outcome.",
            "run [options] -- COMMAND [ARGS...]")
        {
            TakesCommand = true,
            Action = parsed =>
            {
                var values = new OptionValues(parsed, SettingVariables.Lookup());
                RunOptions options = Bind(values, parsed.Payload);
                return RunCommand.Execute(options, values.CreateLogger(options.Name));
            },
        };
        command.Options.AddRange(Options.AsSpan());
        return command;
    }

    private static string? ResultName(string? name) => name is null || ResultsCollector.IsValidName(name)
        ? name
        : throw new UsageException($"--result-from-stdout: '{name}' is not a valid result name (letters, digits, '.', '_', '-'; starting with a letter or digit)");

    private static string Preset(IReadOnlyDictionary<string, string> presets, string name, string option) =>
        presets.TryGetValue(name, out string? url) ? url : throw new UsageException($"{option}: unknown preset '{name}' (known: {string.Join(", ", presets.Keys)})");

    /// <summary>
    /// <c>--stdin-from</c> and <c>--stdout-to</c>: step names, for a named step, never itself, one
    /// attempt only (a retry would feed a consumer the output of every attempt, or read a stream
    /// already consumed).
    /// </summary>
    private static (string? StdinFrom, string? StdoutTo) StreamSteps(OptionValues values, string? name)
    {
        string? from = values.String(StdinFrom), to = values.String(StdoutTo);
        foreach ((string? step, CliOption option) in new[] { (from, StdinFrom), (to, StdoutTo) })
        {
            if (step is null)
            {
                continue;
            }
            ControlDirectory.ValidateName(step, $"{option.Name} step");
            if (name is null)
            {
                throw new UsageException($"{option.Name} needs --name (the stream lives in the step's directory)");
            }
            if (step == name)
            {
                throw new UsageException($"{option.Name} {step}: a step cannot stream to itself");
            }
            if ((values.Integer(Retries, 0, 1000) ?? 0) > 0)
            {
                throw new UsageException($"{option.Name} cannot be combined with --retries: a stream is read once");
            }
        }
        if (values.String(StreamTimeout) is not null && to is null)
        {
            throw new UsageException("--stream-timeout needs --stdout-to");
        }
        return (from, to);
    }

    internal static RunOptions Bind(OptionValues values, string[]? commandLine)
    {
        if (commandLine is null)
        {
            throw new UsageException("missing '--' before the command (usage: emissary run [options] -- COMMAND [ARGS...])");
        }
        if (commandLine.Length == 0)
        {
            throw new UsageException("no command after '--' (usage: emissary run [options] -- COMMAND [ARGS...])");
        }

        string? name = values.String(Name);
        if (name is not null)
        {
            ControlDirectory.ValidateName(name);
        }
        var gates = new List<Gate>();
        foreach (string step in values.List(Observe))
        {
            ControlDirectory.ValidateName(step, "--observe step"); // for the rewrite's mounts only: run reads nothing of it
        }
        foreach (string step in values.List(After))
        {
            ControlDirectory.ValidateName(step, "--after step");
            if (step == name)
            {
                throw new UsageException($"--after {step}: a step cannot wait for itself");
            }
            gates.Add(new Gate.AfterStep(step));
        }
        bool content = values.Flag(WaitContent);
        // One at a time rather than List.AddRange, which asks the array for its count and copy
        // through interface calls (each resolved at its first call, at every start).
        foreach (string path in values.List(WaitFile))
        {
            gates.Add(new Gate.FileExists(path, content));
        }
        foreach (string path in values.List(WaitFifo))
        {
            gates.Add(new Gate.Fifo(path));
        }
        if (values.Flag(WaitStart))
        {
            gates.Add(new Gate.ManualStart(name ?? throw new UsageException("--wait-start needs --name (it is what 'emissary start NAME' names)")));
        }
        foreach (string url in values.List(WaitHttp))
        {
            gates.Add(new Gate.HttpReady(HttpTarget.Parse(url, "--wait-http")));
        }
        foreach (string preset in values.List(WaitProxy))
        {
            gates.Add(new Gate.HttpReady(HttpTarget.Parse(Preset(SidecarQuit.ReadyPresets, preset, "--wait-proxy"), "--wait-proxy")));
        }
        foreach (string endpoint in values.List(WaitTcp))
        {
            gates.Add(new Gate.TcpReady(NetEndpoint.Parse(endpoint, "--wait-tcp")));
        }
        HttpTarget[] quitUrls = values.List(QuitUrl).Select(u => HttpTarget.Parse(u, "--quit-url"))
            .Concat(values.List(Quit).Select(p => HttpTarget.Parse(Preset(SidecarQuit.QuitPresets, p, "--quit"), "--quit")));
        // An array, walked as one: a foreach through an interface over an empty array moves the
        // runtime's shared empty enumerator, which lives in the binary's data (a copy-on-write
        // fault and a private page at every start).
        string[] sidecarOf = values.List(SidecarOf);
        foreach (string step in sidecarOf)
        {
            ControlDirectory.ValidateName(step, "--sidecar-of step");
            if (step == name)
            {
                throw new UsageException($"--sidecar-of {step}: a step cannot be its own sidecar");
            }
        }
        int stopSignal = Signals.TERM;
        if (values.String(StopSignal) is { } stopText && !Signals.TryParse(stopText, out stopSignal))
        {
            throw new UsageException($"--stop-signal: '{stopText}' is not a signal (use a name such as TERM or INT, or a number)");
        }
        if (content && values.List(WaitFile).Length == 0)
        {
            throw new UsageException("--wait-content needs --wait-file");
        }

        (string? stdinFrom, string? stdoutTo) = StreamSteps(values, name);

        PausePoint breakpoints = PausePoint.None;
        foreach (string where in values.List(Breakpoint))
        {
            breakpoints |= PausePoints.Parse(where) ?? throw new UsageException($"--breakpoint: '{where}' is not before, after or on-failure");
        }
        if ((breakpoints != PausePoint.None || values.String(BreakpointTimeout) is not null) && name is null)
        {
            throw new UsageException("--breakpoint needs --name");
        }

        return new RunOptions
        {
            StdinFrom = stdinFrom,
            StdoutTo = stdoutTo,
            StreamTimeout = values.Duration(StreamTimeout) ?? Streams.StreamProducer.DefaultTimeout,
            Command = commandLine,
            Name = name,
            ControlDir = values.String(ControlDir) ?? ControlDirectory.DefaultRoot,
            PostFile = values.String(PostFile),
            SidecarOf = sidecarOf,
            ResultsDir = values.String(ResultsDir),
            TerminationLog = values.String(TerminationLog),
            TerminationBudget = values.Integer(TerminationBudget, TerminationMessage.MinimumBudget, 1 << 20) ?? TerminationMessage.DefaultBudget,
            TerminationFormat = values.Choice(TerminationFormat, Results.TerminationFormat.Emissary, ("emissary", Results.TerminationFormat.Emissary), ("tekton", Results.TerminationFormat.Tekton)),
            StdoutPath = values.String(StdoutPath),
            StderrPath = values.String(StderrPath),
            ResultFromStdout = ResultName(values.String(ResultFromStdout)),
            QuitUrls = quitUrls,
            Restart = new KubeletRestart
            {
                Policy = values.String(RestartPolicy) is { } policy ? KubeletRestart.ParsePolicy(policy, RestartPolicy.Name) : Control.RestartPolicy.Never,
                Rules = values.String(RestartRules) is { } rules ? KubeletRestart.ParseRules(rules, RestartRules.Name) : [],
            },
            Rules = new StepRules
            {
                Gates = gates,
                WaitTimeout = values.Duration(WaitTimeout),
                RunOnUpstreamFailure = values.Flag(RunOnUpstreamFailure),
                ContinueOnError = values.Choice(OnError, false, (OnErrorStopAndFail, false), (OnErrorContinue, true)),
                Retries = values.Integer(Retries, 0, 1000) ?? 0,
                RetryDelay = values.Duration(RetryDelay) ?? TimeSpan.FromSeconds(1),
                Breakpoints = breakpoints,
                BreakpointTimeout = values.Duration(BreakpointTimeout) ?? StepRules.DefaultBreakpointTimeout,
                Policy = new SupervisionPolicy
                {
                    StopSignal = stopSignal,
                    OwnProcessGroup = !values.Flag(SingleChild),
                    Timeout = values.Duration(Timeout),
                    Grace = values.Duration(Grace) ?? TimeSpan.FromSeconds(10),
                },
            },
        };
    }
}
