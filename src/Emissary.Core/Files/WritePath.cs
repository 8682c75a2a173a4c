using Emissary.Interop;

namespace Emissary.Files;

/// <summary>
/// A path Emissary was told to write (or read) refused or not reachable. <see cref="Exception.Message"/>
/// is the reason alone, one line, for the caller to put after the path it names; HResult is the errno.
/// </summary>
internal sealed class WritePathException(string reason, Errno errno) : IOException(reason, (int)errno)
{
    public Errno Errno { get; } = errno;
}

/// <summary>
/// The one resolver for a path Emissary writes — capture files, the termination log, post files,
/// what <c>init</c> and <c>cp</c> install, parents it creates — and for a path someone else names
/// that it reads. Other containers of the pod share volumes with this one and may plant a symbolic
/// link or a FIFO anywhere they can write; so the path is resolved one component at a time from
/// "/" (or the working directory), each directory opened O_DIRECTORY|O_NOFOLLOW relative to the
/// one before, and a link is followed only where no other container can have made it: in a
/// directory on this container's own root file system (the same device as "/"), or in a directory
/// declared trusted (<see cref="TrustLinksIn"/>: Tekton's /tekton/steps) that is mounted read-only.
/// That keeps Debian's /var/run -> /run and Tekton's /tekton/steps/step-NAME ->
/// /tekton/run/N/status working, and refuses a link on any volume another container may write
/// (ELOOP, with a reason that names the link). openat2(RESOLVE_NO_SYMLINKS) resolves a path without any link in
/// one call where the kernel has it; any failure there (a link, a missing parent, no openat2, a
/// seccomp filter) takes the walk, which decides and says why.
/// <para>
/// The result is the final directory's descriptor and the last name in it: the file is opened
/// relative to it (<see cref="Open"/>), or replaced in it (AtomicFile), never by path again.
/// </para>
/// </summary>
internal sealed class WritePath : IDisposable
{
    /// <summary>Links followed in one resolution at most, as the kernel's own limit (ELOOP).</summary>
    public const int MaxLinks = 40;

    /// <summary>0755: directories Emissary creates on the way (a capture file's parents).</summary>
    private const uint DirectoryMode = 0x1ED;

    private static bool s_openAt2Works = true;
    private static (uint Major, uint Minor)? s_rootDevice;

    private readonly SafeFd _directory;

    private WritePath(SafeFd directory, string name)
    {
        _directory = directory;
        Name = name;
    }

    /// <summary>The directory that holds <see cref="Name"/>, opened O_PATH.</summary>
    public int DirectoryFd => _directory.Fd;

    /// <summary>The last component: a plain name in <see cref="DirectoryFd"/>, never a path.</summary>
    public string Name { get; }

    /// <summary>
    /// The directory of <paramref name="path"/> and its last name, which is left alone (not
    /// followed even if it is a link): for a caller that replaces the name (rename never follows).
    /// </summary>
    /// <exception cref="WritePathException">A component is a link on a shared volume, missing, not a directory, ...</exception>
    public static WritePath Parent(string path, bool createParents = false) => Resolve(path, createParents, followLast: false);

    /// <summary>
    /// Like <see cref="Parent"/>, but a last name that is a link is followed under the same rule,
    /// so <see cref="Name"/> is what the path finally names (missing, or anything but a link).
    /// </summary>
    /// <exception cref="WritePathException">As <see cref="Parent"/>.</exception>
    public static WritePath Resolve(string path, bool createParents = false) => Resolve(path, createParents, followLast: true);

