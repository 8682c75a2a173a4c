using System.Text;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Supervision;

namespace Emissary.Cli;

/// <summary>A verb of a program: built only when invoked (start-up cost matters).</summary>
internal sealed record Verb(string Name, string Usage, string Summary, Func<CliCommand> Build);

/// <summary>Picks the verb, parses its options and runs it. Shared by emissary and emissary-tools.</summary>
internal static class CommandLine
{
    /// <summary>Equal to     public const string Version = "0.1.0";lt;Version    public const string Version = "0.1.0";gt; in Directory.Build.props (VersionTests checks).</summary>
    public const string Version = "0.1.0";

    public static int Dispatch(string[] args, IReadOnlyList<Verb> verbs, Func<string, string[], int?>? external = null)
    {
        // `run` takes everything after the first `--` verbatim as the command: split it off before
        // parsing so that no flag of the command is ever read as one of ours.
        string[]? payload = null;
        int separator = Array.IndexOf(args, "--");
        string[] options = args;
        if (separator >= 0)
        {
            payload = args[(separator + 1)..];
            options = args[..separator];
        }

        // Global options may come before the verb: emissary --log-level debug run -- ...
        int verbIndex = 0;
        while (verbIndex < options.Length && OptionValues.Global.Any(o => options[verbIndex] == o.Name))
        {
            verbIndex += 2;
        }
        string? verb = verbIndex < options.Length ? options[verbIndex] : null;
        string[] rest = verb is null ? [] : [.. options[..verbIndex], .. options[(verbIndex + 1)..]];

        if (verb is not ("run" or "local"))
        {
            // Only supervising commands keep the signals the shim blocked for them.
            Shim.ReleaseSignals();
        }

        switch (verb)
        {
            case null:
                throw new UsageException("no command given (see: emissary --help)");
            case "-h" or "--help" or "help":
                StderrWriter.Write(1, RootHelp(verbs));
                return ExitCodes.Success;
            case "--version" or "version":
                StderrWriter.Write(1, Version + "\n");
                return ExitCodes.Success;
        }

        if (external?.Invoke(verb, args) is { } code)
        {
            return code;
        }
        Verb? found = verbs.FirstOrDefault(v => v.Name == verb);
        if (found is null)
        {
            string? guess = DidYouMean.Closest(verb, verbs.Select(v => v.Name));
            throw new UsageException($"unknown command '{verb}'{(guess is null ? "" : $" (did you mean '{guess}'?)")} (see: emissary --help)");
        }
        CliCommand command = found.Build();
        if (rest.Contains("-h") || rest.Contains("--help"))
        {
            StderrWriter.Write(1, command.Help(OptionValues.Global));
            return ExitCodes.Success;
        }
        return command.Action(CliParser.Parse(command, OptionValues.Global, rest, payload));
    }

    private static string RootHelp(IReadOnlyList<Verb> verbs)
    {
        var text = new StringBuilder();
        text.Append("Emissary ").Append(Version).Append(": run the containers of a Kubernetes pod as ordered workflow steps.\n\n");
        text.Append("Usage: emissary COMMAND [options]\n\nCommands:\n");
        foreach (Verb verb in verbs)
        {
            CliCommand.AppendRow(text, verb.Usage, verb.Summary);
        }
        text.Append("\nRun 'emissary COMMAND --help' for a command's options. Exit codes and files: see README.\n");
        return text.ToString();
    }
}
