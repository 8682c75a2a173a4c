using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>
/// Whether a pod asks to be wired, and whether it already is: what the admission webhook decides
/// before it rewrites, and what <c>emissary rewrite</c> honours too (a pod annotated
/// <c>emissary.dev/inject: "false"</c> passes through both unchanged).
/// </summary>
internal static class PodInjection
{
    /// <summary>The pod annotation's name after <see cref="StepFields.AnnotationPrefix"/>.</summary>
    public const string InjectAnnotation = "inject";

    /// <summary>The full annotation key, <c>emissary.dev/inject</c>.</summary>
    public const string InjectAnnotationKey = StepFields.AnnotationPrefix + InjectAnnotation;

    /// <summary>
    /// The pod's <c>emissary.dev/inject</c> annotation: true or false, or null when it is absent or
    /// not a boolean (the graph reader reports the latter as an error, with its path).
    /// </summary>
    public static bool? Requested(ManifestObject manifest)
    {
        var annotations = (manifest.At(manifest.PodMetadataPath) as YamlMappingNode)?.Get("annotations") as YamlMappingNode;
        return annotations?.GetText(InjectAnnotationKey) is { } text && StepFields.TryParseBoolean(text, out bool inject) ? inject : null;
    }

    /// <summary>
    /// Whether the pod already has emissary's init container: wired by <c>emissary rewrite</c>
    /// before it was applied (the template of a rewritten Deployment), or by an earlier admission.
    /// </summary>
    public static bool IsWired(ManifestObject manifest) =>
        (manifest.At(manifest.PodSpecPath) as YamlMappingNode)?.Get("initContainers") is YamlSequenceNode inits
        && inits.Children.OfType<YamlMappingNode>().Any(c => c.GetText("name") == EmissaryRun.InitContainerName);
}
