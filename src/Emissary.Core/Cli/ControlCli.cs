using Emissary.Commands;
using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Logging;

namespace Emissary.Cli;

/// <summary>The commandlets for `kubectl exec`: signal, start, skip, status.</summary>
internal static class ControlCli
{
    private static readonly CliOption ControlDir = CliOption.Value("--control-dir", "DIR", $"The shared control directory (default {ControlDirectory.DefaultRoot})");
    private static readonly CliOption Json = CliOption.Flag("--json", "Print JSON instead of a table");

    private static ControlDirectory Directory(ParsedCommand parsed) =>
        new(new OptionValues(parsed, Environment.GetEnvironmentVariable).String(ControlDir) ?? ControlDirectory.DefaultRoot);

    public static CliCommand Signal() => new("signal",
        "Send SIGNAL (name or number) to step NAME's process group, through the control directory.",
        "signal NAME SIGNAL")
    {
        Arguments = { new CliArgument("NAME", "The step"), new CliArgument("SIGNAL", "TERM, SIGUSR1, 9, ...") },
        Options = { ControlDir },
        Action = parsed => Guard(() =>
        {
            string text = parsed.Arguments[1];
            if (!Signals.TryParse(text, out int signal))
            {
                throw new UsageException($"'{text}' is not a signal (use a name such as TERM or USR1, or a number from 1 to 64)");
            }
            ControlCommands.Signal(Directory(parsed), parsed.Arguments[0], signal);
            return "";
        }),
    };

    public static CliCommand Start() => Release("start", start: true, "Open the --wait-start gate of step NAME: it starts now.");

    public static CliCommand Skip() => Release("skip", start: false, "Fail the --wait-start gate of step NAME: it is recorded as skipped, and the steps after it stop too.");

    private static CliCommand Release(string verb, bool start, string summary) => new(verb, summary, verb + " NAME")
    {
        Arguments = { new CliArgument("NAME", "The step") },
        Options = { ControlDir },
        Action = parsed => Guard(() => ControlCommands.Release(Directory(parsed), parsed.Arguments[0], start)),
    };

    public static CliCommand Status() => new("status", "Show every step in the control directory: state, exit code, times.", "status [--json]")
    {
        Options = { ControlDir, Json },
        Action = parsed =>
        {
            bool json = new OptionValues(parsed, Environment.GetEnvironmentVariable).Flag(Json);
            return Guard(() =>
            {
                StderrWriter.Write(1, ControlCommands.Status(Directory(parsed), json, DateTimeOffset.UtcNow));
                return "";
            });
        },
    };

    /// <summary>Commandlet failures: one line on stderr and their documented exit code.</summary>
    private static int Guard(Func<string> action)
    {
        try
        {
            string note = action();
            if (note.Length > 0)
            {
                StderrWriter.WriteLine("emissary: " + note);
            }
            return ExitCodes.Success;
        }
        catch (CommandletException e)
        {
            StderrWriter.WriteLine("emissary: " + e.Message);
            return e.ExitCode;
        }
    }
}
