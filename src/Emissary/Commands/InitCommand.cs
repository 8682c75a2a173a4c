using Emissary.Cli;

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
        source ??= OwnExecutable();
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

    /// <summary>
    /// /proc/self/exe, or argv[0] when /proc is not mounted (a bare chroot): the init container
    /// runs the binary by its absolute path, so argv[0] names the file.
    /// </summary>
    private static string OwnExecutable()
    {
        const string procExe = "/proc/self/exe";
        if (File.Exists(procExe))
        {
            return procExe;
        }
        string argv0 = Environment.GetCommandLineArgs()[0];
        return argv0.Contains('/') && File.Exists(argv0)
            ? argv0
            : throw new UsageException($"cannot find my own executable: {procExe} is missing (is /proc mounted?) and argv[0] '{argv0}' is not a path");
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
