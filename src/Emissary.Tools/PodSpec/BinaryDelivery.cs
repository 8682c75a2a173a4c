namespace Emissary.Tools.PodSpec;

/// <summary>How the emissary binary reaches a wired pod's containers (<c>--delivery</c>, <c>emissary.dev/delivery</c>).</summary>
internal enum BinaryDelivery
{
    /// <summary>
    /// The <c>emissary-init</c> init container copies the binary from its image into the
    /// <c>emissary-bin</c> emptyDir: works on every Kubernetes version and runtime, costs an init
    /// container per pod.
    /// </summary>
    Init,

    /// <summary>
    /// The Emissary image itself is the <c>emissary-bin</c> volume (<c>volumes[].image</c>,
    /// KEP-4639): no init container and no copy, but it needs image volumes (Kubernetes 1.35+, or
    /// 1.33/1.34 with the ImageVolume feature gate) and a runtime that mounts them.
    /// </summary>
    ImageVolume,
}

/// <summary>The names of the delivery modes and of the image pull policies, as the flags and the annotation spell them.</summary>
internal static class BinaryDeliveries
{
    public static readonly (string Name, BinaryDelivery Value)[] Names = [("init", BinaryDelivery.Init), ("image-volume", BinaryDelivery.ImageVolume)];

    /// <summary>The image volume's <c>pullPolicy</c> when <c>--image-pull-policy</c> does not say (and an earlier rewrite did not either).</summary>
    public const string DefaultPullPolicy = "IfNotPresent";

    /// <summary>Kubernetes' pull policies, spelled as the API takes them (core/v1 PullPolicy).</summary>
    public static readonly (string Name, string Value)[] PullPolicies = [("Always", "Always"), ("IfNotPresent", "IfNotPresent"), ("Never", "Never")];

    public static string NameOf(BinaryDelivery delivery) => Names.First(n => n.Value == delivery).Name;

    /// <summary>The mode named <paramref name="text"/> (case and surrounding blanks ignored), or null.</summary>
    public static BinaryDelivery? Parse(string text)
    {
        foreach ((string name, BinaryDelivery value) in Names)
        {
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }
        return null;
    }
}
