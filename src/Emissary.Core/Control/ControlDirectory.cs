using System.Globalization;
using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Foundation.Sequences;
using Emissary.Files;

namespace Emissary.Control;

/// <summary>
/// The shared directory through which the steps of a pod cooperate:
/// <code>
/// DIR/NAME/             the step's record, made (0755) and written only by the step's own emissary
/// DIR/NAME/lock         held (flock LOCK_EX) by the step's emissary for its whole life; the kernel
///                       releases it when that process dies, which is how a SIGKILLed or OOM-killed
///                       upstream is told apart from one that has not started (Tekton #8170, #10371)
/// DIR/NAME/status.json  state, pid, times, exit code, reason (written atomically at each change)
/// DIR/NAME/exitcode     decimal exit code, written last and atomically: its presence means "finished"
/// DIR/NAME/signal       FIFO (0622): `emissary signal` writes a signal number, the running step forwards it
/// DIR/NAME/results/     default results directory (EMISSARY_RESULTS for the command)
/// DIR/NAME/termination.json  a copy of the step's termination message
/// DIR/.start.NAME, DIR/.skip.NAME  requests made by `emissary start|skip` for a step held by --wait-start
/// </code>
/// Other containers of the pod (other uids, not necessarily friendly) share DIR. So a step works
/// on its record only through a descriptor of its own directory, refuses a directory someone else
/// made, and reads everything another step wrote as untrusted: no symlink followed, regular files
/// only, a few KiB at most, never a blocking open.
/// </summary>
internal sealed partial class ControlDirectory(string root, ILogger? logger = null)
{
    public const string DefaultRoot = "/var/run/emissary";
    public const string LockFile = "lock";
    public const string StatusFile = "status.json";
    public const string ExitCodeFile = "exitcode";
    public const string SignalFifo = "signal";

    /// <summary>
    /// A FIFO the step's emissary holds open for writing for as long as it lives, writing nothing:
    /// a waiter that opened it for reading gets a hangup the moment the step is over (it recorded
    /// its outcome and let go, or it died), straight into its event loop.
    /// </summary>
    public const string AliveFifo = "alive";
    public const string ResultsDirectory = "results";
    public const string TerminationFile = "termination.json";

    /// <summary>Longest exitcode marker read; anything longer is not a marker.</summary>
    public const int MaxMarkerBytes = 4096;

    /// <summary>Longest status.json read.</summary>
    public const int MaxStatusBytes = 64 * 1024;

    private const uint SharedRootMode = 0x3FF; // 01777, like /tmp

    public string Root { get; } = root;

    public string StepDirectory(string name) => Path.Combine(Root, name);

    public string PathOf(string name, string file) => Path.Combine(Root, name, file);

    /// <summary>DIR/.start.NAME or DIR/.skip.NAME: no valid step name starts with '.', so `status` never takes it for a step.</summary>
    public static string RequestName(string name, bool start) => (start ? ".start." : ".skip.") + name;

    public string RequestPath(string name, bool start) => Path.Combine(Root, RequestName(name, start));
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

    /// <summary>
    /// Opens DIR (a path the user named, so trusted), creating it 01777 when missing: steps of
    /// other uids make their own directories in it. Throws <see cref="SystemCallException"/>.
    /// </summary>
    public SafeFd OpenRootCreating()
    {
        bool created = false;
        if (Libc.Mkdir(Root, 0x1C0 /* 0700 until it is opened and chmod-ed */) == 0)
        {
            created = true;
        }
        else if (Libc.LastErrno == Errno.ENOENT)
        {
            string? parent = Path.GetDirectoryName(Path.GetFullPath(Root));
            Errno parentErrno = parent is null ? Errno.ENOENT : Directories.MakeAll(parent);
            if (parentErrno != 0)
            {
                throw new SystemCallException($"mkdir {parent}", parentErrno);
            }
            created = Libc.Mkdir(Root, 0x1C0) == 0;
        }
        int fd = Libc.OpenRetrying(Root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException($"open {Root}", Libc.LastErrno);
        }
        var handle = new SafeFd(fd);
        // chmod after mkdir, through the descriptor: the umask would otherwise strip the bits other uids need.
        if (created && Libc.Fchmod(fd, SharedRootMode) != 0)
        {
            Errno errno = Libc.LastErrno;
            handle.Dispose();
            throw new SystemCallException($"chmod {Root}", errno);
        }
        return handle;
    }

