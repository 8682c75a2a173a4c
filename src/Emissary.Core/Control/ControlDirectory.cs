using System.Globalization;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Control;

/// <summary>
/// The shared emptyDir through which the steps of a pod cooperate. Every path lives here:
/// <code>
/// DIR/NAME/lock         held (flock LOCK_EX) by the step's emissary for its whole life; the kernel
///                       releases it when that process dies, which is how a SIGKILLed or OOM-killed
///                       upstream is told apart from one that has not started (Tekton #8170, #10371)
/// DIR/NAME/status.json  state, pid, times, exit code, reason (written atomically at each change)
/// DIR/NAME/exitcode     decimal exit code, written last and atomically: its presence means "finished"
/// DIR/NAME/signal       FIFO: `emissary signal` writes a signal number, the running step forwards it
/// DIR/NAME/start, skip  markers created by `emissary start|skip` for a step held by --wait-start
/// DIR/NAME/results/     default results directory (EMISSARY_RESULTS for the command)
/// DIR/NAME/termination.json  a copy of the step's termination message
/// </code>
/// Steps of one pod often run as different uids: step directories are world-writable with the
/// sticky bit (like /tmp), markers world-readable, the signal FIFO world-writable.
/// </summary>
internal sealed class ControlDirectory(string root)
{
    public const string DefaultRoot = "/var/run/emissary";
    public const string LockFile = "lock";
    public const string StatusFile = "status.json";
    public const string ExitCodeFile = "exitcode";
    public const string SignalFifo = "signal";
    public const string StartMarker = "start";
    public const string SkipMarker = "skip";
    public const string ResultsDirectory = "results";
    public const string TerminationFile = "termination.json";

    private const UnixFileMode SharedDirectoryMode = (UnixFileMode)0x3FF; // 01777

    public string Root { get; } = root;

    public string StepDirectory(string name) => Path.Combine(Root, name);

    public string PathOf(string name, string file) => Path.Combine(Root, name, file);

    /// <summary>What <see cref="IsValidName"/> accepts, as an error message says it.</summary>
    public const string NameRule = "use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit";

    /// <summary>Step names: what Kubernetes allows for container names, plus '_' and '.' for local use.</summary>
    public static void ValidateName(string name, string what = "step name")
    {
        if (!IsValidName(name))
        {
            throw new UsageException($"{what} '{name}' is not valid: {NameRule}");
        }
    }

    /// <summary>
    /// The one rule for step names (the rewrite checks manifests with it too). Kubernetes container
    /// names (DNS labels) satisfy it. By hand rather than with a Regex: the regex engine would add
    /// ~100 KB to the static binary.
    /// </summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 63 && char.IsAsciiLetterOrDigit(name[0]) &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Creates (if needed) the root and the step's directory with the shared modes.</summary>
    public void EnsureStepDirectory(string name)
    {
        EnsureDirectory(Root, mayBeShared: true);
        EnsureDirectory(StepDirectory(name), mayBeShared: true);
    }

    private static void EnsureDirectory(string path, bool mayBeShared)
    {
        if (Directory.Exists(path))
        {
            return;
        }
        Directory.CreateDirectory(path);
        if (mayBeShared)
        {
            // chmod after mkdir: the umask would otherwise strip the bits other uids need.
            File.SetUnixFileMode(path, SharedDirectoryMode);
        }
    }

    /// <summary>The step names present, sorted.</summary>
    public IReadOnlyList<string> StepNames()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }
        return Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.StartsWith('.'))
            .Select(n => n!)
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    public bool StepExists(string name) => Directory.Exists(StepDirectory(name));

    public StepStatus? ReadStatus(string name)
    {
        try
        {
            return StepStatus.Parse(File.ReadAllText(PathOf(name, StatusFile)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The step's exitcode marker, or null when the step has not finished.</summary>
    public int? ReadExitCode(string name)
    {
        try
        {
            return int.TryParse(File.ReadAllText(PathOf(name, ExitCodeFile)).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int code) ? code : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether an emissary holds the step's lock right now. A probe with LOCK_SH|LOCK_NB that
    /// succeeds means nobody holds it: the step's emissary has exited (or never started).
    /// </summary>
    public bool IsLockHeld(string name)
    {
        int fd = Libc.Open(PathOf(name, LockFile), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return false;
        }
        try
        {
            if (Libc.Flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) == 0)
            {
                return false;
            }
            return Libc.LastErrno == Errno.EWOULDBLOCK;
        }
        finally
        {
            Libc.Close(fd); // also drops a shared lock we may have taken
        }
    }

    /// <summary>Names close to <paramref name="name"/>, for "did you mean" hints.</summary>
    public string KnownStepsHint()
    {
        IReadOnlyList<string> names = StepNames();
        return names.Count == 0 ? $"no steps in {Root}" : $"known steps: {string.Join(", ", names)}";
    }
}
