using Emissary.Events;
using Emissary.Interop;
using Emissary.Files;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Logging;

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
/// something can have changed them, through the same parts as <c>run</c>'s gates:
/// <list type="bullet">
/// <item>the <see cref="DirectoryWatchSet"/> on FILE's directory (or its nearest ancestor until it
/// exists), held only while nothing better is available (the node-wide budget of inotify
/// instances per uid is small), armed before every check so nothing is missed;</item>
/// <item>once the previous step's <see cref="TektonStepLock"/> exists, the <see cref="LockWatcher"/>
/// instead, which wakes us when that entrypoint exits for any reason, and the inotify instance is
/// given back. A lock that is free while neither FILE nor FILE.err exists means the previous
/// entrypoint died without recording an outcome (<see cref="WaitVerdict.PreviousVanished"/>),
/// where Tekton's binary waits forever;</item>
/// <item>when inotify cannot be had, the <see cref="PollingFallback"/>'s re-checks.</item>
/// </list>
/// SIGTERM and the other terminating signals end the wait (the loop owns the signalfd).
/// </summary>
internal sealed unsafe class TektonWaiter : ITektonWaiter, IDisposable
{
    private readonly IEventLoop _loop;
    private readonly IClock _clock;
    private readonly PollingFallback _fallback;
    private readonly DirectoryWatchSet _directories;
    private readonly LockWatcher _locks;

    public TektonWaiter(IEventLoop loop, IClock clock, ILogger logger)
    {
        _loop = loop;
        _clock = clock;
        _fallback = new PollingFallback(clock, logger);
        _directories = new DirectoryWatchSet(loop, _fallback);
        _locks = new LockWatcher(loop);
    }

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
        bool watched = false;
        WaitOutcome? outcome = null;
        // The file (or its .err, or the previous entrypoint's end) is the decision; the wait is run's (DecisionWait).
        bool Decided()
        {
            // The lock watcher alone covers the wait, except in breakpoint-on-failure mode:
            // there a step can write `out` and then wait for the user, alive.
            bool lockCovers = lockWatched && !errorFileMeansReady;
            watched = lockCovers || Watch(directory);

            if ((outcome = Check(file, expectContent, errorFileMeansReady)) is not null)
            {
                return true;
            }
            if (detectVanished && !lockWatched)
            {
                switch (ProbeLock(directory, out SafeFd? held))
                {
                    case LockState.Held:
                        _locks.Watch(held!, "previous step's lock");
                        lockWatched = true;
                        if (!errorFileMeansReady)
                        {
                            // It wakes us when that entrypoint ends, which it does right after writing its outcome.
                            _directories.Stop();
                        }
                        break;
                    case LockState.Released:
                        // It may have written its outcome just before exiting: look again.
                        outcome = Check(file, expectContent, errorFileMeansReady) ?? new WaitOutcome(WaitVerdict.PreviousVanished);
                        return true;
                }
            }
            else if (lockWatched && ProbeLock(directory, out _) == LockState.Released)
            {
                outcome = Check(file, expectContent, errorFileMeansReady) ?? new WaitOutcome(WaitVerdict.PreviousVanished);
                return true;
            }
            return false;
        }

        // How long to sleep when nothing can wake the loop: the polling fallback's interval, or until an instance frees up.
        TimeSpan? Recheck() => lockWatched ? null
            : _fallback.Active ? PollingFallback.Interval
            : watched ? null
            : _fallback.WaitWithoutInstance();

        try
        {
            // Tekton's waits have no limit of their own (the TaskRun's timeout deletes the pod: SIGTERM).
            return DecisionWait.Await(_loop, _clock, Decided, limit: null, out int signal, Recheck) == DecisionEnd.Signalled
                ? new WaitOutcome(WaitVerdict.Interrupted, signal)
                : outcome!.Value;
        }
        finally
        {
            _directories.Stop();
        }
    }

    /// <summary>Arms the watch set on <paramref name="directory"/>; false when no inotify instance can be had now.</summary>
    private bool Watch(string directory)
    {
        if (!_directories.TryStart())
        {
            return false;
        }
        _directories.WatchDirectoryAndParent(directory);
        return true; // a watch given up for good is the fallback's to say (Active), looked at first
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

    public void Dispose()
    {
        _directories.Dispose();
        _locks.Dispose();
    }
}