    /// <summary>DIR opened for reading, or null when it cannot be (missing: nothing recorded yet).</summary>
    public SafeFd? OpenRoot()
    {
        int fd = Libc.OpenRetrying(Root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        return fd < 0 ? null : new SafeFd(fd);
    }

    /// <summary>
    /// DIR/NAME opened as a directory, never through a symlink, or null when there is no such
    /// directory. Opened anew each time: a step directory renamed or recreated is seen as it is now.
    /// </summary>
    public SafeFd? OpenStep(string name)
    {
        using SafeFd? rootFd = OpenRoot();
        if (rootFd is null)
        {
            return null;
        }
        int fd = Libc.OpenAtRetrying(rootFd.Fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            if (errno is Errno.ELOOP or Errno.ENOTDIR && logger is not null)
            {
                Log.Ignored(logger, StepDirectory(name), errno == Errno.ELOOP ? "is a symbolic link, not a directory" : "is not a directory");
            }
            return null;
        }
        return new SafeFd(fd);
    }

    /// <summary>The step names present (directories, not links), sorted.</summary>
    public IReadOnlyList<string> StepNames()
    {
        using SafeFd? rootFd = OpenRoot();
        if (rootFd is null)
        {
            return [];
        }
        var names = new List<string>();
        foreach (byte[] raw in Directories.List(rootFd.Fd))
        {
            if (raw[0] == (byte)'.' || !Ascii.IsValid(raw))
            {
                continue;
            }
            string name = Encoding.ASCII.GetString(raw);
            if (IsValidName(name) && Libc.StatAt(rootFd.Fd, name) is { Kind: FileType.Directory })
            {
                names.Add(name);
            }
        }
        names.SortInPlace(StringComparer.Ordinal);
        return names;
    }

    public bool StepExists(string name)
    {
        using SafeFd? rootFd = OpenRoot();
        return rootFd is not null && Libc.StatAt(rootFd.Fd, name) is { Kind: FileType.Directory };
    }

    public StepStatus? ReadStatus(string name)
    {
        using SafeFd? step = OpenStep(name);
        return step is not null && ReadMarker(step.Fd, name, StatusFile, MaxStatusBytes) is { } bytes
            ? StepStatus.Parse(Encoding.UTF8.GetString(bytes))
            : null;
    }

    /// <summary>DIR/NAME/debug.txt: what the step's command runs with, recorded when it paused; null when it never paused.</summary>
    public string? ReadContext(string name)
    {
        using SafeFd? step = OpenStep(name);
        return step is not null && ReadMarker(step.Fd, name, StepContext.File, MaxStatusBytes) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;
    }

    /// <summary>The step's exitcode marker, or null when the step has not finished (or the marker is not valid).</summary>
    public int? ReadExitCode(string name)
    {
        using SafeFd? step = OpenStep(name);
        if (step is null || ReadMarker(step.Fd, name, ExitCodeFile, MaxMarkerBytes) is not { } bytes)
        {
            return null;
        }
        return ParseExitCode(bytes);
    }

    /// <summary>The code an exitcode marker's bytes hold (decimal, blanks around it allowed), or null when they hold none.</summary>
    internal static int? ParseExitCode(ReadOnlySpan<byte> marker) =>
        int.TryParse(Encoding.ASCII.GetString(marker).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int code) ? code : null;

    /// <summary>Whether `emissary start NAME` (or `skip`) asked for it: a regular file DIR/.start.NAME (DIR/.skip.NAME).</summary>
    public bool HasRequest(string name, bool start)
    {
        using SafeFd? rootFd = OpenRoot();
        if (rootFd is null || Libc.StatAt(rootFd.Fd, RequestName(name, start)) is not { } st)
        {
            return false;
        }
        if (st.Kind != FileType.Regular)
        {
            if (logger is not null)
            {
                Log.Ignored(logger, RequestPath(name, start), $"is {Libc.Describe(st.Kind)}, not a regular file");
            }
            return false;
        }
        return true;
    }

    /// <summary>DIR/NAME/lock opened read-only (a regular file, not through a link, without blocking), or null.</summary>
    public SafeFd? OpenLock(string name)
    {
        using SafeFd? step = OpenStep(name);
        return step is null ? null : Descriptors.OpenKindAt(step.Fd, LockFile, FileType.Regular, Libc.O_RDONLY);
    }

    /// <summary>
    /// DIR/NAME/alive opened for reading, without blocking (a FIFO, not through a link, checked
    /// before opening — a device node is never opened — and again on the descriptor), or null.
    /// </summary>
    public SafeFd? OpenAlive(string name)
    {
        using SafeFd? step = OpenStep(name);
        return step is null ? null : Descriptors.OpenKindAt(step.Fd, AliveFifo, FileType.Fifo, Libc.O_RDONLY);
    }

    /// <summary>
    /// Whether an emissary holds the step's lock right now. A probe with LOCK_SH|LOCK_NB that
    /// succeeds means nobody holds it: the step's emissary has exited (or never started).
    /// </summary>
    public bool IsLockHeld(string name)
    {
        using SafeFd? lockFd = OpenLock(name);
        if (lockFd is null)
        {
            return false;
        }
        // Closing the descriptor also drops a shared lock the probe may have taken.
        return Libc.Flock(lockFd.Fd, Libc.LOCK_SH | Libc.LOCK_NB) != 0 && Libc.LastErrno == Errno.EWOULDBLOCK;
    }

    /// <summary>Names close to <paramref name="name"/>, for "did you mean" hints.</summary>
    public string KnownStepsHint()
    {
        IReadOnlyList<string> names = StepNames();
        return names.Count == 0 ? $"no steps in {Root}" : $"known steps: {string.Join(", ", names)}";
    }

    /// <summary>A marker another step wrote: its bytes, or null when absent or not a valid marker (said once at debug level).</summary>
    private byte[]? ReadMarker(int stepFd, string step, string file, int maxBytes)
    {
        BoundedRead read = UntrustedFile.Read(stepFd, file, maxBytes);
        if (read.Outcome == ReadOutcome.Read)
        {
            return read.Bytes;
        }
        if (read.Outcome != ReadOutcome.Missing && logger is not null)
        {
            Log.Ignored(logger, PathOf(step, file), read.Problem ?? "cannot be read");
        }
        return null;
    }

    private static class Log
    {
        public static void Ignored(ILogger logger, string path, string problem)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"ignoring {path}: it {problem}");
            }
        }
    }
}
