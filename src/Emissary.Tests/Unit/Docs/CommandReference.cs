using System.Text;
using System.Text.RegularExpressions;
using Emissary.Cli;
using Emissary.Tekton;
using Emissary.Tools.Cli;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Docs;

/// <summary>
/// The option tables of docs/commands.md, rendered from the option tables in code (the same
/// <see cref="CliCommand"/>s and <see cref="GoFlag"/>s that <c>--help</c> and the parsers use),
/// so that the page lists every option of every command as the binaries take it. The page holds
/// one block per command between <c>&lt;!-- BEGIN GENERATED: KEY --&gt;</c> and
/// <c>&lt;!-- END GENERATED: KEY --&gt;</c>; everything around the blocks is hand-written prose.
/// scripts/gen-docs.sh rewrites the blocks; <see cref="CommandReferenceTests"/> fails when they are stale.
/// </summary>
internal static class CommandReference
{
    public const string PagePath = "docs/commands.md";

    public const string RegenerateHint = "run scripts/gen-docs.sh and commit docs/commands.md";

    /// <summary>Every block the page must hold, by key, in the order of the page.</summary>
    public static IReadOnlyList<(string Key, Func<string> Render)> Blocks { get; } =
    [
        ("global", () => OptionTable(OptionValues.Global, withHelp: true)),
        ("init", () => Command(InitCli.Build())),
        ("run", () => Command(RunCli.Build())),
        ("signal", () => Command(ControlCli.Signal())),
        ("start", () => Command(ControlCli.Start())),
        ("skip", () => Command(ControlCli.Skip())),
        ("status", () => Command(ControlCli.Status())),
        ("debug", () => Command(ControlCli.Debug())),
        ("rewrite", () => Command(RewriteCli.Build())),
        ("local", () => Command(LocalCli.Build())),
        ("webhook", () => Command(WebhookCli.Build())),
        ("entrypoint", TektonFlags),
    ];

    private static readonly Regex Block = new(
        @"(?<begin><!-- BEGIN GENERATED: (?<key>[a-z]+) [^\n]*-->\n)(?<body>.*?)(?<end><!-- END GENERATED: \k<key> -->)",
        RegexOptions.Singleline | RegexOptions.CultureInvariant);

    /// <summary>The keys of the blocks the page has, in order.</summary>
    public static IReadOnlyList<string> KeysIn(string page) => Block.Matches(page).Select(m => m.Groups["key"].Value).ToList();

    /// <summary>The page with every block's body rendered afresh from the code; the prose around them untouched.</summary>
    public static string Regenerate(string page)
    {
        var renderers = Blocks.ToDictionary(b => b.Key, b => b.Render);
        return Block.Replace(page, m =>
        {
            string key = m.Groups["key"].Value;
            string body = renderers.TryGetValue(key, out Func<string>? render)
                ? render()
                : $"(no command '{key}' in CommandReference.Blocks)\n";
            // Blank lines around the body: a table must not run into the HTML comment that closes it.
            return m.Groups["begin"].Value + "\n" + body.TrimEnd('\n') + "\n\n" + m.Groups["end"].Value;
        });
    }

    /// <summary>The opening marker of a block, as it is written on the page.</summary>
    public static string BeginMarker(string key) => $"<!-- BEGIN GENERATED: {key} (scripts/gen-docs.sh, from the option table in code: do not edit) -->";

    private static string Command(CliCommand command)
    {
        var text = new StringBuilder();
        text.Append("`emissary ").Append(command.Usage).Append("`: ").Append(Cell(command.Summary)).Append("\n\n");
        if (command.Arguments.Count > 0)
        {
            text.Append("| argument | meaning |\n|---|---|\n");
            foreach (CliArgument argument in command.Arguments)
            {
                text.Append("| `").Append(argument.Name).Append("` | ").Append(Cell(argument.Description))
                    .Append(argument.Required ? "" : " (optional)").Append(" |\n");
            }
            text.Append('\n');
        }
        text.Append(OptionTable(command.Options, withHelp: false));
        text.Append("\nAnd the options of every command: `--log-level`, `--log-format`, `-h, --help`.\n");
        return text.ToString();
    }

    private static string OptionTable(IEnumerable<CliOption> options, bool withHelp)
    {
        var text = new StringBuilder("| option | environment variable | meaning |\n|---|---|---|\n");
        bool any = false;
        foreach (CliOption option in options)
        {
            any = true;
            string names = option.ShortName is null ? option.Name : $"{option.ShortName}, {option.Name}";
            string usage = option.Kind == ArgKind.Flag ? names : $"{names} {option.ValueName}";
            // A repeatable option's variable takes a comma-separated list (CliParser).
            string variable = $"`{option.EnvName}`" + (option.Kind == ArgKind.List ? " (a comma-separated list)" : "");
            text.Append("| `").Append(usage).Append("` | ").Append(variable).Append(" | ")
                .Append(Cell(option.Description)).Append(" |\n");
        }
        if (!any)
        {
            text.Append("| (none) | | |\n");
        }
        if (withHelp)
        {
            text.Append("| `-h, --help` | | Show the command's help (on stdout) and exit 0. |\n");
        }
        return text.ToString();
    }

    private static string TektonFlags()
    {
        var text = new StringBuilder("`entrypoint [flags] -- COMMAND [ARGS...]` or `entrypoint SUBCOMMAND ...` (Go `flag` syntax: `-f v`, `-f=v`, `--f`)\n\n");
        text.Append("| flag | kind | default | meaning (Tekton's usage text) |\n|---|---|---|---|\n");
        foreach (GoFlag flag in TektonCommandLine.Flags)
        {
            string kind = flag.Kind switch
            {
                GoFlagKind.Bool => "bool",
                GoFlagKind.Duration => "duration",
                GoFlagKind.Repeated => "repeatable",
                _ => "string",
            };
            text.Append("| `-").Append(flag.Name).Append("` | ").Append(kind).Append(" | ")
                .Append(flag.Default.Length == 0 ? "" : "`" + flag.Default + "`").Append(" | ")
                .Append(Cell(flag.Usage)).Append(" |\n");
        }
        return text.ToString();
    }

    /// <summary>Text in a table cell: a pipe would end the cell, a newline the row, and "&lt;name&gt;" would be read as HTML.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|").Replace("<", "&lt;").Replace('\n', ' ');
}
