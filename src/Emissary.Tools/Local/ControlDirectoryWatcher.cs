using Emissary.Logging;
using Emissary.Events;
using Emissary.Interop;
using Emissary.Supervision.Posix;
using Emissary.Supervision;
using Emissary.Files;

namespace Emissary.Tools.Local;

/// <summary>
/// Tells the runner's loop (<see cref="SupervisorEvent.Changed"/>) when a step appears in the
/// control directory or renames a file into its own directory (status.json is written that way),
/// with inotify. Without inotify the steps' states are read whenever the loop wakes.
/// </summary>
internal sealed partial class ControlDirectoryWatcher : IDisposable
{
    private readonly HashSet<string> _steps = new(StringComparer.Ordinal);
    private readonly SafeFd? _inotify;
    private readonly IDisposable? _registration;

    public ControlDirectoryWatcher(string root, Reactor reactor, ILogger logger)
    {
        int fd = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (fd < 0)
        {
            Log.NoInotify(logger, Libc.Describe(Libc.LastErrno));
            return;
        }
        _inotify = new SafeFd(fd);
        Libc.InotifyAddWatch(fd, root, Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_ONLYDIR);
        _registration = reactor.Watch(fd, Libc.EPOLLIN, _ =>
        {
            Descriptors.Drain(fd);
            reactor.Post(SupervisorEvent.Changed);
        });
    }

    /// <summary>Also watches the directory of <paramref name="step"/> (once, when it exists).</summary>
    public void WatchStep(string step, string directory)
    {
        if (_inotify is not null && _steps.Add(step))
        {
            Libc.InotifyAddWatch(_inotify.Fd, directory, Libc.IN_MOVED_TO | Libc.IN_ONLYDIR);
        }
    }

    public bool IsWatching(string step) => _inotify is null || _steps.Contains(step);

    public void Dispose()
    {
        _registration?.Dispose();
        _inotify?.Dispose();
    }

    private static class Log
    {
        public static void NoInotify(ILogger logger, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"inotify unavailable ({reason}): step states are read when steps exit");
            }
        }
    }
}
