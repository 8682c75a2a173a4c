using System.Text.RegularExpressions;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Docs;

/// <summary>
/// docs/architecture.md stays true: its layer table against the namespace graph of the compiled
/// core (each arrow points up the table, and the arrows it names inside layer 6 are the real
/// ones), and its file-by-file path of an --after gate against the source tree.
/// </summary>
public sealed partial class ArchitectureDocTests
{
    private static readonly string Page = File.ReadAllText(Path.Combine(Artifacts.RepoRoot, "docs", "architecture.md"));

    private static readonly NamespaceGraph Graph = ArchitectureTests.CoreNamespaces();

    /// <summary>Layer number of each namespace named in the table's second column (its sub-namespaces share it).</summary>
    private static Dictionary<string, int> Layers()
    {
        var layers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match row in LayerRow().Matches(Page))
        {
            int layer = int.Parse(row.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            foreach (Match name in Backticked().Matches(row.Groups[2].Value))
            {
                layers["Emissary." + name.Groups[1].Value] = layer;
            }
        }
        return layers;
    }

    /// <summary>The layer of <paramref name="ns"/> or of its nearest parent in the table; null when none is there.</summary>
    private static int? LayerOf(Dictionary<string, int> layers, string ns)
    {
        for (string? n = ns; n is not null; n = n.Contains('.') ? n[..n.LastIndexOf('.')] : null)
        {
            if (layers.TryGetValue(n, out int layer))
            {
                return layer;
            }
        }
        // The Tekton mode is the top layer beside Cli (its own section says so, ArchitectureTests checks it).
        return ns.StartsWith("Emissary.Tekton", StringComparison.Ordinal) ? 10 : null;
    }

    [Fact]
    public void Every_namespace_of_the_core_is_in_the_layer_table_and_every_arrow_points_up_it()
    {
        Dictionary<string, int> layers = Layers();
        layers.Should().HaveCountGreaterThan(15, "the table was parsed");
        Graph.Namespaces.Where(n => n != "Emissary" && LayerOf(layers, n) is null)
            .Should().BeEmpty("every namespace of the core is in a row of docs/architecture.md's layer table");
        var wrong = new List<string>();
        foreach ((string from, string to) in Graph.Edges())
        {
            if (from == "Emissary" || to == "Emissary")
            {
                continue;
            }
            if (LayerOf(layers, to) > LayerOf(layers, from))
            {
                wrong.Add($"{from} (layer {LayerOf(layers, from)}) -> {to} (layer {LayerOf(layers, to)})");
            }
        }
        wrong.Should().BeEmpty("docs/architecture.md says each layer uses only the layers above it");
    }

    [Fact]
    public void The_arrows_the_table_names_inside_layer_six_are_exactly_the_real_ones()
    {
        // "(today: `Results`, `Gates`, ... use `Control`; ...; `Control` uses none of them)"
        string today = Regex.Match(Page, @"\(today: ([^)]*)\)").Groups[1].Value;
        today.Should().NotBeEmpty();
        Dictionary<string, int> layers = Layers();
        string[] six = layers.Where(l => l.Value == 6).Select(l => l.Key).ToArray();
        var claimed = new HashSet<(string, string)>();
        foreach (string clause in today.Split(';', StringSplitOptions.TrimEntries))
        {
            Match m = Regex.Match(clause, @"^(.*) uses? (.*)$");
            string[] users = Backticked().Matches(m.Groups[1].Value).Select(x => "Emissary." + x.Groups[1].Value).ToArray();
            string[] used = Backticked().Matches(m.Groups[2].Value).Select(x => "Emissary." + x.Groups[1].Value).ToArray();
            foreach (string user in users)
            {
                foreach (string target in used)
                {
                    claimed.Add((user, target));
                }
            }
        }
        HashSet<(string, string)> real = Graph.Edges().Where(e => six.Contains(e.From) && six.Contains(e.To)).ToHashSet();

        claimed.Should().BeEquivalentTo(real, "the table's list of arrows inside layer 6 is the namespace graph's");
    }

    [Fact]
    public void The_after_gate_path_names_files_that_exist_and_counts_them_right()
    {
        string section = Page[Page.IndexOf("## The path of an `--after` gate", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        int stated = int.Parse(Regex.Match(section, @"crosses\s+these\s+(\d+)\s+files").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        string[] files = PathItem().Matches(section).Select(m => m.Groups[1].Value).ToArray();

        files.Should().OnlyHaveUniqueItems().And.HaveCount(stated, "the section says how many files the path crosses");
        foreach (string file in files)
        {
            string path = file.StartsWith("src/", StringComparison.Ordinal) ? file : Path.Combine("src", "Emissary.Core", file);
            File.Exists(Path.Combine(Artifacts.RepoRoot, path)).Should().BeTrue($"{path} is on the documented path");
        }
    }

    [GeneratedRegex(@"^\| (\d+) \| ([^|]*) \|", RegexOptions.Multiline)]
    private static partial Regex LayerRow();

    [GeneratedRegex(@"`([A-Za-z.]+)`")]
    private static partial Regex Backticked();

    [GeneratedRegex(@"^\d+\. `([^`]+\.cs)`", RegexOptions.Multiline)]
    private static partial Regex PathItem();
}
