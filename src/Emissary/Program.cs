using System.CommandLine;
using Emissary.Cli;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Supervision;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary;

/// <summary>System.CommandLine wiring only: parse → options record → command.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return Dispatch(args);
        }
        catch (UsageException e)
        {
            StderrWriter.WriteLine("emissary: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (Exception e)
        {
            // Never a stack trace: one line that says what failed.
            StderrWriter.WriteLine($"emissary: internal error: {e.GetType().Name}: {e.Message}");
            return ExitCodes.EmissaryFailure;
        }
    }

    private static int Dispatch(string[] args)
    {
        // `run` takes everything after `--` verbatim as the command: split it off before parsing so
        // that no flag of the command is ever read as one of ours.
        string[]? command = null;
        int separator = Array.IndexOf(args, "--");
        if (separator >= 0)
        {
            command = args[(separator + 1)..];
            args = args[..separator];
        }

        bool supervises = args.Length > 0 && args[0] == "run";
        if (!supervises)
        {
            // Only supervising commands keep the signals the shim blocked for them.
            Shim.ReleaseSignals();
        }

        RootCommand root = BuildRoot(command);
        ParseResult result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            if (supervises && command is null && !args.Contains("--help") && !args.Contains("-h"))
            {
                throw new UsageException("missing '--' before the command (usage: emissary run [options] -- COMMAND [ARGS...])");
            }
            string hint = result.CommandResult.Command is { } c && c != root ? $" (see: emissary {c.Name} --help)" : " (see: emissary --help)";
            throw new UsageException(result.Errors[0].Message + hint);
        }
        if (command is not null && result.CommandResult.Command.Name != "run")
        {
            throw new UsageException($"'--' is only meaningful for 'emissary run' (see: emissary --help)");
        }
        return result.Invoke(new InvocationConfiguration
        {
            // We own signal handling: System.CommandLine must not turn SIGTERM into its own exit.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        });
    }

    private static RootCommand BuildRoot(string[]? command)
    {
        var root = new RootCommand("Emissary: run the containers of a Kubernetes pod as ordered workflow steps.");
        root.Options.Add(OptionValues.LogLevelOption);
        root.Options.Add(OptionValues.LogFormatOption);
        root.Subcommands.Add(InitCli.Build());
        root.Subcommands.Add(RunCli.Build(command));
        return root;
    }
}
