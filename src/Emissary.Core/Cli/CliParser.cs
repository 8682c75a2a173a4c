using Emissary.Foundation;
using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>
/// The command-line parser. Hand-written rather than System.CommandLine: that package alone made
/// the static binary 1.25 MB larger, cost 1.3 MiB of resident memory and about 1 ms at every
/// start (docs/dependencies.md), and a supervisor starts once per container.
/// Conventions: GNU long options (--opt VALUE, --opt=VALUE), "--" ends emissary's options.
/// </summary>
internal static class CliParser
{
    /// <summary>Parses the arguments after the verb. Throws <see cref="UsageException"/> on bad input.</summary>
    public static ParsedCommand Parse(CliCommand command, IReadOnlyList<CliOption> globalOptions, IReadOnlyList<string> args, string[]? payload)
    {
        var given = new Dictionary<CliOption, List<string>>();
        var positional = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg.Length > 1 && arg[0] == '-')
            {
                int eq = arg.IndexOf('=');
                string name = eq > 0 ? arg[..eq] : arg;
                CliOption option = Find(command, globalOptions, name)
                    ?? throw new UsageException($"unknown option '{name}' for 'emissary {command.Name}'{Suggest(command, globalOptions, name)} (see: emissary {command.Name} --help)");
                string value;
                if (option.Kind == ArgKind.Flag)
                {
                    value = eq > 0 ? arg[(eq + 1)..] : "true";
                    if (value is not ("true" or "false"))
                    {
                        throw new UsageException($"{option.Name} takes no value (or =true/=false), got '{value}'");
                    }
                }
                else if (eq > 0)
                {
                    value = arg[(eq + 1)..];
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    throw new UsageException($"{option.Name} needs a value ({option.ValueName})");
                }
                if (option.Kind != ArgKind.Flag)
                {
                    RejectEmpty(option, value);
                }
                if (!given.TryGetValue(option, out List<string>? values))
                {
                    given[option] = values = [];
                }
                values.Add(value);
            }
            else
            {
                positional.Add(arg);
            }
        }

        if (command.TakesCommand && positional.Count > 0)
        {
            throw new UsageException($"missing '--' before the command (usage: emissary {command.Usage})");
        }
        if (!command.TakesCommand && payload is not null)
        {
            throw new UsageException($"'--' is only meaningful for 'emissary run' (usage: emissary {command.Usage})");
        }
        int required = command.Arguments.Count(a => a.Required);
        if (positional.Count < required)
        {
            throw new UsageException($"missing {command.Arguments[positional.Count].Name} (usage: emissary {command.Usage})");
        }
        if (positional.Count > command.Arguments.Count && command.Arguments is not [.., { Repeats: true }])
        {
            throw new UsageException($"unexpected argument '{positional[command.Arguments.Count]}' (usage: emissary {command.Usage})");
        }
        return new ParsedCommand(command, given, positional, payload);
    }

    /// <summary>
    /// An empty value given on the command line (<c>--after ""</c>, <c>--after=</c>, <c>--after a,,b</c>)
    /// is a mistake, usually an unset shell variable: taken as "not given" it would silently drop a
    /// gate, and taken as a path it fails only once the command has run. An empty environment
    /// variable, by contrast, means "unset" (pod specs often set every variable, some to "").
    /// </summary>
    internal static void RejectEmpty(CliOption option, string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new UsageException($"{option.Name}: empty value (give a {option.ValueName} or leave the option out)");
        }
        if (option.Kind == ArgKind.List && value.Split(',').Any(string.IsNullOrWhiteSpace))
        {
            throw new UsageException($"{option.Name} {ErrorText.Quote(value)}: empty item in the comma-separated list");
        }
    }

    private static CliOption? Find(CliCommand command, IReadOnlyList<CliOption> globalOptions, string name) =>
        command.Options.FirstOrDefault(o => o.Name == name || o.ShortName == name)
        ?? globalOptions.FirstOrDefault(o => o.Name == name || o.ShortName == name);

    private static string Suggest(CliCommand command, IReadOnlyList<CliOption> globalOptions, string name)
    {
        string? best = DidYouMean.Closest(name, command.Options.Concat(globalOptions).Select(o => o.Name));
        return best is null ? "" : $" (did you mean '{best}'?)";
    }
}
