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

namespace Emissary.Tools.Commands;

/// <summary>What <c>emissary rewrite</c> was asked to do.</summary>
internal sealed record RewriteOptions
{
    /// <summary>Files to read, in order; "-" is stdin. Empty means stdin.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>Where to write; null is stdout.</summary>
    public string? Output { get; init; }

    public string Image { get; init; } = RewriteSettings.DefaultImage;

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
        RewriteResult result = ManifestRewriter.Rewrite(sources, new RewriteSettings
        {
            Image = options.Image,
            Entrypoints = entrypoints,
            NativeSidecars = options.NativeSidecars,
            AsPod = options.AsPod,
        });

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
        if (options.Output is { } output)
        {
            try
            {
                if (!WroteThroughSpecialFile(output, result.Output))
                {
                    AtomicFile.Write(output, result.Output);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot write {output}: {ErrorText.Reason(e)}");
            }
        }
        else
        {
            StderrWriter.Write(1, result.Output);
        }
        return 0;
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
