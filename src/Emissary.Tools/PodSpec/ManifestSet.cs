using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>How a manifest stream is written; the output keeps the input's format.</summary>
internal enum ManifestFormat
{
    Yaml,
    Json,
}

/// <summary>
/// The documents of one manifest source (a file or stdin), as YamlDotNet nodes that the rewriter
/// edits in place, so that everything it does not understand is written back as it was: fields,
/// their order, values and scalar styles. Comments are not kept (the representation model drops them).
/// </summary>
internal sealed class ManifestSet
{
    /// <summary>The source name used for standard input: error lines then name no file.</summary>
    public const string StandardInput = "-";

    private ManifestSet(string sourceName, ManifestFormat format, IReadOnlyList<ManifestDocument> documents)
    {
        SourceName = sourceName;
        Format = format;
        Documents = documents;
    }

    /// <summary>A file path, or <see cref="StandardInput"/>.</summary>
    public string SourceName { get; }

    /// <summary>JSON when the first non-blank character is <c>{</c> or <c>[</c>, else YAML.</summary>
    public ManifestFormat Format { get; }

    /// <summary>Every non-empty document, in order (empty YAML documents are dropped).</summary>
    public IReadOnlyList<ManifestDocument> Documents { get; }

    /// <summary>
    /// Parses YAML (one or many documents separated by <c>---</c>) or JSON (one or many
    /// concatenated values). Throws <see cref="ManifestReadException"/>, with the line and column,
    /// when the text is malformed.
    /// </summary>
    public static ManifestSet Read(string text, string sourceName) =>
        new(sourceName, FormatOf(text), ReadDocuments(text, sourceName).ToArray());

    /// <summary>
    /// The non-empty documents of <paramref name="text"/>, one at a time as they are read (YAML
    /// is parsed lazily, document by document; JSON at once). Throws <see cref="ManifestReadException"/>
    /// when the enumeration reaches malformed text.
    /// </summary>
    public static IEnumerable<ManifestDocument> ReadDocuments(string text, string sourceName)
    {
        text = text.TrimStart('\uFEFF');
        if (FormatOf(text) == ManifestFormat.Json)
        {
            foreach (ManifestDocument document in JsonDocuments(JsonManifests.Read(text, sourceName), sourceName))
            {
                yield return document;
            }
            yield break;
        }
        var reader = new YamlDocumentReader(text, sourceName);
        int number = 0;
        while (reader.Next() is { } root)
        {
            number++;
            if (root is YamlScalarNode scalar && YamlNodes.IsNull(scalar))
            {
                continue; // an empty document (helm template emits them): nothing to write back
            }
            yield return new ManifestDocument(sourceName, number, root);
        }
    }

    /// <summary>
    /// JSON already in UTF-8, as <see cref="Read"/> reads JSON text: the webhook's pod, read from
    /// the review's bytes without a string copy in between.
    /// </summary>
    public static ManifestSet ReadJson(ReadOnlySpan<byte> utf8, string sourceName) =>
        new(sourceName, ManifestFormat.Json, JsonDocuments(JsonManifests.Read(utf8, sourceName), sourceName));

    private static ManifestDocument[] JsonDocuments(IReadOnlyList<YamlNode> roots, string sourceName)
    {
        var documents = new ManifestDocument[roots.Count];
        for (int i = 0; i < roots.Count; i++)
        {
            documents[i] = new ManifestDocument(sourceName, i + 1, roots[i]);
        }
        return documents;
    }

    /// <summary>The documents, in this set's format.</summary>
    public string Write() => Write([this], Format);

    /// <summary>Several sets as one stream: JSON only when every set was JSON, else YAML.</summary>
    public static string Write(IReadOnlyList<ManifestSet> sets)
    {
        ManifestFormat format = sets.Count > 0 && sets.All(s => s.Format == ManifestFormat.Json) ? ManifestFormat.Json : ManifestFormat.Yaml;
        return Write(sets, format);
    }

    private static string Write(IReadOnlyList<ManifestSet> sets, ManifestFormat format)
    {
        YamlNode[] roots = sets.SelectMany(s => s.Documents).Select(d => d.Root).ToArray();
        return format == ManifestFormat.Json ? JsonManifests.Write(roots) : YamlManifests.Write(roots);
    }

    /// <summary>JSON when the first non-blank character is <c>{</c> or <c>[</c>, else YAML.</summary>
    public static ManifestFormat FormatOf(string text)
    {
        foreach (char c in text)
        {
            if (c is ' ' or '\t' or '\r' or '\n' or '\uFEFF')
            {
                continue;
            }
            return c is '{' or '[' ? ManifestFormat.Json : ManifestFormat.Yaml;
        }
        return ManifestFormat.Yaml;
    }
}

/// <summary>One document of a manifest stream.</summary>
internal sealed class ManifestDocument
{
    public ManifestDocument(string sourceName, int number, YamlNode root)
    {
        SourceName = sourceName;
        Number = number;
        Root = root;
        Objects = FindObjects(sourceName, number, root);
    }

