using Emissary.Commands;
using Emissary.Control;
using Emissary.Gates;
using Emissary.Supervision;

namespace Emissary.Cli;

/// <summary>The flags of <c>emissary run</c>. Every flag can also come from EMISSARY_&lt;FLAG&gt;.</summary>
internal static class RunCli
{
    private static CliOption Text(string name, string valueName, string description) => CliOption.Value(name, valueName, description);

    private static CliOption Repeatable(string name, string valueName, string description) => CliOption.List(name, valueName, description);

    private static CliOption Flag(string name, string description) => CliOption.Flag(name, description);

    // Identity and control directory
    private static readonly CliOption Name = Text("--name", "NAME", "The step's name: its entry in the control directory");
    private static readonly CliOption ControlDir = Text("--control-dir", "DIR", $"The shared control directory (default {ControlDirectory.DefaultRoot})");

    // Gates
    private static readonly CliOption After = Repeatable("--after", "NAME", "Wait until step NAME has finished successfully (repeatable, or comma-separated)");
    private static readonly CliOption WaitFile = Repeatable("--wait-file", "PATH", "Wait until PATH exists; PATH.err means upstream failed (repeatable)");
    private static readonly CliOption WaitContent = Flag("--wait-content", "With --wait-file: also wait until the file is not empty");
    private static readonly CliOption WaitFifo = Repeatable("--wait-fifo", "PATH", "Wait until something writes to the FIFO PATH (created if missing) (repeatable)");
    private static readonly CliOption WaitStart = Flag("--wait-start", "Wait for 'emissary start NAME' (or 'emissary skip NAME')");
    private static readonly CliOption WaitTimeout = Text("--wait-timeout", "DURATION", "Give up waiting for the gates after DURATION (exit 125)");
    private static readonly CliOption RunOnUpstreamFailure = Flag("--run-on-upstream-failure", "Run even if an upstream step failed (cleanup steps)");

    // Run policy
    private static readonly CliOption SingleChild = Flag("--single-child", "Keep the child in emissary's process group and signal only the child");
    private static readonly CliOption Timeout = Text("--timeout", "DURATION", "Stop the command after DURATION: SIGTERM to its group, SIGKILL after --grace; exit 124");
    private static readonly CliOption Grace = Text("--grace", "DURATION", "Time between SIGTERM and SIGKILL when stopping the command (default 10s)");
    private static readonly CliOption OnError = Text("--on-error", "POLICY", "stopAndFail (default) or continue: record the failure, exit 0, let later steps run");
    private static readonly CliOption Retries = Text("--retries", "N", "Run a failed command again up to N times (default 0)");
    private static readonly CliOption RetryDelay = Text("--retry-delay", "DURATION", "Wait DURATION between attempts (default 1s)");
    private static readonly CliOption PostFile = Text("--post-file", "PATH", "When done, write PATH (empty) on success or PATH.err (the exit code) on failure");

    public static CliCommand Build() => new("run",
        "Run COMMAND as a supervised step: wait for its gates, forward signals, reap zombies, record its outcome.",
        "run [options] -- COMMAND [ARGS...]")
    {
        TakesCommand = true,
        Options =
        {
            Name, ControlDir,
            After, WaitFile, WaitContent, WaitFifo, WaitStart, WaitTimeout, RunOnUpstreamFailure,
            SingleChild, Timeout, Grace, OnError, Retries, RetryDelay, PostFile,
        },
        Action = parsed =>
        {
            var values = new OptionValues(parsed, Environment.GetEnvironmentVariable);
            RunOptions options = Bind(values, parsed.Payload);
            return RunCommand.Execute(options, values.CreateLogger(options.Name));
        },
    };

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
        gates.AddRange(values.List(WaitFile).Select(p => new Gate.FileExists(p, content)));
        gates.AddRange(values.List(WaitFifo).Select(p => new Gate.Fifo(p)));
        if (values.Flag(WaitStart))
        {
            gates.Add(new Gate.ManualStart(name ?? throw new UsageException("--wait-start needs --name (it is what 'emissary start NAME' names)")));
        }
        if (content && values.List(WaitFile).Count == 0)
        {
            throw new UsageException("--wait-content needs --wait-file");
        }

        return new RunOptions
        {
            Command = commandLine,
            Name = name,
            ControlDir = values.String(ControlDir) ?? ControlDirectory.DefaultRoot,
            Gates = gates,
            WaitTimeout = values.Duration(WaitTimeout),
            RunOnUpstreamFailure = values.Flag(RunOnUpstreamFailure),
            ContinueOnError = values.Choice(OnError, false, ("stopAndFail", false), ("continue", true)),
            Retries = values.Integer(Retries, 0, 1000) ?? 0,
            RetryDelay = values.Duration(RetryDelay) ?? TimeSpan.FromSeconds(1),
            PostFile = values.String(PostFile),
            Policy = new SupervisionPolicy
            {
                OwnProcessGroup = !values.Flag(SingleChild),
                Timeout = values.Duration(Timeout),
                Grace = values.Duration(Grace) ?? TimeSpan.FromSeconds(10),
            },
        };
    }
}
