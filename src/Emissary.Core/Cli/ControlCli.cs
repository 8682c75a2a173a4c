using Emissary.Commands;
using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Logging;

namespace Emissary.Cli;

/// <summary>The commandlets for `kubectl exec`: signal, start, skip, status, debug.</summary>
internal static class ControlCli
{
    private static readonly CliOption ControlDir = CliOption.Value("--control-dir", "DIR", $"The shared control directory (default {ControlDirectory.DefaultRoot})");
    private static readonly CliOption Json = CliOption.Flag("--json", "Print JSON instead of a table");

    private static ControlDirectory Directory(ParsedCommand parsed) =>
        new(new OptionValues(parsed, SettingVariables.Lookup()).String(ControlDir) ?? ControlDirectory.DefaultRoot);

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

    private static readonly CliOption Values = CliOption.Flag("--values", "env: show the values too (in the step's container)");

    public static CliCommand Debug() => new("debug",
        "Resume a paused step (continue, fail, rerun), pause one, or show its command (env).",
        "debug continue|fail|rerun|pause|env NAME [--values]")
    {
        Arguments = { new CliArgument("ACTION", "continue|fail|rerun|pause|env"), new CliArgument("NAME", "The step") },
        Options = { ControlDir, Values },
        Action = parsed =>
        {
            (string action, string name) = (parsed.Arguments[0], parsed.Arguments[1]);
            bool values = new OptionValues(parsed, SettingVariables.Lookup()).Flag(Values);
            DebugRequest? request = action == "env" ? null
                : DebugRequests.Parse(System.Text.Encoding.ASCII.GetBytes(action)) ?? throw new UsageException($"debug: unknown action '{action}'");
            if (values && request is not null)
            {
                throw new UsageException("--values goes with 'debug env'");
            }
            return Guard(() =>
            {
                if (request is { } r)
                {
                    ControlCommands.Debug(Directory(parsed), name, r);
                }
                else
                {
                    StderrWriter.Write(1, ControlCommands.Env(Directory(parsed), name, values));
                }
                return "";
            });
        },
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
            bool json = new OptionValues(parsed, SettingVariables.Lookup()).Flag(Json);
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
