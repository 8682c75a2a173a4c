using Emissary.Control;
using Emissary.Foundation;
using Emissary.Supervision;
using Emissary.Files;

namespace Emissary.Commands;

/// <summary>
/// <c>emissary init DEST</c>: the init container copies the running binary onto the shared
/// emptyDir. It reads /proc/self/exe, so it needs no shell and no <c>cp</c> (FROM scratch works).
/// </summary>
internal static class InitCommand
{
    public const string BinaryName = "emissary";

    /// <summary>Copies the executable; returns the installed path. Throws <see cref="UsageException"/> on failure.</summary>
    public static string Execute(string destination, string? source = null)
    {
        source ??= SelfExecutable.Path();
        string target = Directory.Exists(destination) || destination.EndsWith('/')
            ? Path.Combine(destination, BinaryName)
            : destination;
        try
        {
            // 0555: any uid in the pod can run it, nobody can change it (Argo uses the same mode).
            // Missing directories are created and DEST resolved by WritePath: never through a
            // link another container planted on the shared volume.
            AtomicFile.Write(target, File.ReadAllBytes(source), ExecutableMode, flushToDisk: true, createParents: true);
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot install into {destination}: {ErrorText.Reason(e)}");
        }
    }

    private const UnixFileMode ExecutableMode = UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
        UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
}
