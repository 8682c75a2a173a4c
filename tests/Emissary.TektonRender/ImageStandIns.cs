namespace Emissary.TektonRender;

/// <summary>
/// The machine has no network, so every image an example names runs as one local busybox-based
/// image (scripts/e2e-tekton.sh builds it: busybox's applets, <c>bash</c> as busybox's ash, and
/// the small entrypoints below). What the controller reads from the registry for a step without
/// <c>command</c> (the image's ENTRYPOINT and CMD, pkg/pod/entrypoint_lookup_impl.go) is the real
/// image's config, from this table; an image not in it is refused (node, perl: no stand-in).
/// </summary>
internal static class ImageStandIns
{
    private sealed record ImageConfig(string[] Entrypoint, string[] Cmd);

    // Repository (the last path element, before a tag or digest) → the config its image declares.
    private static readonly Dictionary<string, ImageConfig> Configs = new()
    {
        ["busybox"] = new([], ["sh"]),
        ["alpine"] = new([], ["/bin/sh"]),
        ["ubuntu"] = new([], ["/bin/bash"]),
        // docker.io/library/bash: docker-entrypoint.sh prepends `bash` when the first arg is an option.
        ["bash"] = new(["docker-entrypoint.sh"], ["bash"]),
        // Tekton's nop image (ko-built): /ko-app/nop, which exits 0.
        ["nop"] = new(["/ko-app/nop"], []),
        // Rendered but not runnable here: the stand-in has no python3, so such a step fails with
        // 127 and the e2e leaves it unchecked (produce-consume-artifacts' last step).
        ["python"] = new([], ["python3"]),
    };

    public static string Repository(string image)
    {
        string path = image.Split('@')[0];
        string last = path[(path.LastIndexOf('/') + 1)..];
        int colon = last.IndexOf(':');
        last = colon < 0 ? last : last[..colon];
        // ghcr.io/tektoncd/pipeline/nop-8eac7c...: ko names its images NAME-<hash>.
        return last.StartsWith("nop-", StringComparison.Ordinal) ? "nop" : last;
    }

    /// <summary>The command the controller resolves for a step without one: ENTRYPOINT, or CMD when there is none, CMD appended when the step has no args.</summary>
    public static List<string> Command(string image, bool hasArgs)
    {
        string repo = Repository(image);
        ImageConfig config = Configs.GetValueOrDefault(repo)
            ?? throw new RenderError($"image {image}: no local stand-in for {repo} (only {string.Join(", ", Configs.Keys)})");
        if (config.Entrypoint.Length == 0) return [.. config.Cmd];
        return hasArgs ? [.. config.Entrypoint] : [.. config.Entrypoint, .. config.Cmd];
    }

    public static void Check(string image)
    {
        string repo = Repository(image);
        if (!Configs.ContainsKey(repo)) throw new RenderError($"image {image}: no local stand-in for {repo} (only {string.Join(", ", Configs.Keys)})");
    }
}
