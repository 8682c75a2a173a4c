using System.CommandLine;
using Emissary.Commands;
using Emissary.Logging;
using Emissary.Supervision;
using Microsoft.Extensions.Logging;

namespace Emissary.Cli;

internal static class RunCli
{
    private static readonly Option<bool> SingleChild = new("--single-child")
    {
        Description = "Keep the child in emissary's process group and signal only the child [env EMISSARY_SINGLE_CHILD]",
    };

    private static readonly Option<string> Timeout = new("--timeout")
    {
        Description = "Stop the command after DURATION: SIGTERM to its group, SIGKILL after --grace; exit 124 [env EMISSARY_TIMEOUT]",
    };

    private static readonly Option<string> Grace = new("--grace")
    {
        Description = "Time between SIGTERM and SIGKILL when stopping the command (default 10s) [env EMISSARY_GRACE]",
    };

    public static Command Build(string[]? commandLine)
    {
        var command = new Command("run", "Run COMMAND as a supervised child: forward signals, reap zombies, report its exit code. Usage: emissary run [options] -- COMMAND [ARGS...]")
        {
            SingleChild,
            Timeout,
            Grace,
        };
        command.SetAction(result =>
        {
            var values = new OptionValues(result, Environment.GetEnvironmentVariable);
            ILogger logger = CreateLogger(values, step: null);
            RunOptions options = Bind(values, commandLine);
            return RunCommand.Execute(options, logger);
        });
        return command;
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
        return new RunOptions
        {
            Command = commandLine,
            Policy = new SupervisionPolicy
            {
                OwnProcessGroup = !values.Flag(SingleChild),
                Timeout = values.Duration(Timeout),
                Grace = values.Duration(Grace) ?? TimeSpan.FromSeconds(10),
            },
        };
    }

    internal static ILogger CreateLogger(OptionValues values, string? step) =>
        new StderrLoggerProvider(values.LogLevel(), values.LogFormat(), step).CreateLogger("emissary");
}
