using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>
/// Reads an option from the command line, or else from its EMISSARY_* environment variable
/// (pod specs set env vars more easily than args), validating both the same way. A null
/// <paramref name="environment"/> means there is no such variable (<see cref="SettingVariables.Lookup"/>).
/// </summary>
internal sealed class OptionValues(ParsedCommand parsed, Func<string, string?>? environment)
{
    public ParsedCommand Parsed => parsed;

    public string? String(CliOption option)
    {
        if (parsed.Last(option) is { } given)
        {
            return given;
        }
        string? fromEnv = FromEnvironment(option);
        return string.IsNullOrEmpty(fromEnv) ? null : fromEnv;
    }

    /// <summary>Repeatable options; each value, and the variable, may hold a comma-separated list.</summary>
    public string[] List(CliOption option)
    {
        IReadOnlyList<string> raw;
        if (parsed.IsGiven(option))
        {
            raw = parsed.All(option); // the parser refused empty values and items
        }
        else if (FromEnvironment(option) is { Length: > 0 } fromEnv)
        {
            if (fromEnv.Split(',').Any(string.IsNullOrWhiteSpace))
            {
                throw new UsageException($"{option.EnvName}={ErrorText.Quote(fromEnv)}: empty item in the comma-separated list");
            }
            raw = [fromEnv];
        }
        else
        {
            // Not even an enumerator: MoveNext on the shared empty one writes to the binary's data
            // (a copy-on-write fault on every start, for nothing).
            return [];
        }
        return raw.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    public bool Flag(CliOption option)
    {
        if (parsed.Last(option) is { } given)
        {
            return given == "true";
        }
        string? fromEnv = FromEnvironment(option);
        return fromEnv?.Trim().ToLowerInvariant() switch
        {
            null or "" or "0" or "false" or "no" => false,
            "1" or "true" or "yes" => true,
            _ => throw new UsageException($"{option.EnvName}={fromEnv}: expected true or false"),
        };
    }

    public TimeSpan? Duration(CliOption option) => String(option) is { } text
        ? Foundation.Duration.TryParse(text, out TimeSpan value) ? value : throw new UsageException($"{Describe(option)}: '{text}' is not a duration (e.g. 30s, 1m30s, 500ms)")
        : null;

    public int? Integer(CliOption option, int min, int max) => String(option) is { } text
        ? int.TryParse(text, out int value) && value >= min && value <= max ? value : throw new UsageException($"{Describe(option)}: '{text}' is not a whole number from {min} to {max}")
        : null;

    public T Choice<T>(CliOption option, T fallback, params (string Name, T Value)[] choices)
    {
        if (String(option) is not { } text)
        {
            return fallback;
        }
        foreach ((string name, T value) in choices)
        {
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }
        throw new UsageException($"{Describe(option)}: '{text}' is not one of {string.Join(", ", choices.Select(c => c.Name).Distinct())}");
    }

    private string? FromEnvironment(CliOption option) => environment?.Invoke(option.EnvName);

    private string Describe(CliOption option) => parsed.IsGiven(option) ? option.Name : $"{option.Name} (from {option.EnvName})";

    // The options every command accepts.
    public static readonly CliOption LogLevelOption = CliOption.Value("--log-level", "LEVEL", "trace, debug, info, warning (default), error or none");

    public static readonly CliOption LogFormatOption = CliOption.Value("--log-format", "FORMAT", "text (default) or json");

    public static readonly CliOption[] Global = [LogLevelOption, LogFormatOption];

    public LogLevel LogLevel() => Choice(LogLevelOption, Logging.LogLevel.Warning,
        ("trace", Logging.LogLevel.Trace), ("debug", Logging.LogLevel.Debug),
        ("info", Logging.LogLevel.Information), ("information", Logging.LogLevel.Information),
        ("warning", Logging.LogLevel.Warning), ("warn", Logging.LogLevel.Warning),
        ("error", Logging.LogLevel.Error), ("none", Logging.LogLevel.None));

    public LogFormat LogFormat() => Choice(LogFormatOption, Logging.LogFormat.Text, ("text", Logging.LogFormat.Text), ("json", Logging.LogFormat.Json));

    /// <summary>The logger for this command, configured from --log-level/--log-format.</summary>
    public ILogger CreateLogger(string? step) => new StderrLogger(LogLevel(), LogFormat(), step);
}
