using Emissary.Cli;
using Emissary.Commands;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.Local;

namespace Emissary.Tools.Cli;

internal static class LocalCli
{
    private static readonly CliOption Engine = CliOption.Value("--engine", "ENGINE", "process (default): each container's command as a local process, images ignored; podman: the rewritten pod in real containers (podman kube play)");
    private static readonly CliOption Image = CliOption.Value("--image", "IMAGE", $"With --engine podman: the image of the emissary-init container (default {PodmanPod.DefaultImage})");
    private static readonly CliOption OutputDir = CliOption.Value("--output-dir", "DIR", "Keep each step's output in DIR/NAME.stdout and DIR/NAME.stderr instead of printing it prefixed");
    private static readonly CliOption Events = CliOption.Value("--events", "FILE", "Write every state change as a JSON line (time, step, state, exitCode, reason, message)");
    private static readonly CliOption TimelineSvg = CliOption.Value("--timeline", "FILE.svg", "Write the timeline as an SVG picture");
    private static readonly CliOption Grace = CliOption.Value("--grace", "DURATION", "On Ctrl-C: time between SIGTERM and SIGKILL (default 10s)");
    private static readonly CliOption Entrypoints = CliOption.Value("--entrypoints", "FILE", "Images' entrypoints, for containers without a command (as for rewrite)");
    private static readonly CliOption MaxRestarts = CliOption.Value("--max-restarts", "N", $"Process engine: restart a step whose restartPolicy or restartPolicyRules restart it at most N times (default {LocalRestarts.DefaultMaxRestarts}; back-off 100ms doubling to 2s), then leave it failed");
    private static readonly CliOption Keep = CliOption.Flag("--keep", "Keep the temporary control directory (with --engine podman: the pod and its volumes)");
    private static readonly CliOption Plain = CliOption.Flag("--plain", "Line-by-line progress even on a terminal");
    private static readonly CliOption Debug = CliOption.Flag("--debug", "Every step pauses when it fails (--breakpoint on-failure): a shell opens in its context, then continue, fail or rerun it (needs a terminal)");

    public static CliCommand Build() => new("local",
        "Run a pod's step graph on this machine, in the declared order, with a live view and a timeline: each container's command as a local process supervised by 'emissary run', or (--engine podman) the rewritten pod in real containers.",
        "local FILE [options]")
    {
        Arguments = { new CliArgument("FILE", "A Pod, or a workload with a pod template (YAML or JSON; - for stdin)") },
        Options = { Engine, Image, OutputDir, Events, TimelineSvg, Grace, Entrypoints, MaxRestarts, Keep, Plain, Debug },
        Action = parsed =>
        {
            var values = new OptionValues(parsed, Environment.GetEnvironmentVariable);
            return LocalCommand.Execute(Bind(values), values.CreateLogger(step: null));
        },
    };

    internal static LocalRequest Bind(OptionValues values) => new()
    {
        File = values.Parsed.Arguments[0],
        Engine = values.Choice(Engine, LocalEngineKind.Process, ("process", LocalEngineKind.Process), ("podman", LocalEngineKind.Podman)),
        Image = values.String(Image) ?? PodmanPod.DefaultImage,
        OutputDirectory = values.String(OutputDir),
        EventsFile = values.String(Events),
        TimelineSvg = values.String(TimelineSvg),
        Grace = values.Duration(Grace) ?? TimeSpan.FromSeconds(10),
        EntrypointsFile = values.String(Entrypoints),
        MaxRestarts = values.Integer(MaxRestarts, 0, 100) ?? LocalRestarts.DefaultMaxRestarts,
        KeepControlDirectory = values.Flag(Keep),
        Plain = values.Flag(Plain),
        Debug = values.Flag(Debug),
    };
}
