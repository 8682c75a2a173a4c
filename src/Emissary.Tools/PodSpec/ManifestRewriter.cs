using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>The outcome of a rewrite: the text to write (empty when there were errors), the error lines and the warning lines.</summary>
internal sealed record RewriteResult(string Output, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// <c>emissary rewrite</c> without the I/O: manifests in, manifests with emissary wired into every
/// pod out. Objects that carry no pod pass through unchanged.
/// </summary>
internal static class ManifestRewriter
{
    /// <summary>Reads, rewrites and writes back every source; all or nothing.</summary>
    public static RewriteResult Rewrite(IReadOnlyList<(string SourceName, string Text)> sources, RewriteSettings settings)
    {
        var errors = new List<string>();
        var warnings = new List<ManifestError>();
        var sets = new List<ManifestSet>();
        foreach ((string sourceName, string text) in sources)
        {
            try
            {
                sets.Add(ManifestSet.Read(text, sourceName));
            }
            catch (ManifestReadException e)
            {
                errors.Add(e.Message);
            }
        }
        var problems = new List<ManifestError>();
        foreach (ManifestSet set in sets)
        {
            Rewrite(set, settings, problems, warnings);
        }
        errors.AddRange(problems.Select(p => p.ToString()));
        string output = errors.Count == 0 ? ManifestSet.Write(sets) : "";
        return new RewriteResult(output, errors, warnings.Select(w => w.ToString()).ToArray());
    }

    /// <summary>Rewrites every pod of <paramref name="set"/> in place, collecting problems.</summary>
    public static void Rewrite(ManifestSet set, RewriteSettings settings, ICollection<ManifestError> errors, ICollection<ManifestError> warnings)
    {
        foreach (ManifestObject manifest in set.Documents.SelectMany(d => d.Objects).Where(o => o.HasPod))
        {
            PodGraph? graph = PodGraph.Extract(manifest, settings.GraphOptions, errors);
            if (graph is null)
            {
                continue;
            }
            foreach (ManifestError warning in graph.Warnings)
            {
                warnings.Add(warning);
            }
            if (PodRewriter.Rewrite(graph, settings, errors) && settings.AsPod && manifest.PodPath != "")
            {
                ReplaceWithPod(manifest);
            }
        }
    }

    /// <summary>
    /// Turns a workload into the Pod it would create: its pod template's metadata (named after the
    /// workload, in its namespace) and spec. The object's node is edited in place.
    /// </summary>
    private static void ReplaceWithPod(ManifestObject manifest)
    {
        var metadata = manifest.At(manifest.PodMetadataPath) as YamlMappingNode ?? new YamlMappingNode();
        var spec = manifest.At(manifest.PodSpecPath) ?? new YamlMappingNode();
        var ownMetadata = manifest.Node.Get("metadata") as YamlMappingNode;
        var podMetadata = new YamlMappingNode();
        if (ownMetadata?.Get("name") is { } name)
        {
            podMetadata.Add("name", name);
        }
        if (ownMetadata?.Get("namespace") is { } ns)
        {
            podMetadata.Add("namespace", ns);
        }
        foreach (KeyValuePair<YamlNode, YamlNode> entry in metadata.Children)
        {
            if (entry.Key is YamlScalarNode { Value: "name" or "namespace" })
            {
                continue;
            }
            podMetadata.Add(entry.Key, entry.Value);
        }
        manifest.Node.Children.Clear();
        manifest.Node.Add("apiVersion", "v1");
        manifest.Node.Add("kind", "Pod");
        manifest.Node.Add("metadata", podMetadata);
        manifest.Node.Add("spec", spec);
    }
}
