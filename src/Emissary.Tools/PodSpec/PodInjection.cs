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

    /// <summary>The pod annotation that chooses how the binary is delivered, after <see cref="StepFields.AnnotationPrefix"/>.</summary>
    public const string DeliveryAnnotation = "delivery";

    /// <summary>
    /// Whether emissary is wired into the pod already: by <c>emissary rewrite</c> before it was
    /// applied (the template of a rewritten Deployment), or by an earlier admission; either way.
    /// </summary>
    public static bool IsWired(ManifestObject manifest) => WiredDelivery(manifest) is not null;

    /// <summary>
    /// How the binary reaches the pod's containers as it is: <see cref="BinaryDelivery.Init"/> when
    /// it has emissary's init container, <see cref="BinaryDelivery.ImageVolume"/> when its
    /// <c>emissary-bin</c> volume is an image volume, null when neither (not wired). A rewrite
    /// keeps the mode a pod has unless asked otherwise, so rewriting twice changes nothing.
    /// </summary>
    public static BinaryDelivery? WiredDelivery(ManifestObject manifest)
    {
        if (manifest.At(manifest.PodSpecPath) is not YamlMappingNode spec)
        {
            return null;
        }
        if (spec.Get("initContainers") is YamlSequenceNode inits
            && inits.Children.OfType<YamlMappingNode>().Any(c => c.GetText("name") == EmissaryRun.InitContainerName))
        {
            return BinaryDelivery.Init;
        }
        return spec.Get("volumes") is YamlSequenceNode volumes
            && volumes.Children.OfType<YamlMappingNode>().Any(v => v.GetText("name") == EmissaryRun.BinVolume && v.Get("image") is YamlMappingNode)
            ? BinaryDelivery.ImageVolume
            : null;
    }
}
