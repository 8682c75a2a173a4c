using Emissary.Events;
using Emissary.Interop;
using Emissary.Files;
using Emissary.Gates;

namespace Emissary.Tekton;

/// <summary>How a wait for a file ended.</summary>
internal enum WaitVerdict
{
    /// <summary>The file is there (with content when asked), or an error file counts as "go on" (breakpoint on failure).</summary>
    Ready,

    /// <summary><c>FILE.err</c> appeared: the previous step failed (Tekton's ErrSkipPreviousStepFailed).</summary>
    PreviousFailed,

    /// <summary>The previous step's entrypoint is gone (its lock was released) without writing FILE or FILE.err: it was killed.</summary>
    PreviousVanished,

    /// <summary>A terminating signal arrived: the pod is going away.</summary>
    Interrupted,

    /// <summary>stat(2) failed for another reason than "missing" (Tekton fails the wait then too).</summary>
    Failed,
}

internal readonly record struct WaitOutcome(WaitVerdict Verdict, int Signal = 0, string? Problem = null);

/// <summary>
/// Tekton's Waiter (cmd/entrypoint/waiter.go) without the 1 s poll: the same conditions — FILE
/// exists (and is non-empty with <c>-wait_file_content</c>), or FILE.err exists — checked whenever
/// something can have changed them:
/// <list type="bullet">
/// <item>inotify on FILE's directory, held only while nothing better is available (the node-wide
/// budget of inotify instances per uid is small), armed before every check so nothing is missed;</item>
/// <item>once the previous step's <see cref="TektonStepLock"/> exists, a thread blocked in
/// flock(LOCK_SH) on it instead, which wakes us when that entrypoint exits for any reason, and the
/// inotify instance is given back. A lock that is free while neither FILE nor FILE.err exists
/// means the previous entrypoint died without recording an outcome
/// (<see cref="WaitVerdict.PreviousVanished"/>), where Tekton's binary waits forever;</item>
/// <item>when inotify cannot be had (EMFILE, ENOSPC, a directory that does not exist yet), a
/// 100 ms re-check instead.</item>
/// </list>
/// SIGTERM and the other terminating signals end the wait (the loop owns the signalfd).
/// </summary>
internal sealed unsafe class TektonWaiter(IEventLoop loop) : ITektonWaiter, IDisposable
{
    private static readonly TimeSpan FallbackInterval = TimeSpan.FromMilliseconds(100);

    private const uint WatchMask = Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_CLOSE_WRITE | Libc.IN_MODIFY | Libc.IN_ATTRIB |
        Libc.IN_DELETE | Libc.IN_MOVED_FROM | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    private int _inotify = -1;
    private IDisposable? _inotifyRegistration;
    private readonly LockWatcher _locks = new(loop);

    /// <summary>For the tests and the log: how the last wait was woken.</summary>
    public bool UsedInotify { get; private set; }

    public bool UsedLockWatcher { get; private set; }

    /// <param name="file">The file to wait for; empty returns at once (Tekton's no-op).</param>
    /// <param name="detectVanished">Watch the lock of the step that writes <paramref name="file"/>.</param>
    public WaitOutcome Wait(string file, bool expectContent, bool errorFileMeansReady, bool detectVanished)
    {
        if (file.Length == 0)
        {
            return new WaitOutcome(WaitVerdict.Ready);
        }
        string directory = Path.GetDirectoryName(Path.GetFullPath(file)) ?? "/";
        bool lockWatched = false;
        try
        {
            while (true)
            {
                bool watched = (lockWatched && _inotify < 0) || Watch(directory);

                if (Check(file, expectContent, errorFileMeansReady) is { } done)
                {
                    return done;
                }
                if (detectVanished && !lockWatched)
                {
                    switch (ProbeLock(directory, out SafeFd? held))
                    {
                        case LockState.Held:
                            WatchLock(held!);
                            lockWatched = true;
                            if (!errorFileMeansReady)
                            {
                                // The lock watcher wakes us when that entrypoint ends, which it does
                                // right after writing its outcome. Not in breakpoint-on-failure mode:
                                // there a step can write `out` and then wait for the user, alive.
                                StopInotify();
                            }
                            break;
                        case LockState.Released:
                            // It may have written its outcome just before exiting: look again.
                            return Check(file, expectContent, errorFileMeansReady) ?? new WaitOutcome(WaitVerdict.PreviousVanished);
                    }
                }
                else if (lockWatched && ProbeLock(directory, out _) == LockState.Released)
                {
                    return Check(file, expectContent, errorFileMeansReady) ?? new WaitOutcome(WaitVerdict.PreviousVanished);
                }

                TimeSpan? timeout = watched || lockWatched ? null : FallbackInterval;
                if (loop.Next(timeout) is SupervisorEvent.SignalReceived received && Signals.IsTerminating(received.Signal))
                {
                    return new WaitOutcome(WaitVerdict.Interrupted, received.Signal);
                }
            }
        }
        finally
        {
            StopInotify();
        }
    }

