using Emissary.Events;
using Emissary.Files;
using Emissary.Interop;

namespace Emissary.Gates;

/// <summary>
/// One inotify instance, made on demand, and the directories it watches, each tracked by path and
/// by the directory's identity (device and inode): a path that now names another directory is
/// watched again, a watch whose directory went away is forgotten. Every event wakes the loop.
/// </summary>
internal sealed unsafe class DirectoryWatchSet(IEventLoop reactor, PollingFallback fallback) : IDisposable
{
    // Entries appearing or going away: enough for a parent or an ancestor standing in for a missing directory.
    private const uint EntryMask = Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_DELETE | Libc.IN_MOVED_FROM |
        Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    // A directory a gate reads from: also what is written in it.
    private const uint WatchMask = EntryMask | Libc.IN_CLOSE_WRITE | Libc.IN_MODIFY | Libc.IN_ATTRIB;

    private readonly Dictionary<string, WatchedDirectory> _watched = new(StringComparer.Ordinal);
    private int _inotify = -1;
    private IDisposable? _registration;

    /// <summary>An inotify instance, made on demand; false (poll) when none can be had now.</summary>
    public bool TryStart()
    {
        if (_inotify >= 0)
        {
            return true;
        }
        if (fallback.Active)
        {
            return false;
        }
        int fd = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (fd < 0)
        {
            fallback.InstanceUnavailable(Libc.LastErrno);
            return false;
        }
        fallback.InstanceAvailable();
        _inotify = fd;
        _registration = reactor.Watch(_inotify, Libc.EPOLLIN, _ => OnInotify());
        return true;
    }

    /// <summary>Like <see cref="TryStart"/>, but without an instance polls for good.</summary>
    public void StartOrFallBack()
    {
        if (_inotify < 0 && !fallback.Active && !TryStart())
        {
            fallback.FallBackForInstance();
        }
    }

    /// <summary>Gives the instance back (a node-wide budget per uid) and forgets every watch.</summary>
    public void Stop()
    {
        if (_inotify < 0)
        {
            return;
        }
        _registration?.Dispose();
        _registration = null;
        Libc.Close(_inotify);
        _inotify = -1;
        _watched.Clear();
    }

    /// <summary>
    /// Watches <paramref name="directory"/> and its parent (or their nearest existing ancestors):
    /// the parent sees the directory itself removed and made again, which the directory's own
    /// watch may not report (DELETE_SELF waits until no open file inside pins it).
    /// </summary>
    public void WatchDirectoryAndParent(string directory)
    {
        // Absolute, so that the walk up from a relative control directory reaches the working directory.
        string full = Path.GetFullPath(directory);
        ForgetIfReplaced(full);
        WatchDirectoryOrAncestor(full, WatchMask);
        if (Path.GetDirectoryName(full) is { } parent)
        {
            ForgetIfReplaced(parent);
            WatchDirectoryOrAncestor(parent, EntryMask);
        }
    }

    /// <summary>
    /// Reads the inotify events and wakes the loop. A watch whose directory was removed, moved away
    /// or unmounted no longer stands for its path and is forgotten; on overflow every watch is
    /// re-armed (adding a watch again on the same directory is harmless).
    /// </summary>
    private void OnInotify()
    {
        byte* buffer = stackalloc byte[4096];
        nint n;
        while ((n = Libc.Read(_inotify, buffer, 4096)) > 0)
        {
            for (nint offset = 0; offset + 16 <= n;)
            {
                int wd = *(int*)(buffer + offset);
                uint mask = *(uint*)(buffer + offset + 4);
                uint nameLength = *(uint*)(buffer + offset + 12);
                offset += 16 + (nint)nameLength;
                if ((mask & Libc.IN_Q_OVERFLOW) != 0)
                {
                    _watched.Clear();
                }
                else if ((mask & (Libc.IN_IGNORED | Libc.IN_DELETE_SELF | Libc.IN_UNMOUNT | Libc.IN_MOVE_SELF)) != 0)
                {
                    ForgetWatch(wd);
                }
            }
        }
        reactor.Post(SupervisorEvent.Changed);
    }

