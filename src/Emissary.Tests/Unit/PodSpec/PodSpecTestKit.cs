using Emissary.Tools.PodSpec;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>Shortcuts for the PodSpec tests: manifests in as text, graphs, errors and rewritten text out.</summary>
internal static class PodSpecTestKit
{
    /// <summary>A raw string literal as a file's text: "\n" line ends and a final newline.</summary>
    public static string Text(string raw) => raw.ReplaceLineEndings("\n") + "\n";

    /// <summary>Rewrites stdin-like text; fails the test when there are errors.</summary>
    public static string Rewrite(string text, RewriteSettings? settings = null)
    {
        RewriteResult result = ManifestRewriter.Rewrite([(ManifestSet.StandardInput, text)], settings ?? new RewriteSettings());
        result.Errors.Should().BeEmpty();
        return result.Output;
    }

    /// <summary>The error lines of rewriting <paramref name="text"/> (which must fail).</summary>
    public static IReadOnlyList<string> Errors(string text, RewriteSettings? settings = null)
    {
        RewriteResult result = ManifestRewriter.Rewrite([(ManifestSet.StandardInput, text)], settings ?? new RewriteSettings());
        result.Succeeded.Should().BeFalse("the manifests are invalid");
        result.Output.Should().BeEmpty("nothing is written when a manifest is invalid");
        return result.Errors;
    }

    /// <summary>The graph of the first object with a pod.</summary>
    public static PodGraph Graph(string text, PodGraphOptions? options = null)
    {
        ManifestObject manifest = ManifestSet.Read(text, ManifestSet.StandardInput).Documents.SelectMany(d => d.Objects).First(o => o.HasPod);
        var errors = new List<ManifestError>();
        PodGraph? graph = PodGraph.Extract(manifest, options ?? new PodGraphOptions(), errors);
        errors.Select(e => e.ToString()).Should().BeEmpty();
        return graph!;
    }

    /// <summary>The command of container <paramref name="name"/> in rewritten YAML, as strings.</summary>
    public static IReadOnlyList<string> CommandOf(string rewritten, string name) =>
        Graph(rewritten).Find(name)!.Node!.Get("command") is YamlDotNet.RepresentationModel.YamlSequenceNode seq
            ? seq.Children.Select(c => ((YamlDotNet.RepresentationModel.YamlScalarNode)c).Value!).ToArray()
            : throw new InvalidOperationException($"no command for {name}");

    /// <summary>A Pod with the given containers block (already indented by four spaces, starting with "- name:").</summary>
    public static string Pod(string containers, string? annotations = null, string name = "p") =>
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n" +
        (annotations is null ? "" : "  annotations:\n" + Line(annotations)) +
        "spec:\n  containers:\n" + Line(containers);

    private static string Line(string text) => text.EndsWith('\n') ? text : text + "\n";
}
