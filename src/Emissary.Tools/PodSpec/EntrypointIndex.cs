using YamlDotNet.RepresentationModel;
using Emissary.Foundation;

namespace Emissary.Tools.PodSpec;

/// <summary>An image's ENTRYPOINT and CMD, as <c>docker inspect</c> shows them (Config.Entrypoint, Config.Cmd).</summary>
internal sealed record ImageEntrypoint(IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Cmd);

/// <summary>
/// The <c>--entrypoints</c> file: what the images of containers without a <c>command</c> run, since
/// wrapping such a container means writing that out (Argo keeps the same kind of index in a
/// ConfigMap). A YAML or JSON mapping from image to <c>entrypoint</c> and <c>cmd</c> lists:
/// <code>
/// alpine:3.20:              {cmd: [/bin/sh]}
/// ghcr.io/acme/migrate:     {entrypoint: [/migrate], cmd: [up]}   # no tag: any tag or digest
/// </code>
/// An image is looked up as written; if that is not listed, its repository (the image without
/// tag and digest) is, so an entry without a tag covers every tag. An entry with one tag never
/// stands for another tag: entrypoints do change between versions.
/// </summary>
internal sealed class EntrypointIndex
{
    private static readonly string[] Keys = ["entrypoint", "cmd"];

    private readonly Dictionary<string, ImageEntrypoint> _images;

    private EntrypointIndex(Dictionary<string, ImageEntrypoint> images) => _images = images;

    public int Count => _images.Count;

    /// <summary>Parses the file's text. Throws <see cref="ManifestReadException"/> naming the file and the entry.</summary>
    public static EntrypointIndex Parse(string text, string sourceName)
    {
        ManifestSet set = ManifestSet.Read(text, sourceName);
        var images = new Dictionary<string, ImageEntrypoint>(StringComparer.Ordinal);
        if (set.Documents.Count == 0)
        {
            return new EntrypointIndex(images);
        }
        if (set.Documents.Count > 1 || set.Documents[0].Root is not YamlMappingNode root)
        {
            throw new ManifestReadException($"{sourceName}: expected one mapping from image to {{entrypoint: [...], cmd: [...]}}");
        }
        foreach (KeyValuePair<YamlNode, YamlNode> entry in root.Children)
        {
            string image = (entry.Key as YamlScalarNode)?.Value ?? "";
            if (entry.Value is not YamlMappingNode fields)
            {
                throw new ManifestReadException($"{sourceName}: \"{image}\": expected a mapping with entrypoint and/or cmd");
            }
            foreach (KeyValuePair<YamlNode, YamlNode> field in fields.Children)
            {
                string key = (field.Key as YamlScalarNode)?.Value ?? "";
                if (!Keys.Contains(key))
                {
                    string? guess = DidYouMean.Closest(key, Keys);
                    throw new ManifestReadException($"{sourceName}: \"{image}\": unknown key \"{key}\"{(guess is null ? "" : $" (did you mean \"{guess}\"?)")}");
                }
            }
            images[image] = new ImageEntrypoint(Strings(fields, "entrypoint", image, sourceName), Strings(fields, "cmd", image, sourceName));
        }
        return new EntrypointIndex(images);
    }

    /// <summary>The entry for <paramref name="image"/>: as written, else its repository without tag and digest.</summary>
    public ImageEntrypoint? Find(string image)
    {
        if (_images.TryGetValue(image, out ImageEntrypoint? exact))
        {
            return exact;
        }
        return _images.TryGetValue(Repository(image), out ImageEntrypoint? any) ? any : null;
    }

    /// <summary>"registry:5000/team/app:1.2@sha256:..." → "registry:5000/team/app".</summary>
    public static string Repository(string image)
    {
        int at = image.IndexOf('@');
        string name = at >= 0 ? image[..at] : image;
        int colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[..colon] : name;
    }

    private static IReadOnlyList<string> Strings(YamlMappingNode fields, string key, string image, string sourceName)
    {
        switch (fields.Get(key))
        {
            case null:
                return [];
            case YamlScalarNode scalar when YamlNodes.IsNull(scalar):
                return [];
            case YamlSequenceNode sequence when sequence.Children.All(c => c is YamlScalarNode):
                return sequence.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToArray();
            default:
                throw new ManifestReadException($"{sourceName}: \"{image}\".{key}: expected a list of strings (the exec form, as docker inspect shows it)");
        }
    }
}
