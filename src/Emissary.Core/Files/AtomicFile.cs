using System.Text;
using Emissary.Interop;

namespace Emissary.Files;

/// <summary>
/// The one way Emissary replaces a file: a temporary file with an unpredictable name, created
/// with O_EXCL|O_NOFOLLOW in the target's directory (through a directory descriptor), written,
/// fchmod-ed, then renamed into place — so a reader never sees half a file, and a link planted
/// under a guessed temporary name can never redirect the write.
/// <para>
/// A file that already exists is replaced by exchanging the two names (renameat2
/// RENAME_EXCHANGE), then unlinking the old one, rather than by renaming over it: ext4 (the
/// default "auto_da_alloc") starts writeback of the new file's data, synchronously, whenever a
/// rename replaces an existing file — 170 µs instead of 40 µs measured here for a 450-byte
/// status.json, on the path from a step's exit to its dependants' start. Readers still see
/// either the old file or the new one, never neither.
/// </para>
/// </summary>
internal static class AtomicFile
{
    /// <summary>0644: markers are readable by every uid of the pod, writable only by their owner.</summary>
    public const UnixFileMode DefaultMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static void Write(string path, string contents, UnixFileMode mode = DefaultMode, bool createParents = false) =>
        Write(path, Encoding.UTF8.GetBytes(contents), mode, createParents: createParents);

    /// <summary>
    /// Replaces <paramref name="path"/> (a path the user named), its directory resolved by
    /// <see cref="WritePath"/> (no link another container may have planted is followed; missing
    /// directories are created, 0755, with <paramref name="createParents"/>), then the name replaced
    /// in that directory's descriptor. Throws <see cref="IOException"/> whose HResult is the errno.
    /// </summary>
    /// <param name="flushToDisk">fsync before the rename: for files that must survive a machine crash (init's copy of the binary), not for markers.</param>
    public static void Write(string path, ReadOnlySpan<byte> contents, UnixFileMode mode = DefaultMode, bool flushToDisk = false, bool createParents = false)
    {
        using WritePath place = WritePath.Parent(path, createParents);
        WriteAt(place.DirectoryFd, place.Name, contents, mode, flushToDisk);
    }

    /// <summary>
    /// Replaces <paramref name="name"/> in the directory open as <paramref name="dirFd"/>.
    /// Throws <see cref="IOException"/> whose HResult is the errno.
    /// </summary>
    /// <param name="replaced">
    /// When given, the file this write replaces is left under its temporary name and added here,
    /// for <see cref="RemoveReplaced"/> once the moment that counts is past (a step's hand-off to its
    /// dependants): on ext4 that unlink costs about what the write itself does (11 µs against 17 µs
    /// for the create, measured here).
    /// </param>
    /// <param name="usuallyNew">
    /// The name is usually absent (a step's exitcode): try a rename that refuses to replace first,
    /// instead of an exchange that fails with ENOENT first.
    /// </param>
    public static void WriteAt(int dirFd, string name, ReadOnlySpan<byte> contents, UnixFileMode mode = DefaultMode, bool flushToDisk = false,
        List<string>? replaced = null, bool usuallyNew = false)
    {
        string temp;
        int fd;
        int attempts = 0;
        do
        {
            temp = $".{name}.tmp-{TempNames.RandomHex()}";
            fd = Libc.OpenAtRetrying(dirFd, temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, (int)mode);
        }
        while (fd < 0 && Libc.LastErrno == Errno.EEXIST && ++attempts < 8);
        if (fd < 0)
        {
            throw Failure($"cannot create a temporary file for {name}", Libc.LastErrno);
        }
        Errno errno = Libc.WriteAll(fd, contents);
        // The create mode is filtered by the umask; the file must have exactly the mode asked for.
        if (errno == 0 && Libc.Fchmod(fd, (uint)mode) != 0)
        {
            errno = Libc.LastErrno;
        }
        if (errno == 0 && flushToDisk && Libc.Fsync(fd) != 0)
        {
            errno = Libc.LastErrno;
        }
        if (Libc.Close(fd) != 0 && errno == 0)
        {
            errno = Libc.LastErrno;
        }
        if (errno == 0)
        {
            if ((usuallyNew && Libc.RenameAt2(dirFd, temp, dirFd, name, Libc.RENAME_NOREPLACE) == 0)
                || Exchange(dirFd, temp, name, replaced) || Libc.RenameAt(dirFd, temp, dirFd, name) == 0)
            {
                return;
            }
            errno = Libc.LastErrno;
        }
        Libc.UnlinkAt(dirFd, temp, 0);
        throw Failure($"cannot write {name}", errno);
    }

    /// <summary>
    /// Puts <paramref name="temp"/> in place of an existing <paramref name="name"/> by swapping them,
    /// then removes the old file (now under the temporary name). False, with nothing changed, when
    /// there is nothing to swap with (a new file), the file system cannot swap, or what stands at
    /// <paramref name="name"/> is a directory (swapped back: a plain rename reports that as before).
    /// </summary>
    private static bool Exchange(int dirFd, string temp, string name, List<string>? replaced)
    {
        if (Libc.RenameAt2(dirFd, temp, dirFd, name, Libc.RENAME_EXCHANGE) != 0)
        {
            return false; // ENOENT (first write), EINVAL/ENOSYS (no exchange here): rename instead
        }
        if (replaced is not null && Libc.StatAt(dirFd, temp)?.Kind is FileType.Regular)
        {
            replaced.Add(temp); // removed by the caller, later
            return true;
        }
        if (Libc.UnlinkAt(dirFd, temp, 0) == 0 || Libc.LastErrno == Errno.ENOENT)
        {
            return true;
        }
        Libc.RenameAt2(dirFd, temp, dirFd, name, Libc.RENAME_EXCHANGE);
        return false;
    }

    /// <summary>Removes what <see cref="WriteAt"/> left in <paramref name="replaced"/>; a name already gone is no error.</summary>
    public static void RemoveReplaced(int dirFd, List<string> replaced)
    {
        foreach (string temp in replaced)
        {
            Libc.UnlinkAt(dirFd, temp, 0);
        }
        replaced.Clear();
    }

    private static IOException Failure(string what, Errno errno) => new($"{what}: {Libc.Describe(errno)}", (int)errno);
}
