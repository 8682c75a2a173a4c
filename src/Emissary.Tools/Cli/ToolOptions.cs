using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Tools.PodSpec;

namespace Emissary.Tools.Cli;

/// <summary>The options `rewrite`, `local` and `webhook` share, declared and checked once for all.</summary>
internal static class ToolOptions
{
    public static readonly CliOption Delivery = CliOption.Value("--delivery", "MODE",
        "How the binary reaches the containers: init (an emissary-init container copies it into an emptyDir; the default) or image-volume (the --image is mounted as an image volume: Kubernetes 1.35+, or 1.33+ with the ImageVolume feature gate), unless a pod's emissary.dev/delivery says otherwise");

    public static readonly CliOption ImagePullPolicy = CliOption.Value("--image-pull-policy", "POLICY",
        "Always, IfNotPresent or Never: the image volume's pullPolicy (default IfNotPresent), or the emissary-init container's imagePullPolicy (default: Kubernetes')");

    /// <summary>--delivery (null when not given: each pod as it is wired, else init).</summary>
    public static BinaryDelivery? DeliveryOf(OptionValues values) =>
        values.Choice<BinaryDelivery?>(Delivery, null, BinaryDeliveries.Names.Select(n => (n.Name, (BinaryDelivery?)n.Value)).ToArray());

    /// <summary>--image-pull-policy as the API spells it (the option takes any case), or null.</summary>
    public static string? ImagePullPolicyOf(OptionValues values) => values.Choice<string?>(ImagePullPolicy, null, BinaryDeliveries.PullPolicies.Select(p => (p.Name, (string?)p.Value)).ToArray());

    /// <summary>--image: a reference without white space; throws <see cref="UsageException"/> otherwise.</summary>
    public static void RequireImage(string? image)
    {
        if (string.IsNullOrWhiteSpace(image) || image.Any(char.IsWhiteSpace))
        {
            throw new UsageException($"--image: '{image}' is not an image reference");
        }
    }

    /// <summary>--entrypoints FILE read and parsed, or null without the option; a bad file is a <see cref="UsageException"/>.</summary>
    public static EntrypointIndex? LoadEntrypoints(string? path)
    {
        if (path is null)
        {
            return null;
        }
        try
        {
            return EntrypointIndex.Parse(InputText.ReadFile(path), path);
        }
        catch (ManifestReadException e)
        {
            throw new UsageException("--entrypoints: " + e.Message);
        }
    }
}
