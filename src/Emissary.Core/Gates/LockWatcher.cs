using Emissary.Events;
using Emissary.Files;
using Emissary.Interop;

namespace Emissary.Gates;

/// <summary>
/// Waits for locks to be let go of, each on a background thread blocked in flock(LOCK_SH): it
/// returns when the holder exits for any reason (the kernel releases the lock just as surely),
/// and wakes the loop through a pipe in the reactor's epoll set. Used by <see cref="UpstreamWatch"/>
/// and by the Tekton entrypoint's waiter.
/// </summary>
internal sealed unsafe class LockWatcher(IEventLoop reactor) : IDisposable
{
    private int _wakeRead = -1;
    private int _wakeWrite = -1;
    private IDisposable? _registration;

    /// <summary>
    /// Wakes the loop once <paramref name="lockFd"/> (opened by the caller, type-checked and
    /// without blocking; owned from now on) can be locked shared; at once when it is null.
    /// </summary>
    public void Watch(SafeFd? lockFd, string threadName)
    {
        if (_wakeRead < 0)
        {
            int* fds = stackalloc int[2];
            if (Libc.Pipe2(fds, Libc.O_CLOEXEC | Libc.O_NONBLOCK) != 0)
            {
                lockFd?.Dispose();
                throw new SystemCallException("pipe2", Libc.LastErrno);
            }
            (_wakeRead, _wakeWrite) = (fds[0], fds[1]);
            _registration = reactor.Watch(_wakeRead, Libc.EPOLLIN, _ =>
            {
                Descriptors.Drain(_wakeRead);
                reactor.Post(SupervisorEvent.Changed);
            });
        }
        int wake = _wakeWrite;
        var thread = new Thread(() =>
        {
            if (lockFd is not null)
            {
                while (Libc.Flock(lockFd.Fd, Libc.LOCK_SH) != 0 && Libc.LastErrno == Errno.EINTR)
                {
                }
                lockFd.Dispose();
            }
            byte one = 1;
            Libc.Write(wake, &one, 1);
        })
        {
            IsBackground = true,
            Name = threadName,
        };
        thread.Start();
    }

    public void Dispose()
    {
        _registration?.Dispose();
        if (_wakeRead >= 0)
        {
            Libc.Close(_wakeRead);
        }
        // _wakeWrite stays open: a lock watcher thread may still write to it. It is CLOEXEC.
    }
}
