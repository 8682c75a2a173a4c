using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>
/// A verb of a program. Its command is built only when invoked (start-up cost matters); a
/// forwarded verb belongs to another program (emissary-tools) and gets the whole argv instead.
/// </summary>
internal sealed record Verb(string Name, string Usage, string Summary, Func<CliCommand>? Build)
{
    /// <summary>
    /// Whether the verb supervises child processes and so keeps the signals the native shim
    /// blocked before the runtime started (they are read from a signalfd). Every other verb
    /// releases them at once, so that a TERM ends it the ordinary way.
    /// </summary>
    public bool Supervises { get; init; }

    /// <summary>Runs a verb another program implements, given the verb and the whole argv; returns only if that fails.</summary>
    public Func<string, string[], int>? Forward { get; init; }
}

/// <summary>Picks the verb, parses its options and runs it. Shared by emissary and emissary-tools.</summary>
internal static class CommandLine
{
    /// <summary>Equal to &lt;Version&gt; in Directory.Build.props (VersionTests checks).</summary>
    public const string Version = "0.1.0";

    /// <summary>
    /// An executable's Main: <see cref="Dispatch"/>, with the failure contract every emissary
    /// binary keeps: bad usage is one line and <see cref="ExitCodes.Usage"/>, anything unexpected
    /// one line and <see cref="ExitCodes.EmissaryFailure"/>, never a stack trace.
    /// </summary>
    public static int Main(string[] args, IReadOnlyList<Verb> verbs)
    {
        try
        {
            return Dispatch(args, verbs);
        }
        catch (UsageException e)
        {
            StderrWriter.WriteLine("emissary: " + e.Message);
            return ExitCodes.Usage;
        }
        catch (Exception e)
        {
            StderrWriter.WriteLine($"emissary: internal error: {e.GetType().Name}: {ErrorText.Reason(e)}");
            return ExitCodes.EmissaryFailure;
        }
    }

    public static int Dispatch(string[] args, IReadOnlyList<Verb> verbs)
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

        // Global options may come before the verb: emissary --log-level debug run -- ...,
        // or emissary --log-level=debug status.
        int verbIndex = 0;
        while (verbIndex < options.Length && GlobalOptionWidth(options[verbIndex]) is > 0 and int width)
        {
            verbIndex += width;
        }
        string? verb = verbIndex < options.Length ? options[verbIndex] : null;
        string[] rest = verb is null ? [] : [.. options[..verbIndex], .. options[(verbIndex + 1)..]];
        Verb? found = verbs.FirstOrDefault(v => v.Name == verb);

        if (found is not { Supervises: true })
        {
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

        if (found is null)
        {
            string? guess = DidYouMean.Closest(verb, verbs.Select(v => v.Name));
            throw new UsageException($"unknown command '{verb}'{(guess is null ? "" : $" (did you mean '{guess}'?)")} (see: emissary --help)");
        }
        if (found.Forward is { } forward)
        {
            return forward(found.Name, args);
        }
        CliCommand command = (found.Build ?? throw new InvalidOperationException($"verb '{found.Name}' has neither a command nor a forward"))();
        if (rest.Contains("-h") || rest.Contains("--help"))
        {
            StderrWriter.Write(1, command.Help(OptionValues.Global));
            return ExitCodes.Success;
        }
        return command.Action(CliParser.Parse(command, OptionValues.Global, rest, payload));
    }

    /// <summary>How many arguments a global option before the verb takes up (2, or 1 with "="); 0 when it is not one.</summary>
    private static int GlobalOptionWidth(string arg)
    {
        foreach (CliOption option in OptionValues.Global)
        {
            if (arg == option.Name)
            {
                return 2;
            }
            if (arg.StartsWith(option.Name + "=", StringComparison.Ordinal))
            {
                return 1;
            }
        }
        return 0;
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
        text.Append("\nRun 'emissary COMMAND --help' for a command's options. Exit codes and files: see README.md and docs/commands.md.\n");
        return text.ToString();
    }
}