    /// <summary>
    /// Opens the resolved name with <paramref name="access"/> (O_WRONLY, O_RDONLY, | O_APPEND),
    /// creating it with <paramref name="mode"/> (minus umask) when asked and missing. Never through
    /// a link, never blocking: the type is checked before opening (opening a device can have
    /// effects of its own) and on the descriptor, which is non-blocking until then (a FIFO without
    /// a reader fails with ENXIO instead of waiting for one). Only a regular file is accepted, or
    /// also a character device with <paramref name="characterDevice"/>: that one stays
    /// non-blocking, so a write it cannot take now fails (EAGAIN) instead of hanging. No O_TRUNC:
    /// a caller that empties the file does it with ftruncate once the type is known.
    /// </summary>
    /// <exception cref="WritePathException">Missing (without create), another type, or open failed.</exception>
    public SafeFd Open(int access, bool create = false, UnixFileMode mode = 0, bool characterDevice = false)
    {
        if (Libc.StatAt(DirectoryFd, Name) is { } before)
        {
            CheckKind(before.Kind, characterDevice);
        }
        else if (Libc.LastErrno != Errno.ENOENT || !create)
        {
            throw FromErrno(Libc.LastErrno);
        }
        int flags = access | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC | (create ? Libc.O_CREAT : 0);
        int fd = Libc.OpenAtRetrying(DirectoryFd, Name, flags, (int)mode);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            throw errno switch
            {
                // Swapped in after the check above.
                Errno.ELOOP => NotAllowed(FileType.SymbolicLink),
                Errno.ENXIO => new WritePathException("is a FIFO, socket or device, not a regular file", errno),
                _ => FromErrno(errno),
            };
        }
        var handle = new SafeFd(fd);
        FileType kind = Libc.KindOf(fd) ?? FileType.Unknown;
        if (kind == FileType.Regular)
        {
            Libc.SetBlocking(fd);
            return handle;
        }
        if (characterDevice && kind == FileType.CharacterDevice)
        {
            return handle;
        }
        handle.Dispose();
        throw NotAllowed(kind);
    }

    /// <summary>
    /// The directory <paramref name="path"/>, resolved under the same rule (no planted link
    /// followed, in a parent or as the directory itself), made with <paramref name="mode"/> (its
    /// parents 0755) when missing and <paramref name="create"/>; an existing directory is kept.
    /// For directories Emissary writes into or reads results from (--results-dir, credentials).
    /// </summary>
    /// <exception cref="WritePathException">A link or another type in its place, missing (without create), ...</exception>
    public static SafeFd OpenDirectory(string path, bool create, uint mode = DirectoryMode)
    {
        using WritePath place = Resolve(path, createParents: create, followLast: true);
        if (create && Libc.MkdirAt(place.DirectoryFd, place.Name, mode) != 0 && Libc.LastErrno != Errno.EEXIST)
        {
            throw FromErrno(Libc.LastErrno);
        }
        int fd = Libc.OpenAtRetrying(place.DirectoryFd, place.Name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            throw errno switch
            {
                Errno.ELOOP => NotAllowed(FileType.SymbolicLink), // swapped in after the resolution
                _ => FromErrno(errno),
            };
        }
        return new SafeFd(fd);
    }

    public void Dispose() => _directory.Dispose();

    private static WritePath Resolve(string path, bool createParents, bool followLast)
    {
        if (path.Length == 0)
        {
            throw FromErrno(Errno.ENOENT);
        }
        if (path.Contains('\0'))
        {
            throw FromErrno(Errno.EINVAL);
        }
        int slash = path.LastIndexOf('/');
        string name = path[(slash + 1)..];
        if (name is "" or "." or "..")
        {
            throw FromErrno(Errno.EISDIR);
        }
        string parent = slash < 0 ? "." : slash == 0 ? "/" : path[..slash];
        if (s_openAt2Works)
        {
            int fd = Libc.OpenAt2(Libc.AT_FDCWD, parent, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS);
            if (fd >= 0)
            {
                var place = new WritePath(new SafeFd(fd), name);
                if (!followLast || Libc.StatAt(fd, name) is not { Kind: FileType.SymbolicLink })
                {
                    return place;
                }
                place.Dispose();
            }
            else if (Libc.LastErrno is Errno.ENOSYS or Errno.EPERM or Errno.E2BIG)
            {
                s_openAt2Works = false; // an old kernel or a seccomp filter: the walk from now on
            }
        }
        return Walk(path, createParents, followLast);
    }

    /// <summary>One component at a time, each opened relative to the directory before it.</summary>
    private static WritePath Walk(string path, bool createParents, bool followLast)
    {
        var pending = new Stack<string>();
        Push(pending, path);
        bool absolute = path[0] == '/';
        SafeFd directory = OpenStart(absolute);
        string shown = absolute ? "/" : "";
        int links = 0;
        int steps = 0;
        try
        {
            while (pending.Count > 0)
            {
                if (++steps > 4096)
                {
                    throw FromErrno(Errno.ELOOP); // parents created and removed again, over and over
                }
                string name = pending.Pop();
                bool last = pending.Count == 0;
                if (last)
                {
                    if (name is "." or "..")
                    {
                        throw FromErrno(Errno.EISDIR);
                    }
                    if (followLast && Libc.StatAt(directory.Fd, name) is { Kind: FileType.SymbolicLink })
                    {
                        Follow(pending, ref directory, ref shown, name, ref links);
                        continue;
                    }
                    var place = new WritePath(directory, name);
                    directory = null!;
                    return place;
                }
                if (name == ".")
                {
                    continue;
                }
                int fd = Libc.OpenAtRetrying(directory.Fd, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd >= 0)
                {
                    directory.Dispose();
                    directory = new SafeFd(fd);
                    shown = Join(shown, name);
                    continue;
                }
                Errno errno = Libc.LastErrno;
                if (errno == Errno.ENOENT && createParents && name != "..")
                {
                    if (Libc.MkdirAt(directory.Fd, name, DirectoryMode) != 0 && Libc.LastErrno != Errno.EEXIST)
                    {
                        throw new WritePathException($"cannot create {Join(shown, name)}: {Libc.Describe(Libc.LastErrno)}", Libc.LastErrno);
                    }
                    pending.Push(name); // opened (and checked) like any other directory
                    continue;
                }
                if (errno is Errno.ENOTDIR or Errno.ELOOP && Libc.StatAt(directory.Fd, name) is { Kind: FileType.SymbolicLink })
                {
                    Follow(pending, ref directory, ref shown, name, ref links);
                    continue;
                }
                throw FromErrno(errno);
            }
            throw FromErrno(Errno.EISDIR); // the path, or a link's target, named "/" itself
        }
        finally
        {
            directory?.Dispose();
        }
    }

    /// <summary>Follows the link <paramref name="name"/> in <paramref name="directory"/> if no other container can have planted it.</summary>
    private static void Follow(Stack<string> pending, ref SafeFd directory, ref string shown, string name, ref int links)
    {
        string link = Join(shown, name);
        if (!Shielded(directory.Fd))
        {
            throw new WritePathException($"{link} is a symbolic link on a shared volume (another container may have planted it); not followed", Errno.ELOOP);
        }
        if (++links > MaxLinks)
        {
            throw FromErrno(Errno.ELOOP);
        }
        string target = Libc.ReadLinkAt(directory.Fd, name) ?? throw FromErrno(Libc.LastErrno);
        if (target.Length == 0)
        {
            throw FromErrno(Errno.ENOENT);
        }
        Push(pending, target);
        if (target[0] == '/')
        {
            directory.Dispose();
            directory = OpenStart(absolute: true);
            shown = "/";
        }
    }

    /// <summary>
    /// Whether only this container (or a party it trusts) can have made a link in the directory:
    /// it is on the container's own root file system (no other container mounts it), or it is a
    /// directory declared trusted with <see cref="TrustLinksIn"/> and mounted read-only here. A
    /// read-only mount alone proves nothing: the same volume may be read-write in another
    /// container (a step's record volume in the per-step layout, Tekton's /tekton/run/N).
    /// </summary>
    private static bool Shielded(int directoryFd)
    {
        s_rootDevice ??= Libc.StatAt(Libc.AT_FDCWD, "/") is { } root ? (root.DevMajor, root.DevMinor) : null;
        if (s_rootDevice is { } device && Libc.StatOf(directoryFd) is { } st && (st.DevMajor, st.DevMinor) == device)
        {
            return true;
        }
        return s_trustedLinkDirectories.Count > 0 && Libc.IdentityOf(directoryFd) is { } identity
            && s_trustedLinkDirectories.Contains(identity) && Libc.IsOnReadOnlyMount(directoryFd) == true;
    }

    private static readonly List<(uint Major, uint Minor, ulong Inode)> s_trustedLinkDirectories = [];

    /// <summary>
    /// Trusts the links in <paramref name="directory"/> (when it is mounted read-only here): for a
    /// directory whose only writer is known to be trusted, such as Tekton's /tekton/steps, which
    /// Tekton's own init container fills and every step mounts read-only. Called once at start-up;
    /// a directory that does not exist is ignored.
    /// </summary>
    public static void TrustLinksIn(string directory)
    {
        int fd = Libc.OpenAtRetrying(Libc.AT_FDCWD, directory, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return;
        }
        using var handle = new SafeFd(fd);
        if (Libc.IdentityOf(fd) is { } identity)
        {
            s_trustedLinkDirectories.Add(identity);
        }
    }

    private static SafeFd OpenStart(bool absolute)
    {
        int fd = Libc.OpenAtRetrying(Libc.AT_FDCWD, absolute ? "/" : ".", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        return fd >= 0 ? new SafeFd(fd) : throw FromErrno(Libc.LastErrno);
    }

    /// <summary>Pushes the components of <paramref name="path"/> so that the first is on top.</summary>
    private static void Push(Stack<string> pending, string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }

    private static string Join(string shown, string name) => shown.Length == 0 ? name : shown.EndsWith('/') ? shown + name : shown + "/" + name;

    private static void CheckKind(FileType kind, bool characterDevice)
    {
        if (kind != FileType.Regular && !(characterDevice && kind == FileType.CharacterDevice))
        {
            throw NotAllowed(kind);
        }
    }

    private static WritePathException NotAllowed(FileType kind) =>
        new($"is {Libc.Describe(kind)}, not a regular file", kind switch
        {
            FileType.Directory => Errno.EISDIR,
            FileType.SymbolicLink => Errno.ELOOP,
            _ => Errno.EINVAL,
        });

    private static WritePathException FromErrno(Errno errno) => new(Libc.Describe(errno), errno);
}
