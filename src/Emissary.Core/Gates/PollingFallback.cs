using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;

namespace Emissary.Gates;

/// <summary>
/// What the waiter does when inotify cannot be had. An instance missing now (a node-wide budget
/// per uid, given back as upstreams register) means re-checking briefly at first, then every
/// 100 ms with one warning if that lasts; no watch left means polling for good, said once.
/// </summary>
internal sealed class PollingFallback(IClock clock, ILogger logger)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ShortInterval = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan ShortPollingFor = TimeSpan.FromSeconds(2);
    public const string InstancesLimit = "/proc/sys/fs/inotify/max_user_instances";
    public const string WatchesLimit = "/proc/sys/fs/inotify/max_user_watches";

    private TimeSpan? _unavailableSince;
    private Errno _unavailableErrno;
    private bool _warned;

    /// <summary>True once inotify is given up for good: the caller must re-check on a timer.</summary>
    public bool Active { get; private set; }

    /// <summary>No inotify instance could be made just now.</summary>
    public void InstanceUnavailable(Errno errno)
    {
        _unavailableErrno = errno;
        _unavailableSince ??= clock.Elapsed;
    }

    public void InstanceAvailable() => _unavailableSince = null;

    /// <summary>Gives inotify up for good (why: <paramref name="errno"/>; the sysctl to raise: <paramref name="limit"/>).</summary>
    public void FallBack(Errno errno, string limit)
    {
        Active = true;
        Warn(Libc.Describe(errno), limit);
    }

    /// <summary>Gives inotify up for good because the last instance could not be made.</summary>
    public void FallBackForInstance() => FallBack(_unavailableErrno, InstancesLimit);

    /// <summary>
    /// How long to sleep when a gate needs watching but no inotify instance could be had: briefly
    /// at first (instances come back quickly when a burst of steps starts at once), then every
    /// 100 ms with a warning if that lasts.
    /// </summary>
    public TimeSpan WaitWithoutInstance()
    {
        if (_unavailableSince is not { } since || clock.Elapsed - since < ShortPollingFor)
        {
            return ShortInterval;
        }
        if (!_warned)
        {
            _warned = true;
            Warn(Libc.Describe(_unavailableErrno), InstancesLimit);
        }
        return Interval;
    }

    private void Warn(string reason, string limit)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            logger.Write(LogLevel.Warning, $"inotify unavailable ({reason}): checking gates every 100 ms instead; raise {limit} to restore event-driven waiting");
        }
    }
}
