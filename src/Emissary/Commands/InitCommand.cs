using Emissary.Cli;
using Emissary.Supervision;

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
        string directory = Path.GetDirectoryName(Path.GetFullPath(target)) ?? "/";
        string temp = Path.Combine(directory, $".{Path.GetFileName(target)}.tmp-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(directory);
            using (var input = new FileStream(source, FileMode.Open, FileAccess.Read))
            using (var output = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                input.CopyTo(output);
                output.Flush(flushToDisk: true);
            }
            // 0555: any uid in the pod can run it, nobody can change it (Argo uses the same mode).
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            File.Move(temp, target, overwrite: true);
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new UsageException($"cannot install into {destination}: {ErrorText.Reason(e)}");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
