using Emissary.Foundation;

namespace Emissary.Supervision;

internal static class SelfExecutable
{
    /// <summary>
    /// /proc/self/exe, or argv[0] when /proc is not mounted (a bare chroot): the init container
    /// runs the binary by its absolute path, so argv[0] names the file.
    /// </summary>
    public static string Path()
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
}
