using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// The *at(2) family: every operation relative to a directory descriptor Emissary opened itself,
/// so that a path component renamed or replaced by a symlink afterwards cannot redirect it.
/// </summary>
internal static partial class Libc
{
    /// <summary>O_DIRECTORY differs between x86-64 (0200000) and the generic numbering arm64 uses (040000).</summary>
    internal static int O_DIRECTORY => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x10000 : 0x4000;

    internal const int AT_REMOVEDIR = 0x200;
    internal const uint STATX_MODE = 0x2;
    internal const uint STATX_UID = 0x8;

    /// <summary>getrandom(2) flag: fail with EAGAIN instead of blocking before the pool is initialised.</summary>
    internal const uint GRND_NONBLOCK = 0x1;

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenAt(int dirFd, string path, int flags, int mode);

    /// <summary>openat(2) with a raw, NUL-terminated name (a directory entry exactly as readdir gave it).</summary>
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    internal static unsafe partial int OpenAt(int dirFd, byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkdirAt(int dirFd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "mkfifoat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MkFifoAt(int dirFd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt(int fromDirFd, string from, int toDirFd, string to);

    /// <summary>renameat2(2) flag: swap the two names atomically (both must exist).</summary>
    internal const uint RENAME_EXCHANGE = 0x2;

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt2(int fromDirFd, string from, int toDirFd, string to, uint flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int UnlinkAt(int dirFd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    internal static unsafe partial int UnlinkAt(int dirFd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    internal static unsafe partial nint GetRandom(void* buffer, nuint length, uint flags);

    /// <summary>openat(2) retrying EINTR.</summary>
    internal static int OpenAtRetrying(int dirFd, string path, int flags, int mode)
    {
        while (true)
        {
            int fd = OpenAt(dirFd, path, flags, mode);
            if (fd >= 0 || LastErrno != Errno.EINTR)
            {
                return fd;
            }
        }
    }

    /// <summary>
    /// <paramref name="name"/> in <paramref name="dirFd"/> opened with <paramref name="access"/>,
    /// not through a link and without blocking, only if it is a <paramref name="kind"/>: checked
    /// before opening (opening a device can have effects of its own) and again on the descriptor
    /// (it may have been swapped in between); else null.
    /// </summary>
    internal static SafeFd? OpenKindAt(int dirFd, string name, FileType kind, int access)
    {
        if (StatAt(dirFd, name) is not { } st || st.Kind != kind)
        {
            return null;
        }
        int fd = OpenAtRetrying(dirFd, name, access | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        var handle = new SafeFd(fd);
        if (KindOf(fd) != kind)
        {
            handle.Dispose();
            return null;
        }
        return handle;
    }

    /// <summary>What statx says about <paramref name="name"/> in <paramref name="dirFd"/> itself (a symlink is not followed), or null with errno set.</summary>
    internal static unsafe StatX? StatAt(int dirFd, string name)
    {
        StatX st;
        return StatX(dirFd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE, &st) == 0 ? st : null;
    }

    /// <summary>What statx says about the file open as <paramref name="fd"/>, or null with errno set.</summary>
    internal static unsafe StatX? StatOf(int fd)
    {
        StatX st;
        return StatX(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE, &st) == 0 ? st : null;
    }

    /// <summary>The type of <paramref name="path"/>, following symlinks (a path the user named), or null with errno set.</summary>
    internal static unsafe FileType? KindFollowing(string path)
    {
        StatX st;
        return StatX(AT_FDCWD, path, 0, STATX_TYPE, &st) == 0 ? st.Kind : null;
    }

    /// <summary>
    /// 64 unpredictable bits as 16 hex digits, for temporary file names another container must not
    /// guess. getrandom(2) without blocking; if the kernel cannot answer (no getrandom, pool not yet
    /// initialised) the runtime's generator is used: O_EXCL keeps a guessed name harmless anyway.
    /// </summary>
    internal static unsafe string RandomHex()
    {
        ulong value;
        if (GetRandom(&value, sizeof(ulong), GRND_NONBLOCK) != sizeof(ulong))
        {
            value = (ulong)Random.Shared.NextInt64();
        }
        return value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
