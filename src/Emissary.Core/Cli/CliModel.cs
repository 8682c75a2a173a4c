using System.Text;
using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>How an option takes its value.</summary>
internal enum ArgKind
{
    /// <summary>--flag (or --flag=true|false).</summary>
    Flag,

    /// <summary>--opt VALUE or --opt=VALUE; the last one given wins.</summary>
    Value,

    /// <summary>Repeatable --opt VALUE; values may also be comma-separated.</summary>
    List,
}

/// <summary>One option of a command. Every option can also be set with EMISSARY_&lt;NAME&gt;.</summary>
internal sealed class CliOption(string name, ArgKind kind, string description, string valueName = "VALUE")
{
    public string Name { get; } = name;

    public ArgKind Kind { get; } = kind;

    public string Description { get; } = description;

    public string ValueName { get; } = valueName;

    /// <summary>An optional one-letter alias, e.g. "-o" for "--output" (no environment variable of its own).</summary>
    public string? ShortName { get; init; }

    /// <summary>
    /// --wait-timeout → EMISSARY_WAIT_TIMEOUT. Made when first asked for: a command builds its
    /// whole option table at every start, and most starts read no variable at all.
    /// </summary>
    public string EnvName => _envName ??= EnvNameOf(Name);

    private string? _envName;

    private static string EnvNameOf(string name)
    {
        ReadOnlySpan<char> bare = name.AsSpan().TrimStart('-');
        return string.Create(SettingVariables.Prefix.Length + bare.Length, name, static (text, name) =>
        {
            SettingVariables.Prefix.CopyTo(text);
            ReadOnlySpan<char> bare = name.AsSpan().TrimStart('-');
            for (int i = 0; i < bare.Length; i++)
            {
                char c = bare[i];
                text[SettingVariables.Prefix.Length + i] = c == '-' ? '_' : char.ToUpperInvariant(c);
            }
        });
    }

    public static CliOption Flag(string name, string description) => new(name, ArgKind.Flag, description);

    public static CliOption Value(string name, string valueName, string description) => new(name, ArgKind.Value, description, valueName);

    public static CliOption List(string name, string valueName, string description) => new(name, ArgKind.List, description, valueName);
}

/// <summary>A positional argument. Only the last one may repeat (FILE...).</summary>
internal sealed record CliArgument(string Name, string Description, bool Required = true, bool Repeats = false);

/// <summary>A verb: its options, arguments, help text and action.</summary>
internal sealed class CliCommand(string name, string summary, string usage)
{
    public string Name { get; } = name;

    public string Summary { get; } = summary;

    /// <summary>The usage line after "emissary", e.g. "run [options] -- COMMAND [ARGS...]".</summary>
    public string Usage { get; } = usage;

    public List<CliOption> Options { get; } = [];

    public List<CliArgument> Arguments { get; } = [];

    /// <summary>Whether everything after "--" is this command's payload (run).</summary>
    public bool TakesCommand { get; init; }

    public required Func<ParsedCommand, int> Action { get; init; }

    public string Help(IReadOnlyList<CliOption> globalOptions)
    {
        var text = new StringBuilder();
        text.Append("Usage: emissary ").Append(Usage).Append("\n\n").Append(Summary).Append('\n');
        if (Arguments.Count > 0)
        {
            text.Append("\nArguments:\n");
            foreach (CliArgument argument in Arguments)
            {
                AppendRow(text, argument.Name, argument.Description);
            }
        }
        text.Append("\nOptions (each also settable as EMISSARY_<OPTION>, e.g. ")
            .Append(Options.Count > 0 ? Options[0].EnvName : globalOptions[0].EnvName).Append("):\n");
        foreach (CliOption option in Options.Concat(globalOptions))
        {
            string names = option.ShortName is null ? option.Name : $"{option.ShortName}, {option.Name}";
            AppendRow(text, option.Kind == ArgKind.Flag ? names : $"{names} {option.ValueName}", option.Description);
        }
        AppendRow(text, "-h, --help", "Show this help");
        return text.ToString();
    }

    internal static void AppendRow(StringBuilder text, string left, string right)
    {
        text.Append("  ").Append(left);
        text.Append(left.Length < 28 ? new string(' ', 28 - left.Length) : "\n" + new string(' ', 30));
        text.Append(right).Append('\n');
    }
}

/// <summary>What the command line said for one command.</summary>
internal sealed class ParsedCommand(CliCommand command, Dictionary<CliOption, List<string>> given, IReadOnlyList<string> arguments, string[]? payload)
{
    public CliCommand Command { get; } = command;

    public IReadOnlyList<string> Arguments { get; } = arguments;

    /// <summary>Everything after "--", or null when there was no "--".</summary>
    public string[]? Payload { get; } = payload;

    public bool IsGiven(CliOption option) => given.ContainsKey(option);

    public IReadOnlyList<string> All(CliOption option) => given.TryGetValue(option, out List<string>? values) ? values : [];

    public string? Last(CliOption option) => given.TryGetValue(option, out List<string>? values) ? values[^1] : null;
}
