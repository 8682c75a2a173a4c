using System.Text;
using Emissary.Cli;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Supervision;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary;

/// <summary>CLI wiring only: pick the verb, parse its options, hand them to the command.</summary>
internal static class Program
{
    /// <summary>Kept equal to the project's &lt;Version&gt; (a unit test checks).</summary>
    public const string Version = "0.1.0";

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
            StderrWriter.WriteLine($"emissary: internal error: {e.GetType().Name}: {ErrorText.Reason(e)}");
            return ExitCodes.EmissaryFailure;
        }
    }

    /// <summary>Every verb, built only when asked for (start-up cost matters: README, "Benchmarks").</summary>
    private static readonly (string Name, Func<CliCommand> Build)[] Verbs =
    [
        ("init", InitCli.Build),
        ("run", RunCli.Build),
        ("signal", ControlCli.Signal),
        ("start", ControlCli.Start),
        ("skip", ControlCli.Skip),
        ("status", ControlCli.Status),
    ];

    private static int Dispatch(string[] args)
    {
        // `run` takes everything after the first `--` verbatim as the command: split it off before
        // parsing so that no flag of the command is ever read as one of ours.
        string[]? payload = null;
        int separator = Array.IndexOf(args, "--");
        if (separator >= 0)
        {
            payload = args[(separator + 1)..];
            args = args[..separator];
        }

        // Global options may come before the verb: emissary --log-level debug run -- ...
        int verbIndex = 0;
        while (verbIndex < args.Length && OptionValues.Global.Any(o => args[verbIndex] == o.Name))
        {
            verbIndex += 2;
        }
        string? verb = verbIndex < args.Length ? args[verbIndex] : null;
        string[] rest = verb is null ? [] : [.. args[..verbIndex], .. args[(verbIndex + 1)..]];

        if (verb != "run")
        {
            // Only supervising commands keep the signals the shim blocked for them.
            Shim.ReleaseSignals();
        }

        switch (verb)
        {
            case null:
                throw new UsageException("no command given (see: emissary --help)");
            case "-h" or "--help" or "help":
                StderrWriter.Write(1, RootHelp());
                return ExitCodes.Success;
            case "--version" or "version":
                StderrWriter.Write(1, Version + "\n");
                return ExitCodes.Success;
        }

        Func<CliCommand>? build = Verbs.FirstOrDefault(v => v.Name == verb).Build;
        if (build is null)
        {
            string? guess = DidYouMean.Closest(verb, Verbs.Select(v => v.Name));
            throw new UsageException($"unknown command '{verb}'{(guess is null ? "" : $" (did you mean '{guess}'?)")} (see: emissary --help)");
        }
        CliCommand command = build();
        if (rest.Contains("-h") || rest.Contains("--help"))
        {
            StderrWriter.Write(1, command.Help(OptionValues.Global));
            return ExitCodes.Success;
        }
        return command.Action(CliParser.Parse(command, OptionValues.Global, rest, payload));
    }

    private static string RootHelp()
    {
        var text = new StringBuilder();
        text.Append("Emissary ").Append(Version).Append(": run the containers of a Kubernetes pod as ordered workflow steps.\n\n");
        text.Append("Usage: emissary COMMAND [options]\n\nCommands:\n");
        foreach ((string _, Func<CliCommand> build) in Verbs)
        {
            CliCommand command = build();
            CliCommand.AppendRow(text, command.Usage, command.Summary);
        }
        text.Append("\nRun 'emissary COMMAND --help' for a command's options. Exit codes and files: see README.\n");
        return text.ToString();
    }
}
