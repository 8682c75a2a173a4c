using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>open(2) and openat(2) and their flags. openat works relative to a directory descriptor
/// Emissary opened itself, so that a path component renamed or replaced by a symlink afterwards
/// cannot redirect it.</summary>
internal static partial class Libc
{
    internal const int O_RDONLY = 0x0;
    internal const int O_WRONLY = 0x1;
    internal const int O_RDWR = 0x2;
    internal const int O_CREAT = 0x40;
    internal const int O_EXCL = 0x80;
    internal const int O_NOCTTY = 0x100;
    internal const int O_TRUNC = 0x200;
    internal const int O_APPEND = 0x400;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    /// <summary>O_NOFOLLOW differs between x86-64 (0400000) and the generic numbering arm64 uses (0100000).</summary>
    internal static int O_NOFOLLOW => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x20000 : 0x8000;

    /// <summary>O_DIRECTORY differs between x86-64 (0200000) and the generic numbering arm64 uses (040000).</summary>
    internal static int O_DIRECTORY => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x10000 : 0x4000;

    internal const int AT_FDCWD = -100;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenAt(int dirFd, string path, int flags, int mode);

    /// <summary>openat(2) with a raw, NUL-terminated name (a directory entry exactly as readdir gave it).</summary>
    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    internal static unsafe partial int OpenAt(int dirFd, byte* path, int flags, int mode);

    /// <summary>open(2) retrying EINTR (opening a FIFO or a slow device can be interrupted).</summary>
    internal static int OpenRetrying(string path, int flags, int mode)
    {
        while (true)
        {
            int fd = Open(path, flags, mode);
            if (fd >= 0 || LastErrno != Errno.EINTR)
            {
                return fd;
            }
        }
    }

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
}
