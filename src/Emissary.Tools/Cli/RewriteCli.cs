using Emissary.Cli;
using Emissary.Commands;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.PodSpec;

namespace Emissary.Tools.Cli;

/// <summary>The options of <c>emissary rewrite</c> (in emissary-tools).</summary>
internal static class RewriteCli
{
    private static readonly CliOption Output = new("--output", ArgKind.Value,
        "Write to FILE (atomically, and only when every manifest is valid) instead of stdout", "FILE")
    {
        ShortName = "-o",
    };

    private static readonly CliOption Image = CliOption.Value("--image", "IMAGE",
        $"The Emissary image (Dockerfile.scratch): the emissary-init container's, whose entrypoint is emissary, or the image volume's (default {RewriteSettings.DefaultImage})");

    private static readonly CliOption Entrypoints = CliOption.Value("--entrypoints", "FILE",
        "YAML/JSON mapping image -> {entrypoint: [...], cmd: [...]}, for containers without a command");

    private static readonly CliOption NativeSidecars = CliOption.Flag("--native-sidecars",
        "Run sidecars as native sidecars (init containers with restartPolicy: Always) unless a pod's emissary.dev/native-sidecars says otherwise");

    private static readonly CliOption AsPod = CliOption.Flag("--as-pod",
        "Write each workload's pod as a bare Pod named after it (podman kube play runs Pods but not Jobs)");

    public static CliCommand Build() => new("rewrite",
        "Read Kubernetes manifests (YAML or JSON) and write them back with every pod's containers run by emissary as ordered steps.",
        "rewrite [FILE...] [-o FILE]")
    {
        Arguments = { new CliArgument("FILE...", "Manifest files to read, in order ('-' or none: stdin)", Required: false, Repeats: true) },
        Options = { Output, Image, ToolOptions.Delivery, ToolOptions.ImagePullPolicy, Entrypoints, NativeSidecars, AsPod },
        Action = parsed => RewriteCommand.Execute(Bind(new OptionValues(parsed, Environment.GetEnvironmentVariable))),
    };

    internal static RewriteOptions Bind(OptionValues values) => new()
    {
        Inputs = values.Parsed.Arguments,
        Output = values.String(Output),
        Image = values.String(Image) ?? RewriteSettings.DefaultImage,
        Delivery = ToolOptions.DeliveryOf(values),
        ImagePullPolicy = ToolOptions.ImagePullPolicyOf(values),
        Entrypoints = values.String(Entrypoints),
        NativeSidecars = values.Flag(NativeSidecars),
        AsPod = values.Flag(AsPod),
    };
}
