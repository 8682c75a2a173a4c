using Emissary.Commands;

namespace Emissary.Cli;

internal static class LocalCli
{
    private static readonly CliOption OutputDir = CliOption.Value("--output-dir", "DIR", "Keep each step's output in DIR/NAME.stdout and DIR/NAME.stderr instead of printing it prefixed");
    private static readonly CliOption Events = CliOption.Value("--events", "FILE", "Write every state change as a JSON line (time, step, state, exitCode, reason, message)");
    private static readonly CliOption TimelineSvg = CliOption.Value("--timeline", "FILE.svg", "Write the timeline as an SVG picture");
    private static readonly CliOption Grace = CliOption.Value("--grace", "DURATION", "On Ctrl-C: time between SIGTERM and SIGKILL (default 10s)");
    private static readonly CliOption Entrypoints = CliOption.Value("--entrypoints", "FILE", "Images' entrypoints, for containers without a command (as for rewrite)");
    private static readonly CliOption Keep = CliOption.Flag("--keep", "Keep the temporary control directory (its path is printed)");
    private static readonly CliOption Plain = CliOption.Flag("--plain", "Line-by-line progress even on a terminal");

    public static CliCommand Build() => new("local",
        "Run a pod's step graph on this machine: each container's command as a local process supervised by 'emissary run', in the declared order, with a live view and a timeline.",
        "local FILE [options]")
    {
        Arguments = { new CliArgument("FILE", "A Pod, or a workload with a pod template (YAML or JSON; - for stdin)") },
        Options = { OutputDir, Events, TimelineSvg, Grace, Entrypoints, Keep, Plain },
        Action = parsed =>
        {
            var values = new OptionValues(parsed, Environment.GetEnvironmentVariable);
            return LocalCommand.Execute(new LocalRequest
            {
                File = parsed.Arguments[0],
                OutputDirectory = values.String(OutputDir),
                EventsFile = values.String(Events),
                TimelineSvg = values.String(TimelineSvg),
                Grace = values.Duration(Grace) ?? TimeSpan.FromSeconds(10),
                EntrypointsFile = values.String(Entrypoints),
                KeepControlDirectory = values.Flag(Keep),
                Plain = values.Flag(Plain),
            }, values.CreateLogger(step: null));
        },
    };
}
