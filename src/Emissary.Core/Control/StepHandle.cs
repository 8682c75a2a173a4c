using System.Globalization;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Control;

/// <summary>
/// The running step's own entry in the control directory: it holds the lifetime lock and writes
/// the status and markers. Created once per `emissary run --name`.
/// </summary>
internal sealed class StepHandle : IDisposable
{
    private readonly ControlDirectory _dir;
    private readonly int _lockFd;
    private StepStatus _status;

    private StepHandle(ControlDirectory dir, string name, int lockFd, StepStatus status)
    {
        _dir = dir;
        Name = name;
        _lockFd = lockFd;
        _status = status;
    }

    public string Name { get; }

    public StepStatus Status => _status;

    public string SignalFifoPath => _dir.PathOf(Name, ControlDirectory.SignalFifo);

    public string DefaultResultsDirectory => _dir.PathOf(Name, ControlDirectory.ResultsDirectory);

    /// <summary>
    /// Takes the step's lock (failing if another live emissary runs the same step), then records
    /// the step as waiting. Order matters: the status is written only once the lock is held, so a
    /// reader that sees a status and a free lock knows the step's emissary is gone.
    /// </summary>
    public static StepHandle Register(ControlDirectory dir, string name, DateTimeOffset now, IReadOnlyList<string> waitingFor, bool waitsForStart)
    {
        dir.EnsureStepDirectory(name);
        string lockPath = dir.PathOf(name, ControlDirectory.LockFile);
        int fd = Libc.Open(lockPath, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            throw new SystemCallException($"open {lockPath}", Libc.LastErrno);
        }
        if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            Errno errno = Libc.LastErrno;
            Libc.Close(fd);
            throw errno == Errno.EWOULDBLOCK
                ? new UsageException($"step '{name}' is already being run by another emissary (lock {lockPath} is held)")
                : new SystemCallException($"flock {lockPath}", errno);
        }

        // A previous incarnation (container restart) may have left an outcome and results: this
        // run has none yet. start/skip markers stay: `emissary start` may come before the step waits.
        File.Delete(dir.PathOf(name, ControlDirectory.ExitCodeFile));
        File.Delete(dir.PathOf(name, ControlDirectory.TerminationFile));
        string results = dir.PathOf(name, ControlDirectory.ResultsDirectory);
        if (Directory.Exists(results))
        {
            Directory.Delete(results, recursive: true);
        }

        var handle = new StepHandle(dir, name, fd, new StepStatus
        {
            Name = name,
            State = StepState.Waiting,
            Pid = Environment.ProcessId,
            WaitingSince = now,
            WaitingFor = waitingFor.Count > 0 ? waitingFor : null,
            WaitsForStart = waitsForStart,
        });
        handle.Publish();
        return handle;
    }

    public void MarkRunning(int pid, DateTimeOffset startedAt)
    {
        _status = _status with { State = StepState.Running, Pid = pid, StartedAt = startedAt, WaitingFor = null };
        Publish();
    }

    /// <summary>
    /// Records the final state: status.json first, then exitcode, whose presence tells every
    /// waiter that status.json is final.
    /// </summary>
    public void Finish(StepStatus final)
    {
        // Registration's own facts (when it began waiting, emissary's pid) stay when the runner has none.
        _status = final with
        {
            WaitingFor = null,
            WaitsForStart = _status.WaitsForStart,
            WaitingSince = _status.WaitingSince ?? final.WaitingSince,
            Pid = final.Pid ?? _status.Pid,
        };
        Publish();
        AtomicFile.Write(_dir.PathOf(Name, ControlDirectory.ExitCodeFile), (final.ExitCode ?? 0).ToString(CultureInfo.InvariantCulture) + "\n");
    }

    /// <summary>DIR/NAME/termination.json: the step's termination message, as written to the termination log.</summary>
    public void WriteTermination(byte[] message) => AtomicFile.Write(_dir.PathOf(Name, ControlDirectory.TerminationFile), message);

    private void Publish() => AtomicFile.Write(_dir.PathOf(Name, ControlDirectory.StatusFile), _status.ToJson() + "\n");

    /// <summary>The lock is released by the kernel when this process exits; closing releases it early.</summary>
    public void Dispose() => Libc.Close(_lockFd);
}
