using System.Globalization;
using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Files;

namespace Emissary.Control;

/// <summary>A step directory this step must not use: someone else's, a symlink, not a directory. Exit 125.</summary>
internal sealed class StepDirectoryRefusedException(string message) : Exception(message);

/// <summary>
/// The running step's own entry in the control directory: it holds a descriptor of DIR/NAME and
/// the lifetime lock for its whole life, and every file operation on its record is relative to
/// that descriptor — so renaming DIR/NAME away, or planting links in DIR, changes nothing for it.
/// Created once per `emissary run --name`.
/// </summary>
internal sealed class StepHandle : IDisposable
{
    private const uint StepDirectoryMode = 0x1ED; // 0755: only this step writes its record
    private const uint LockMode = 0x1A4; // 0644: other steps open it to take a shared lock
    private const uint AliveMode = 0x1A4; // 0644: other steps open it to read (and never get data)

    private readonly ControlDirectory _dir;
    private readonly SafeFd _stepFd;
    private readonly SafeFd _lockFd;
    private readonly SafeFd? _aliveFd;
    private StepStatus _status;

    private StepHandle(ControlDirectory dir, string name, SafeFd stepFd, SafeFd lockFd, SafeFd? aliveFd, StepStatus status)
    {
        _dir = dir;
        Name = name;
        _stepFd = stepFd;
        _lockFd = lockFd;
        _aliveFd = aliveFd;
        _status = status;
    }

    public string Name { get; }

    public StepStatus Status => _status;

    /// <summary>The descriptor of DIR/NAME, for operations relative to it.</summary>
    public int DirectoryFd => _stepFd.Fd;

    public string DisplayPath(string file) => _dir.PathOf(Name, file);

    public string DefaultResultsDirectory => _dir.PathOf(Name, ControlDirectory.ResultsDirectory);

