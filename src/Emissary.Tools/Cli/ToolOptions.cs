using Emissary.Foundation;
using Emissary.Tools.PodSpec;

namespace Emissary.Tools.Cli;

/// <summary>The options `rewrite` and `local` share, checked the same way for both.</summary>
internal static class ToolOptions
{
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
