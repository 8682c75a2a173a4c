using Emissary.Interop;
using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>
/// The liveness signal Tekton's file protocol lacks (tektoncd/pipeline#10371): every step's
/// entrypoint holds <c>flock(LOCK_EX)</c> on <c>/tekton/run/N/emissary.lock</c> in its own run
/// directory for its whole life. The kernel releases it however the process ends, SIGKILL and
/// OOM included, so the next step's waiter can tell "still running" (locked) from "gone without
/// writing out or out.err" (unlocked) without a heartbeat or a timeout.
/// The file is created under a temporary name, locked, then renamed into place, so it is never
/// visible unlocked while its owner lives. Other steps mount the directory read-only: they can
/// take a shared lock to wait, not remove or replace it.
/// </summary>
internal sealed class TektonStepLock : IDisposable
{
    public const string FileName = "emissary.lock";
    private const int Mode = 0x1A4; // 0644: waiters of other uids open it to take a shared lock

    private readonly SafeFd _fd;

    private TektonStepLock(SafeFd fd) => _fd = fd;

    /// <summary>Takes the lock in <paramref name="runDirectory"/>; null (the step runs without one) when the directory is not writable.</summary>
    public static TektonStepLock? Take(string runDirectory, out string? problem)
    {
        problem = null;
        int dirFd = Libc.OpenRetrying(runDirectory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
        {
            problem = $"cannot open {runDirectory}: {Libc.Describe(Libc.LastErrno)}";
            return null;
        }
        using var dir = new SafeFd(dirFd);
        string temp = $".{FileName}.tmp-{TempNames.RandomHex()}";
        int fd = Libc.OpenAtRetrying(dirFd, temp, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, Mode);
        if (fd < 0)
        {
            problem = $"cannot create a lock in {runDirectory}: {Libc.Describe(Libc.LastErrno)}";
            return null;
        }
        var handle = new SafeFd(fd);
        Libc.Fchmod(fd, Mode);
        if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0 || Libc.RenameAt(dirFd, temp, dirFd, FileName) != 0)
        {
            problem = $"cannot lock {runDirectory}/{FileName}: {Libc.Describe(Libc.LastErrno)}";
            Libc.UnlinkAt(dirFd, temp, 0);
            handle.Dispose();
            return null;
        }
        return new TektonStepLock(handle);
    }

    public void Dispose() => _fd.Dispose();
}
