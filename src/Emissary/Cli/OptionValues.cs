using System.CommandLine;
using Emissary.Logging;
using Microsoft.Extensions.Logging;

namespace Emissary.Cli;

/// <summary>
/// Reads an option from the command line, or else from its EMISSARY_* environment variable
/// (pod specs set env vars more easily than args), validating both the same way.
/// </summary>
internal sealed class OptionValues(ParseResult result, Func<string, string?> environment)
{
    public static string EnvName(Option option) =>
        "EMISSARY_" + option.Name.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    public string? String(Option<string> option)
    {
        if (result.GetResult(option) is { Implicit: false })
        {
            return result.GetValue(option);
        }
        string? fromEnv = environment(EnvName(option));
        return string.IsNullOrEmpty(fromEnv) ? null : fromEnv;
    }

    /// <summary>Repeatable options; each value, and the variable, may hold a comma-separated list.</summary>
    public IReadOnlyList<string> List(Option<string[]> option)
    {
        if (result.GetResult(option) is { Implicit: false })
        {
            return (result.GetValue(option) ?? [])
                .SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .ToArray();
        }
        string? fromEnv = environment(EnvName(option));
        return string.IsNullOrEmpty(fromEnv)
            ? []
            : fromEnv.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public bool Flag(Option<bool> option)
    {
        if (result.GetResult(option) is { Implicit: false })
        {
            return result.GetValue(option);
        }
        string? fromEnv = environment(EnvName(option));
        return fromEnv?.Trim().ToLowerInvariant() switch
        {
            null or "" or "0" or "false" or "no" => false,
            "1" or "true" or "yes" => true,
            _ => throw new UsageException($"{EnvName(option)}={fromEnv}: expected true or false"),
        };
    }

    public TimeSpan? Duration(Option<string> option) => String(option) is { } text
        ? Cli.Duration.TryParse(text, out TimeSpan value) ? value : throw new UsageException($"{Describe(option)}: '{text}' is not a duration (e.g. 30s, 1m30s, 500ms)")
        : null;

    public int? Integer(Option<string> option, int min, int max) => String(option) is { } text
        ? int.TryParse(text, out int value) && value >= min && value <= max ? value : throw new UsageException($"{Describe(option)}: '{text}' is not a whole number from {min} to {max}")
        : null;

    public T Choice<T>(Option<string> option, T fallback, params (string Name, T Value)[] choices)
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

    private string Describe(Option option) =>
        result.GetResult(option) is { Implicit: false } ? option.Name : $"{option.Name} (from {EnvName(option)})";

    // The logging options every command shares.
    public static readonly Option<string> LogLevelOption = new("--log-level")
    {
        Description = "trace, debug, info, warning (default), error or none [env EMISSARY_LOG_LEVEL]",
        Recursive = true,
    };

    public static readonly Option<string> LogFormatOption = new("--log-format")
    {
        Description = "text (default) or json [env EMISSARY_LOG_FORMAT]",
        Recursive = true,
    };

    public LogLevel LogLevel() => Choice(LogLevelOption, Microsoft.Extensions.Logging.LogLevel.Warning,
        ("trace", Microsoft.Extensions.Logging.LogLevel.Trace), ("debug", Microsoft.Extensions.Logging.LogLevel.Debug),
        ("info", Microsoft.Extensions.Logging.LogLevel.Information), ("information", Microsoft.Extensions.Logging.LogLevel.Information),
        ("warning", Microsoft.Extensions.Logging.LogLevel.Warning), ("warn", Microsoft.Extensions.Logging.LogLevel.Warning),
        ("error", Microsoft.Extensions.Logging.LogLevel.Error), ("none", Microsoft.Extensions.Logging.LogLevel.None));

    public LogFormat LogFormat() => Choice(LogFormatOption, Logging.LogFormat.Text, ("text", Logging.LogFormat.Text), ("json", Logging.LogFormat.Json));
}
