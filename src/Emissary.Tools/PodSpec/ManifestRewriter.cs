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
    /// <summary>
    /// Reads, rewrites and writes back every source; all or nothing. A YAML stream is handled one
    /// document at a time (read, rewritten, written out, let go), so memory follows the size of the
    /// input text and the largest document, not the number of documents. The output is JSON when
    /// every source is JSON, else YAML. Errors come in the order of the sources: the ones that could
    /// not be read (only that line for such a source), then the invalid manifests.
    /// </summary>
    public static RewriteResult Rewrite(IReadOnlyList<(string SourceName, string Text)> sources, RewriteSettings settings)
    {
        var readErrors = new List<string>();
        var problems = new List<ManifestError>();
        var warnings = new List<ManifestError>();
        bool json = sources.Count > 0 && sources.All(s => ManifestSet.FormatOf(s.Text) == ManifestFormat.Json);
        var jsonRoots = new List<YamlNode>();
        var yaml = new YamlStreamWriter();
        foreach ((string sourceName, string text) in sources)
        {
            var sourceProblems = new List<ManifestError>();
            var sourceWarnings = new List<ManifestError>();
            try
            {
                foreach (ManifestDocument document in ManifestSet.ReadDocuments(text, sourceName))
                {
                    Rewrite(document, settings, sourceProblems, sourceWarnings);
                    if (readErrors.Count > 0 || problems.Count > 0 || sourceProblems.Count > 0)
                    {
                        continue; // nothing will be written: only the problems are still wanted
                    }
                    if (json)
                    {
                        jsonRoots.Add(document.Root);
                    }
                    else
                    {
                        yaml.Add(document.Root);
                    }
                }
            }
            catch (ManifestReadException e)
            {
                readErrors.Add(e.Message);
                continue; // a source that cannot be read is that one line
            }
            problems.AddRange(sourceProblems);
            warnings.AddRange(sourceWarnings);
        }
        List<string> errors = [.. readErrors, .. problems.Select(p => p.ToString())];
        string output = errors.Count > 0 ? "" : json ? JsonManifests.Write(jsonRoots) : yaml.Finish();
        return new RewriteResult(output, errors, warnings.Select(w => w.ToString()).ToArray());
    }

    /// <summary>Rewrites every pod of <paramref name="set"/> in place, collecting problems.</summary>
    public static void Rewrite(ManifestSet set, RewriteSettings settings, ICollection<ManifestError> errors, ICollection<ManifestError> warnings)
    {
        foreach (ManifestDocument document in set.Documents)
        {
            Rewrite(document, settings, errors, warnings);
        }
    }

    /// <summary>Rewrites every pod of <paramref name="document"/> in place, collecting problems; a pod annotated <c>emissary.dev/inject: "false"</c> is left as it is.</summary>
    internal static void Rewrite(ManifestDocument document, RewriteSettings settings, ICollection<ManifestError> errors, ICollection<ManifestError> warnings)
    {
        foreach (ManifestObject manifest in document.Objects.Where(o => o.HasPod && PodInjection.Requested(o) != false))
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
