using Emissary.Foundation.Sequences;
using System.Text;

namespace Emissary.Tekton;

/// <summary>How a Go flag takes its value (the <c>flag</c> package's Value kinds Tekton's entrypoint uses).</summary>
internal enum GoFlagKind
{
    String,

    /// <summary>IsBoolFlag: <c>-name</c> alone sets it; a value only as <c>-name=v</c>.</summary>
    Bool,

    /// <summary>time.Duration (Go syntax).</summary>
    Duration,

    /// <summary>A repeatable flag whose Set does the work (the credential flags).</summary>
    Repeated,
}

/// <summary>One flag of the command line: its name, kind, default (as Go prints it) and help text.</summary>
internal sealed record GoFlag(string Name, GoFlagKind Kind, string Usage, string Default = "");

/// <summary>A command line Go's <c>flag.ExitOnError</c> would reject: the message Go prints before the usage (exit 2).</summary>
internal sealed class GoFlagException(string message) : Exception(message);

/// <summary>What the parse found: the last value of each flag, every value of a repeated flag, and the arguments after the flags.</summary>
internal sealed class GoFlagValues
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);

    /// <summary><c>flag.Args()</c>: what follows the flags (only used to find a subcommand).</summary>
    public IReadOnlyList<string> Positional { get; internal set; } = [];

    /// <summary><c>-h</c> or <c>-help</c> was given (Go prints the usage and exits 0).</summary>
    public bool HelpRequested { get; init; }

    internal void Set(GoFlag flag, string value)
    {
        _values[flag.Name] = value;
        if (flag.Kind == GoFlagKind.Repeated)
        {
            if (!_repeated.TryGetValue(flag.Name, out List<string>? list))
            {
                _repeated[flag.Name] = list = [];
            }
            list.Add(value);
        }
    }

    public string? String(string name) => _values.TryGetValue(name, out string? v) ? v : null;

    public bool Bool(string name) => _values.TryGetValue(name, out string? v) && GoFlags.ParseBool(v) == true;

    public IReadOnlyList<string> All(string name) => _repeated.TryGetValue(name, out List<string>? list) ? list : [];
}

/// <summary>
/// Go's standard <c>flag</c> package syntax, as Tekton's entrypoint parses its command line with
/// <c>flag.CommandLine</c> (ExitOnError): <c>-name value</c>, <c>-name=value</c>, the same with
/// <c>--</c>; a bool flag takes a value only as <c>-name=value</c> (<c>-name false</c> leaves
/// <c>false</c> as the first positional argument); parsing stops at the first argument that is
/// not a flag (<c>-</c> alone included) or after a <c>--</c>, which is consumed. Errors carry Go's
/// own wording ("flag provided but not defined: -x", "flag needs an argument: -x", "bad flag
/// syntax: ---x", "invalid boolean value ..."), because a user compares them with Tekton's.
/// </summary>
internal static class GoFlags
{
    public static GoFlagValues Parse(IReadOnlyList<GoFlag> flags, IReadOnlyList<string> args, Func<GoFlag, string, string?>? validate = null)
    {
        var values = new GoFlagValues();
        int i = 0;
        while (i < args.Count)
        {
            string s = args[i];
            if (s.Length < 2 || s[0] != '-')
            {
                break;
            }
            int minuses = 1;
            if (s[1] == '-')
            {
                minuses = 2;
                if (s.Length == 2)
                {
                    i++; // "--" ends the flags and is consumed
                    break;
                }
            }
            string name = s[minuses..];
            if (name.Length == 0 || name[0] is '-' or '=')
            {
                throw new GoFlagException($"bad flag syntax: {s}");
            }
            i++;
            string? value = null;
            int eq = name.IndexOf('=', 1);
            if (eq > 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            GoFlag? flag = flags.FirstOrDefault(f => f.Name == name);
            if (flag is null)
            {
                if (name is "help" or "h")
                {
                    return new GoFlagValues { HelpRequested = true };
                }
                throw new GoFlagException($"flag provided but not defined: -{name}");
            }
            if (flag.Kind == GoFlagKind.Bool)
            {
                value ??= "true";
                if (ParseBool(value) is null)
                {
                    throw new GoFlagException($"invalid boolean value \"{value}\" for -{name}: parse error");
                }
            }
            else if (value is null)
            {
                if (i >= args.Count)
                {
                    throw new GoFlagException($"flag needs an argument: -{name}");
                }
                value = args[i++];
            }
            if (flag.Kind == GoFlagKind.Duration && !GoDuration.TryParse(value, out _))
            {
                throw new GoFlagException($"invalid value \"{value}\" for flag -{name}: parse error");
            }
            if (validate?.Invoke(flag, value) is { } problem)
            {
                throw new GoFlagException($"invalid value \"{value}\" for flag -{name}: {problem}");
            }
            values.Set(flag, value);
        }
        values.Positional = args.Skip(i).ToArray();
        return values;
    }

    /// <summary>strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.</summary>
    public static bool? ParseBool(string text) => text switch
    {
        "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
        "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
        _ => null,
    };

    /// <summary>The usage Go's <c>flag.PrintDefaults</c> prints: flags sorted by name, type word, help and non-zero default.</summary>
    public static string Usage(string program, IReadOnlyList<GoFlag> flags)
    {
        var text = new StringBuilder();
        text.Append("Usage of ").Append(program).Append(":\n");
        foreach (GoFlag flag in flags.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            text.Append("  -").Append(flag.Name);
            string type = flag.Kind switch
            {
                GoFlagKind.String => "string",
                GoFlagKind.Duration => "duration",
                GoFlagKind.Repeated => "value",
                _ => "",
            };
            if (type.Length > 0)
            {
                text.Append(' ').Append(type);
            }
            text.Append(flag.Name.Length + type.Length <= 1 ? "\t" : "\n    \t");
            text.Append(flag.Usage.Replace("\n", "\n    \t", StringComparison.Ordinal));
            if (flag.Default.Length > 0)
            {
                text.Append(flag.Kind == GoFlagKind.String ? $" (default \"{flag.Default}\")" : $" (default {flag.Default})");
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
