using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>What a KRM function run gave: the ResourceList to write (always), and whether any result is an error (exit 1).</summary>
internal sealed record ResourceListResult(string Output, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings);

/// <summary>
/// <c>emissary rewrite</c> as a KRM function (the Kubernetes Resource Model "functions
/// specification" that kustomize and kpt follow): a <c>ResourceList</c> on stdin, the same
/// ResourceList on stdout with every item that carries a pod rewritten, and each problem as an
/// entry of <c>results</c> (severity, message, resourceRef, field.path, file) instead of stderr
/// lines only. Items keep everything else, including the <c>config.kubernetes.io/</c> annotations
/// the orchestrator uses to put them back. Settings come from the command line, overridden by a
/// <c>functionConfig</c> ConfigMap's <c>data</c> (<c>image</c>, <c>native-sidecars</c>, <c>delivery</c>).
/// </summary>
internal static class ResourceListRewriter
{
    public const string Kind = "ResourceList";
    private static readonly string[] ApiVersions = ["config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1"];
    private static readonly string[] ConfigKeys = ["image", "native-sidecars", "delivery"];

    /// <summary>The ResourceList <paramref name="text"/> holds as its only document, or null when it is anything else (or unreadable: the ordinary path reports that).</summary>
    public static ManifestSet? Read(string text, string sourceName)
    {
        if (!text.Contains(Kind, StringComparison.Ordinal))
        {
            return null; // the common case, decided without parsing the stream twice
        }
        try
        {
            ManifestSet set = ManifestSet.Read(text, sourceName);
            return set.Documents is [{ Root: YamlMappingNode root }] && root.GetText("kind") == Kind && ApiVersions.Contains(root.GetText("apiVersion"))
                ? set
                : null;
        }
        catch (ManifestReadException)
        {
            return null;
        }
    }

    public static ResourceListResult Rewrite(ManifestSet list, RewriteSettings settings)
    {
        var root = (YamlMappingNode)list.Documents[0].Root;
        var errors = new List<string>();
        var warnings = new List<string>();
        var results = root.Get("results") as YamlSequenceNode ?? new YamlSequenceNode();

        settings = Configure(settings, root.Get("functionConfig") as YamlMappingNode, results, errors);
        if (root.Get("items") is YamlSequenceNode items)
        {
            for (int i = 0; i < items.Children.Count; i++)
            {
                if (items.Children[i] is not YamlMappingNode item)
                {
                    continue;
                }
                var itemErrors = new List<ManifestError>();
                var itemWarnings = new List<ManifestError>();
                var document = new ManifestDocument(list.SourceName, i + 1, item);
                ManifestRewriter.Rewrite(document, settings, itemErrors, itemWarnings);
                foreach (ManifestError error in itemErrors)
                {
                    results.Add(Result("error", error.Message, item, error.Path));
                    errors.Add(error.ToString());
                }
                foreach (ManifestError warning in itemWarnings)
                {
                    results.Add(Result("warning", warning.Message, item, warning.Path));
                    warnings.Add(warning.ToString());
                }
            }
        }
        if (results.Children.Count > 0)
        {
            results.Style = YamlDotNet.Core.Events.SequenceStyle.Block;
            root.Set("results", results);
        }
        return new ResourceListResult(list.Write(), errors, warnings);
    }

    private static RewriteSettings Configure(RewriteSettings settings, YamlMappingNode? functionConfig, YamlSequenceNode results, List<string> errors)
    {
        if (functionConfig?.Get("data") is not YamlMappingNode data)
        {
            return settings;
        }
        foreach ((YamlNode keyNode, YamlNode valueNode) in data.Children)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? "";
            string value = (valueNode as YamlScalarNode)?.Value ?? "";
            string? problem = null;
            switch (key)
            {
                case "image" when !string.IsNullOrWhiteSpace(value) && !value.Any(char.IsWhiteSpace):
                    settings = settings with { Image = value };
                    break;
                case "image":
                    problem = $"'{value}' is not an image reference";
                    break;
                case "native-sidecars" when StepFields.TryParseBoolean(value, out bool native):
                    settings = settings with { NativeSidecars = native };
                    break;
                case "native-sidecars":
                    problem = $"\"{value}\" is not true or false";
                    break;
                case "delivery" when BinaryDeliveries.Parse(value) is { } delivery:
                    settings = settings with { Delivery = delivery };
                    break;
                case "delivery":
                    problem = $"unknown delivery \"{value}\" (use {string.Join(" or ", BinaryDeliveries.Names.Select(n => n.Name))})";
                    break;
                default:
                    problem = $"unknown key{(Foundation.DidYouMean.Closest(key, ConfigKeys) is { } guess ? $" (did you mean \"{guess}\"?)" : "")} (functionConfig data takes {string.Join(", ", ConfigKeys)})";
                    break;
            }
            if (problem is not null)
            {
                results.Add(Result("error", problem, functionConfig, "data." + key));
                errors.Add($"functionConfig: data.{key}: {problem}");
            }
        }
        return settings;
    }

    /// <summary>One entry of <c>results</c>, in the functions specification's shape.</summary>
    private static YamlMappingNode Result(string severity, string message, YamlMappingNode item, string path)
    {
        var result = new YamlMappingNode
        {
            { "message", YamlNodes.String(message) },
            { "severity", YamlNodes.String(severity) },
        };
        var metadata = item.Get("metadata") as YamlMappingNode;
        var reference = new YamlMappingNode();
        foreach ((string field, string? value) in new[]
        {
            ("apiVersion", item.GetText("apiVersion")), ("kind", item.GetText("kind")),
            ("name", metadata?.GetText("name")), ("namespace", metadata?.GetText("namespace")),
        })
        {
            if (value is not null)
            {
                reference.Add(field, YamlNodes.String(value));
            }
        }
        result.Add("resourceRef", reference);
        if (path.Length > 0)
        {
            result.Add("field", new YamlMappingNode { { "path", YamlNodes.String(path) } });
        }
        // Where kustomize or kpt read the item from, when they say.
        var annotations = metadata?.Get("annotations") as YamlMappingNode;
        if ((annotations?.GetText("internal.config.kubernetes.io/path") ?? annotations?.GetText("config.kubernetes.io/path")) is { } file)
        {
            var fileNode = new YamlMappingNode { { "path", YamlNodes.String(file) } };
            if ((annotations?.GetText("internal.config.kubernetes.io/index") ?? annotations?.GetText("config.kubernetes.io/index")) is { } index
                && int.TryParse(index, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
            {
                fileNode.Add("index", new YamlScalarNode(n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            result.Add("file", fileNode);
        }
        return result;
    }
}