    /// <summary>
    /// Opens (making it if needed) the step's directory, takes the step's lock (failing if another
    /// live emissary runs the same step), then records the step as waiting. Order matters: the
    /// status is written only once the lock is held, so a reader that sees a status and a free
    /// lock knows the step's emissary is gone.
    /// </summary>
    public static StepHandle Register(ControlDirectory dir, string name, DateTimeOffset now, IReadOnlyList<string> waitingFor, bool waitsForStart, string? incarnation = null)
    {
        SafeFd stepFd;
        using (SafeFd rootFd = dir.OpenRootCreating())
        {
            stepFd = OpenOwnDirectory(dir, rootFd.Fd, name);
        }
        SafeFd? lockFd = null;
        SafeFd? aliveFd = null;
        try
        {
            lockFd = TakeLock(dir, name, stepFd.Fd);
            int restarts = RestartsSoFar(stepFd.Fd, incarnation);

            // A previous incarnation (container restart) may have left an outcome and results: this
            // run has none yet. start/skip requests stay: `emissary start` may come before the step waits.
            Remove(stepFd.Fd, ControlDirectory.ExitCodeFile, dir.PathOf(name, ControlDirectory.ExitCodeFile));
            Remove(stepFd.Fd, ControlDirectory.TerminationFile, dir.PathOf(name, ControlDirectory.TerminationFile));
            Remove(stepFd.Fd, StepContext.File, dir.PathOf(name, StepContext.File));
            RemoveTree(stepFd.Fd, ControlDirectory.ResultsDirectory, dir.PathOf(name, ControlDirectory.ResultsDirectory));
            // Before the status: a waiter that sees this step registered finds its FIFO in place.
            aliveFd = HoldAlive(stepFd.Fd);

            var handle = new StepHandle(dir, name, stepFd, lockFd, aliveFd, new StepStatus
            {
                Name = name,
                State = StepState.Waiting,
                Pid = Environment.ProcessId,
                WaitingSince = now,
                WaitingFor = waitingFor.Count > 0 ? waitingFor : null,
                WaitsForStart = waitsForStart,
                Restarts = restarts,
                Incarnation = incarnation,
            });
            handle.Publish();
            return handle;
        }
        catch
        {
            aliveFd?.Dispose();
            lockFd?.Dispose();
            stepFd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How many times this step's container ran before, in this pod incarnation: a record of its
    /// own from the same incarnation means the kubelet restarted the container (its memory is
    /// gone, its record is not), so one more than that record's count; none, or one from an
    /// earlier incarnation, is a first run. The record is the step's own, in a directory only it
    /// (or root) writes; still read bounded and without following links, and a count past
    /// <see cref="MaxRestarts"/> is not believed.
    /// </summary>
    private static int RestartsSoFar(int stepFd, string? incarnation)
    {
        BoundedRead read = UntrustedFile.Read(stepFd, ControlDirectory.StatusFile, ControlDirectory.MaxStatusBytes);
        if (read is not { Outcome: ReadOutcome.Read, Bytes: { } bytes } || StepStatus.Parse(Encoding.UTF8.GetString(bytes)) is not { } previous ||
            !string.Equals(previous.Incarnation, incarnation, StringComparison.Ordinal))
        {
            return 0;
        }
        return previous.Restarts is >= 0 and < MaxRestarts ? previous.Restarts + 1 : MaxRestarts;
    }

    private const int MaxRestarts = 1_000_000;

    /// <summary>
    /// Makes DIR/NAME/alive afresh and holds it open read-write — a FIFO opened so never blocks —
    /// for life; 0644, so any uid can wait on it and only this one can write. Null when the file
    /// system has no FIFOs: waiters then fall back to the lock, which says the same thing through a
    /// thread of theirs.
    /// <para>
    /// An earlier incarnation's FIFO (a restarted container) is held open while it is replaced,
    /// then let go: the kernel reports a hangup to a reader only once a writer it has seen goes,
    /// and a waiter that opened the old FIFO after its emissary died has seen none — without this
    /// it would wait on a FIFO nobody will ever hold again.
    /// </para>
    /// </summary>
    private static SafeFd? HoldAlive(int stepFd)
    {
        // O_RDWR: a FIFO opened so never blocks, and counts as a writer.
        using SafeFd? previous = Descriptors.OpenKindAt(stepFd, ControlDirectory.AliveFifo, FileType.Fifo, Libc.O_RDWR);
        if (Libc.UnlinkAt(stepFd, ControlDirectory.AliveFifo, 0) != 0 && Libc.LastErrno is not Errno.ENOENT)
        {
            return null; // a directory planted there (by this uid): do without
        }
        if (Libc.MkFifoAt(stepFd, ControlDirectory.AliveFifo, AliveMode) != 0)
        {
            return null;
        }
        SafeFd? alive = Descriptors.OpenKindAt(stepFd, ControlDirectory.AliveFifo, FileType.Fifo, Libc.O_RDWR);
        if (alive is not null && Libc.Fchmod(alive.Fd, AliveMode) != 0)
        {
            alive.Dispose();
            return null;
        }
        return alive;
    }

    /// <summary>
    /// mkdirat 0755, or the existing DIR/NAME if it is a real directory owned by this uid or by
    /// root (a kubelet per-step volume, an earlier attempt as root). Checked after opening, on the
    /// descriptor, so a directory swapped in between is checked too.
    /// </summary>
    private static SafeFd OpenOwnDirectory(ControlDirectory dir, int rootFd, string name)
    {
        string path = dir.StepDirectory(name);
        if (Libc.MkdirAt(rootFd, name, StepDirectoryMode) != 0 && Libc.LastErrno != Errno.EEXIST)
        {
            throw new SystemCallException($"mkdir {path}", Libc.LastErrno);
        }
        int fd = Libc.OpenAtRetrying(rootFd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            if (errno is Errno.ELOOP or Errno.ENOTDIR)
            {
                string what = Libc.StatAt(rootFd, name) is { } st ? Libc.Describe(st.Kind) : "not a directory";
                throw new StepDirectoryRefusedException($"step directory {path} is {what}, not a directory: refusing to use it");
            }
            throw new SystemCallException($"open {path}", errno);
        }
        var handle = new SafeFd(fd);
        uint me = Libc.GetEuid();
        if (Libc.StatOf(fd) is not { } stat)
        {
            Errno errno = Libc.LastErrno;
            handle.Dispose();
            throw new SystemCallException($"stat {path}", errno);
        }
        if (stat.Uid != me && stat.Uid != 0)
        {
            handle.Dispose();
            throw new StepDirectoryRefusedException(
                $"step directory {path} belongs to uid {stat.Uid}, not to this step (uid {me}): refusing to use it");
        }
        // Ours: make it 0755 whatever the umask was (or an older emissary's 01777).
        if (stat.Uid == me && stat.Permissions != StepDirectoryMode && Libc.Fchmod(fd, StepDirectoryMode) != 0)
        {
            Errno errno = Libc.LastErrno;
            handle.Dispose();
            throw new SystemCallException($"chmod {path}", errno);
        }
        return handle;
    }

    private static SafeFd TakeLock(ControlDirectory dir, string name, int stepFd)
    {
        string lockPath = dir.PathOf(name, ControlDirectory.LockFile);
        int fd = Libc.OpenAtRetrying(stepFd, ControlDirectory.LockFile, Libc.O_RDWR | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, (int)LockMode);
        if (fd < 0)
        {
            throw new SystemCallException($"open {lockPath}", Libc.LastErrno);
        }
        var handle = new SafeFd(fd);
        if (Libc.KindOf(fd) is { } kind && kind != FileType.Regular)
        {
            handle.Dispose();
            throw new StepDirectoryRefusedException($"{lockPath} is {Libc.Describe(kind)}, not a regular file: refusing to use it");
        }
        // The umask may have narrowed the mode; others need to read it. Not ours (root-made): leave it.
        Libc.Fchmod(fd, LockMode);
        if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            Errno errno = Libc.LastErrno;
            handle.Dispose();
            throw errno == Errno.EWOULDBLOCK
                ? new UsageException($"step '{name}' is already being run by another emissary (lock {lockPath} is held)")
                : new SystemCallException($"flock {lockPath}", errno);
        }
        return handle;
    }

    private static void Remove(int dirFd, string name, string path)
    {
        if (Libc.UnlinkAt(dirFd, name, 0) != 0 && Libc.LastErrno is not Errno.ENOENT)
        {
            Errno errno = Libc.LastErrno;
            if (errno == Errno.EISDIR)
            {
                RemoveTree(dirFd, name, path);
                return;
            }
            throw new SystemCallException($"unlink {path}", errno);
        }
    }

    /// <summary>rm -r through descriptors: links are removed, never followed.</summary>
    private static unsafe void RemoveTree(int parentFd, string name, string path)
    {
        int fd = Libc.OpenAtRetrying(parentFd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            if (errno == Errno.ENOENT)
            {
                return;
            }
            if (errno is Errno.ELOOP or Errno.ENOTDIR)
            {
                Remove(parentFd, name, path);
                return;
            }
            throw new SystemCallException($"open {path}", errno);
        }
        using (var dir = new SafeFd(fd))
        {
            foreach (byte[] entry in Directories.List(fd))
            {
                byte[] terminated = [.. entry, 0];
                fixed (byte* p = terminated)
                {
                    if (Libc.UnlinkAt(fd, p, 0) == 0 || Libc.LastErrno == Errno.ENOENT)
                    {
                        continue;
                    }
                    if (Libc.LastErrno != Errno.EISDIR)
                    {
                        throw new SystemCallException($"unlink {path}/{Encoding.UTF8.GetString(entry)}", Libc.LastErrno);
                    }
                }
                // Entry names from readdir never contain '/', so this stays inside the tree.
                RemoveTree(fd, Encoding.UTF8.GetString(entry), $"{path}/{Encoding.UTF8.GetString(entry)}");
            }
        }
        if (Libc.UnlinkAt(parentFd, name, Libc.AT_REMOVEDIR) != 0 && Libc.LastErrno != Errno.ENOENT)
        {
            throw new SystemCallException($"rmdir {path}", Libc.LastErrno);
        }
    }

    /// <summary>DIR/NAME/results, made for the command (EMISSARY_RESULTS) and read back through this descriptor.</summary>
    public void CreateResultsDirectory()
    {
        if (Libc.MkdirAt(DirectoryFd, ControlDirectory.ResultsDirectory, 0x1FF) != 0 && Libc.LastErrno != Errno.EEXIST)
        {
            throw new SystemCallException($"mkdir {DefaultResultsDirectory}", Libc.LastErrno);
        }
    }

    /// <param name="attempts">The attempt in place (`emissary debug rerun`), 0 before any rerun.</param>
    public void MarkRunning(int pid, DateTimeOffset startedAt, int attempts = 0)
    {
        _status = _status with { State = StepState.Running, Pid = pid, StartedAt = startedAt, WaitingFor = null, Attempts = attempts };
        Publish();
    }

    /// <summary>
    /// Records the step as paused: debug.txt first (what `emissary debug env` shows), then the
    /// status, whose pid is this emissary's (the command is not running; /proc/PID is where
    /// `debug env --values` looks). Lock and alive FIFO stay held: to a waiter it is not finished.
    /// </summary>
    public void MarkPaused(StepStatus paused, string context)
    {
        Write(StepContext.File, context);
        _status = paused with { Pid = Environment.ProcessId, WaitingFor = null, WaitsForStart = _status.WaitsForStart, WaitingSince = _status.WaitingSince, Restarts = _status.Restarts, Incarnation = _status.Incarnation };
        Publish();
    }

    /// <summary>
    /// Records the final state: status.json first, then exitcode, whose presence tells every
    /// waiter that status.json is final; then lets go of the lock and the alive FIFO at once.
    /// Waiters on a running step wait for the FIFO's hangup (or block in flock(LOCK_SH) on the
    /// lock), so releasing them here, rather than when the process ends, is what wakes them —
    /// with everything they read already in place. Only the copy of the termination message
    /// (termination.json, which no waiter reads) is written after this.
    /// </summary>
    public void Finish(StepStatus final)
    {
        _status = KeepingRegistration(final);
        PublishAndLetGo(final.ExitCode ?? ExitCodes.EmissaryFailure);
    }

    /// <summary>
    /// Records a failure the kubelet answers with a restart: status.json says <c>restarting</c>,
    /// and no exitcode is written — to a waiter the step has not finished, so its dependants keep
    /// waiting for the next run instead of being skipped. Then lock and alive FIFO are let go, as
    /// <see cref="Finish"/> does, which wakes the waiters to read that.
    /// </summary>
    public void MarkRestarting(StepStatus failed)
    {
        _status = KeepingRegistration(failed with { State = StepState.Restarting });
        PublishAndLetGo(exitCode: null);
    }

    /// <summary>
    /// <paramref name="final"/> with registration's own facts (when it began waiting, emissary's
    /// pid when the runner has none, the restarts counted and the incarnation registered under).
    /// </summary>
    private StepStatus KeepingRegistration(StepStatus final) => final with
    {
        WaitingFor = null,
        WaitsForStart = _status.WaitsForStart,
        WaitingSince = _status.WaitingSince ?? final.WaitingSince,
        Pid = final.Pid ?? _status.Pid,
        Restarts = _status.Restarts,
        Incarnation = _status.Incarnation,
    };

    /// <summary>
    /// Publishes this run's last status, and the exitcode when the step finished (none when it
    /// restarts), then lets the waiters go; the replaced status.json is unlinked only after that,
    /// off the dependants' path (on ext4 here an unlink costs 11 µs).
    /// </summary>
    private void PublishAndLetGo(int? exitCode)
    {
        var replaced = new List<string>(1);
        Publish(replaced);
        if (exitCode is { } code)
        {
            AtomicFile.WriteAt(DirectoryFd, ControlDirectory.ExitCodeFile,
                Encoding.ASCII.GetBytes(code.ToString(CultureInfo.InvariantCulture) + "\n"), usuallyNew: true);
        }
        LetGo();
        AtomicFile.RemoveReplaced(DirectoryFd, replaced);
    }

    /// <summary>
    /// Lets go of the lock, then the alive FIFO, which wakes the waiters. The lock first: a waiter
    /// that opens the FIFO and then finds the lock held knows the FIFO was still held when it
    /// opened it, so its hangup will come.
    /// </summary>
    private void LetGo()
    {
        _lockFd.Dispose();
        _aliveFd?.Dispose();
    }

    /// <summary>Starts a new pod incarnation (<see cref="Incarnation"/>): this step's exit makes the kubelet restart every container.</summary>
    public void BeginPodIncarnation() => Incarnation.Begin(_dir);

    /// <summary>DIR/NAME/termination.json: the step's termination message, as written to the termination log.</summary>
    public void WriteTermination(byte[] message) => AtomicFile.WriteAt(DirectoryFd, ControlDirectory.TerminationFile, message);

    private void Publish(List<string>? replaced = null) =>
        AtomicFile.WriteAt(DirectoryFd, ControlDirectory.StatusFile, _status.ToFileContents(), replaced: replaced);

    private void Write(string file, string contents) => AtomicFile.WriteAt(DirectoryFd, file, Encoding.UTF8.GetBytes(contents));

    /// <summary>The lock is released by the kernel when this process exits; closing releases it early.</summary>
    public void Dispose()
    {
        _lockFd.Dispose();
        _aliveFd?.Dispose();
        _stepFd.Dispose();
    }
}