    public string SourceName { get; }

    /// <summary>1-based position in its source, counting empty documents too.</summary>
    public int Number { get; }

    public YamlNode Root { get; }

    /// <summary>The Kubernetes objects in the document: itself, or the items of a <c>kind: List</c>.</summary>
    public IReadOnlyList<ManifestObject> Objects { get; }

    private static IReadOnlyList<ManifestObject> FindObjects(string sourceName, int number, YamlNode root)
    {
        if (root is not YamlMappingNode mapping)
        {
            return [];
        }
        if (mapping.GetText("kind") == "List" && mapping.Get("items") is YamlSequenceNode items)
        {
            var objects = new List<ManifestObject>();
            for (int i = 0; i < items.Children.Count; i++)
            {
                if (items.Children[i] is YamlMappingNode item)
                {
                    objects.Add(new ManifestObject(item, sourceName, number, i));
                }
            }
            return objects;
        }
        return [new ManifestObject(mapping, sourceName, number, null)];
    }
}

/// <summary>
/// A Kubernetes object of a manifest: its kind, name and, for the kinds that carry a pod, where
/// the pod's metadata and spec are.
/// </summary>
internal sealed class ManifestObject
{
    internal ManifestObject(YamlMappingNode node, string sourceName, int documentNumber, int? itemIndex)
    {
        Node = node;
        SourceName = sourceName;
        ApiVersion = node.GetText("apiVersion");
        Kind = node.GetText("kind");
        Name = (node.Get("metadata") as YamlMappingNode)?.GetText("name");
        if (Kind is not null && Name is not null)
        {
            DisplayName = Kind.ToLowerInvariant() + "/" + Name;
            PathPrefix = "";
        }
        else
        {
            DisplayName = $"document {documentNumber}";
            PathPrefix = itemIndex is { } i ? $"items[{i}]." : "";
        }
        PodPath = FindPodPath(ApiVersion, Kind);
    }

    public YamlMappingNode Node { get; }

    /// <summary>The file it came from, or <see cref="ManifestSet.StandardInput"/>.</summary>
    public string SourceName { get; }

    public string? ApiVersion { get; }

    public string? Kind { get; }

    /// <summary>metadata.name, when there is one.</summary>
    public string? Name { get; }

    /// <summary>"pod/build" (lower-case kind / metadata.name), or "document N" when unnamed.</summary>
    public string DisplayName { get; }

    /// <summary>"items[2]." for an unnamed item of a List, so that paths still locate it; else "".</summary>
    public string PathPrefix { get; }

    /// <summary>
    /// Where the pod template is, as the path of its parent ("" for a Pod, "template" for a
    /// PodTemplate, "spec.template" for workloads, "spec.jobTemplate.spec.template" for a CronJob);
    /// null when this kind carries no pod and passes through unchanged.
    /// </summary>
    public string? PodPath { get; }

    public bool HasPod => PodPath is not null;

    /// <summary>The path of the pod's metadata, e.g. "spec.template.metadata".</summary>
    public string PodMetadataPath => Join(PodPath, "metadata");

    /// <summary>The path of the pod's spec, e.g. "spec.template.spec".</summary>
    public string PodSpecPath => Join(PodPath, "spec");

    /// <summary>The node at a dotted path below this object, or null.</summary>
    public YamlNode? At(string path)
    {
        YamlNode? node = Node;
        foreach (string part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            node = (node as YamlMappingNode)?.Get(part);
        }
        return node;
    }

    private static string Join(string? parent, string child) => string.IsNullOrEmpty(parent) ? child : parent + "." + child;

    // Built-in kinds only: a custom resource called "Job" in another API group is not a batch Job.
    private static string? FindPodPath(string? apiVersion, string? kind)
    {
        string group = apiVersion is null ? "" : apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "core";
        bool Is(string expected) => apiVersion is null || group == expected;
        return kind switch
        {
            "Pod" when Is("core") => "",
            "PodTemplate" when Is("core") => "template",
            "Deployment" or "StatefulSet" or "DaemonSet" or "ReplicaSet" when Is("apps") => "spec.template",
            "Job" when Is("batch") => "spec.template",
            "CronJob" when Is("batch") => "spec.jobTemplate.spec.template",
            _ => null,
        };
    }
}

/// <summary>A manifest (or the --entrypoints file) that cannot be read: one line, with the line and column when known.</summary>
internal sealed class ManifestReadException(string message) : Exception(message)
{
    /// <summary>"FILE: line 3, column 5: malformed YAML: reason" (stdin is called "stdin").</summary>
    public static ManifestReadException Malformed(string sourceName, string format, int line, int column, string? reason) =>
        new($"{(sourceName == ManifestSet.StandardInput ? "stdin" : sourceName)}: line {line}, column {column}: malformed {format}{(string.IsNullOrEmpty(reason) ? "" : ": " + reason)}");
}