    private static WaitOutcome? Check(string file, bool expectContent, bool errorFileMeansReady)
    {
        StatX st;
        if (Libc.StatX(Libc.AT_FDCWD, file, 0, Libc.STATX_TYPE | Libc.STATX_SIZE, &st) == 0)
        {
            if (!expectContent || st.Size > 0)
            {
                return new WaitOutcome(WaitVerdict.Ready);
            }
        }
        else if (Libc.LastErrno is not (Errno.ENOENT or Errno.ENOTDIR))
        {
            return new WaitOutcome(WaitVerdict.Failed, Problem: $"waiting for \"{file}\": stat {file}: {Libc.Describe(Libc.LastErrno)}");
        }
        if (Libc.StatX(Libc.AT_FDCWD, file + ".err", 0, Libc.STATX_TYPE, &st) == 0)
        {
            return new WaitOutcome(errorFileMeansReady ? WaitVerdict.Ready : WaitVerdict.PreviousFailed);
        }
        return null;
    }

    private enum LockState
    {
        Absent,
        Held,
        Released,
    }

    /// <summary>Looks at the lock of the step whose run directory is <paramref name="directory"/>; <paramref name="held"/> is its descriptor when held.</summary>
    private static LockState ProbeLock(string directory, out SafeFd? held)
    {
        held = null;
        int dirFd = Libc.OpenRetrying(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
        {
            return LockState.Absent;
        }
        using var dir = new SafeFd(dirFd);
        int fd = Libc.OpenAtRetrying(dirFd, TektonStepLock.FileName, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return LockState.Absent; // not started yet, or not ours (Tekton's own binary): wait as Tekton does
        }
        var handle = new SafeFd(fd);
        if (Libc.KindOf(fd) != FileType.Regular)
        {
            handle.Dispose();
            return LockState.Absent;
        }
        if (Libc.Flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) == 0)
        {
            handle.Dispose();
            return LockState.Released;
        }
        held = handle;
        return LockState.Held;
    }

    /// <summary>A thread blocked in flock(LOCK_SH): it returns when the holder exits, and wakes the loop.</summary>
    private void WatchLock(SafeFd lockFd)
    {
        UsedLockWatcher = true;
        _locks.Watch(lockFd, "previous step's lock");
    }

    /// <summary>Arms inotify on <paramref name="directory"/>; false when it cannot (then the caller re-checks every 100 ms).</summary>
    private bool Watch(string directory)
    {
        if (_inotify < 0)
        {
            int fd = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
            if (fd < 0)
            {
                return false;
            }
            if (Libc.InotifyAddWatch(fd, directory, WatchMask) < 0)
            {
                Libc.Close(fd);
                return false;
            }
            _inotify = fd;
            _inotifyRegistration = loop.Watch(fd, Libc.EPOLLIN, _ =>
            {
                Descriptors.Drain(_inotify);
                loop.Post(SupervisorEvent.Changed);
            });
            UsedInotify = true;
        }
        return true;
    }

    private void StopInotify()
    {
        _inotifyRegistration?.Dispose();
        _inotifyRegistration = null;
        if (_inotify >= 0)
        {
            Libc.Close(_inotify);
            _inotify = -1;
        }
    }

    public void Dispose()
    {
        StopInotify();
        _locks.Dispose();
    }
}
