using System.Text;
using Emissary.Cli;
using Emissary.Commands;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.PodSpec;
using Emissary.Files;

namespace Emissary.Tools.Commands;

/// <summary>What <c>emissary rewrite</c> was asked to do.</summary>
internal sealed record RewriteOptions
{
    /// <summary>Files to read, in order; "-" is stdin. Empty means stdin.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>Where to write; null is stdout.</summary>
    public string? Output { get; init; }

    public string Image { get; init; } = RewriteSettings.DefaultImage;

    /// <summary>--delivery; null: each pod as it is wired already, else init.</summary>
    public BinaryDelivery? Delivery { get; init; }

    /// <summary>--image-pull-policy, as the API spells it; null when not given.</summary>
    public string? ImagePullPolicy { get; init; }

    /// <summary>The --entrypoints file, if any.</summary>
    public string? Entrypoints { get; init; }

    public bool NativeSidecars { get; init; }

    public bool AsPod { get; init; }
}

/// <summary>
/// <c>emissary rewrite [FILE...] [-o FILE]</c>: Kubernetes manifests in, the same manifests with
/// emissary wired into every pod out, so that <c>helm template ... | emissary rewrite | kubectl apply -f -</c>
/// works. All or nothing: with any invalid manifest, every problem is printed (one per line, on
/// stderr), nothing is written and the exit code is 1.
/// </summary>
internal static class RewriteCommand
{
    /// <summary>At least one manifest is invalid.</summary>
    public const int InvalidManifests = 1;

    /// <summary>Returns the exit code; throws <see cref="UsageException"/> (125) for unreadable input or unwritable output.</summary>
    public static int Execute(RewriteOptions options)
    {
        ToolOptions.RequireImage(options.Image);
        EntrypointIndex? entrypoints = ToolOptions.LoadEntrypoints(options.Entrypoints);

        IReadOnlyList<string> inputs = options.Inputs.Count > 0 ? options.Inputs : [ManifestSet.StandardInput];
        var sources = inputs.Select(i => (i, InputText.Read(i))).ToArray();
        var settings = new RewriteSettings
        {
            Image = options.Image,
            Delivery = options.Delivery,
            ImagePullPolicy = options.ImagePullPolicy,
            Entrypoints = entrypoints,
            NativeSidecars = options.NativeSidecars,
            AsPod = options.AsPod,
        };
        if (sources is [(string name, string text)] && ResourceListRewriter.Read(text, name) is { } resourceList)
        {
            return ExecuteFunction(resourceList, settings, options.Output);
        }
        RewriteResult result = ManifestRewriter.Rewrite(sources, settings);

        if (!result.Succeeded)
        {
            foreach (string error in result.Errors)
            {
                StderrWriter.WriteLine(error);
            }
            return InvalidManifests;
        }
        foreach (string warning in result.Warnings)
        {
            StderrWriter.WriteLine("emissary: warning: " + warning);
        }
        Write(options.Output, result.Output);
        return 0;
    }

    /// <summary>
    /// As a KRM function (the input is one ResourceList): the ResourceList goes out even with
    /// errors, which are in its <c>results</c> (and on stderr, one per line); exit 1 when there are any.
    /// </summary>
    private static int ExecuteFunction(ManifestSet resourceList, RewriteSettings settings, string? output)
    {
        ResourceListResult result = ResourceListRewriter.Rewrite(resourceList, settings);
        foreach (string error in result.Errors)
        {
            StderrWriter.WriteLine(error);
        }
        foreach (string warning in result.Warnings)
        {
            StderrWriter.WriteLine("emissary: warning: " + warning);
        }
        Write(output, result.Output);
        return result.Errors.Count > 0 ? InvalidManifests : 0;
    }

    /// <summary>To -o FILE (atomically) or stdout.</summary>
    private static void Write(string? output, string text)
    {
        if (output is null)
        {
            StderrWriter.Write(1, text);
            return;
        }
        try
        {
            if (!WroteThroughSpecialFile(output, text))
            {
                AtomicFile.Write(output, text);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot write {output}: {ErrorText.Reason(e)}");
        }
    }

    /// <summary>
    /// -o /dev/null, /dev/stdout, a FIFO: a rename would replace the device node (as root,
    /// /dev/null itself) with a regular file, so such a file is written through, like a shell's
    /// redirection. False when <paramref name="path"/> is a regular file or cannot be opened as it is.
    /// </summary>
    private static bool WroteThroughSpecialFile(string path, string text)
    {
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return false;
        }
        using var handle = new SafeFd(fd);
        if (Libc.KindOf(fd) is not { } kind || kind is FileType.Regular)
        {
            return false;
        }
        Errno errno = Libc.WriteAll(fd, Encoding.UTF8.GetBytes(text));
        if (errno != 0)
        {
            throw new IOException(Libc.Describe(errno), (int)errno);
        }
        return true;
    }
}