    /// <summary>
    /// Watches <paramref name="directory"/> (absolute) for <paramref name="mask"/>, or its deepest
    /// existing ancestor for entries only until it appears.
    /// </summary>
    private void WatchDirectoryOrAncestor(string directory, uint mask)
    {
        if (fallback.Active)
        {
            return;
        }
        for (string? d = directory; d is not null; d = Path.GetDirectoryName(d), mask = EntryMask)
        {
            uint already = _watched.TryGetValue(d, out WatchedDirectory? existing) ? existing.Mask : 0;
            if ((already & mask) == mask)
            {
                return;
            }
            mask |= already; // one watch per directory: its mask is replaced, so ask for both
            // The identity is taken before the watch: if the path changes in between, the next
            // round sees a mismatch and watches again, never the other way round.
            if (!IdentityOf(d, out DirectoryIdentity identity))
            {
                continue;
            }
            int wd = Libc.InotifyAddWatch(_inotify, d, mask);
            if (wd < 0)
            {
                Errno errno = Libc.LastErrno;
                if (errno is Errno.ENOSPC or Errno.ENOMEM)
                {
                    fallback.FallBack(errno, PollingFallback.WatchesLimit);
                }
                else if (errno is not (Errno.ENOENT or Errno.ENOTDIR or Errno.EACCES))
                {
                    throw new SystemCallException($"inotify_add_watch {d}", errno);
                }
                continue;
            }
            _watched[d] = new WatchedDirectory(wd, identity, mask);
            return;
        }
    }

    /// <summary>Forgets the watch on <paramref name="path"/> when the path now names another directory, or nothing.</summary>
    private void ForgetIfReplaced(string path)
    {
        if (_watched.TryGetValue(path, out WatchedDirectory? watched) && !(IdentityOf(path, out DirectoryIdentity now) && now.Same(watched.Identity)))
        {
            Forget(path);
        }
    }

    private void Forget(string path)
    {
        if (!_watched.TryGetValue(path, out WatchedDirectory? watched))
        {
            return;
        }
        _watched.Remove(path);
        if (!IsWatching(watched.Wd))
        {
            // Already gone when the kernel dropped it (EINVAL): nothing to undo.
            Libc.InotifyRmWatch(_inotify, watched.Wd);
        }
    }

    /// <summary>Forgets every path watch descriptor <paramref name="wd"/> stood for (plain loops: no query code in the binaries for this).</summary>
    private void ForgetWatch(int wd)
    {
        List<string>? paths = null;
        foreach (KeyValuePair<string, WatchedDirectory> entry in _watched)
        {
            if (entry.Value.Wd == wd)
            {
                (paths ??= []).Add(entry.Key);
            }
        }
        foreach (string path in paths ?? [])
        {
            Forget(path);
        }
    }

    private bool IsWatching(int wd)
    {
        foreach (KeyValuePair<string, WatchedDirectory> entry in _watched)
        {
            if (entry.Value.Wd == wd)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Device and inode of the directory <paramref name="path"/> names (links followed, as inotify does); false when it names none.</summary>
    private static bool IdentityOf(string path, out DirectoryIdentity identity)
    {
        StatX st;
        bool found = Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_INO | Libc.STATX_TYPE, &st) == 0 && st.Kind == FileType.Directory;
        identity = found ? new DirectoryIdentity(((ulong)st.DevMajor << 32) | st.DevMinor, st.Inode) : default;
        return found;
    }

    // Two plain fields rather than a tuple: no generic tuple code for one comparison.
    private readonly struct DirectoryIdentity(ulong device, ulong inode)
    {
        private readonly ulong _device = device;
        private readonly ulong _inode = inode;

        public bool Same(DirectoryIdentity other) => _device == other._device && _inode == other._inode;
    }

    // A class, not a struct: the dictionary and the queries over it then share the code every
    // reference-typed instantiation uses, which keeps the binaries smaller (measured: see docs/benchmarks.md).
    private sealed class WatchedDirectory(int wd, DirectoryIdentity identity, uint mask)
    {
        public int Wd { get; } = wd;

        public DirectoryIdentity Identity { get; } = identity;

        public uint Mask { get; } = mask;
    }

    public void Dispose() => Stop();
}
