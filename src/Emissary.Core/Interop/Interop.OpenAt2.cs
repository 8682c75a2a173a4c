using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// What resolving a path without following another container's links needs beyond the *at(2)
/// family: openat2(2) (Linux 5.6+, its own number 437 on every architecture), readlinkat(2) to
/// follow a link by hand, fstatvfs(3) to ask whether a directory is on a read-only mount, and
/// ftruncate(2) to empty a file only once its type is known.
/// </summary>
internal static partial class Libc
{
    internal const long SYS_openat2 = 437;

    /// <summary>O_PATH: a descriptor that only names a place (enough for *at(2), fstatvfs and statx), no read permission needed.</summary>
    internal const int O_PATH = 0x200000;

    /// <summary>openat2 resolve flags: fail with ELOOP on any symbolic link / on any /proc magic link.</summary>
    internal const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    internal const ulong RESOLVE_NO_SYMLINKS = 0x04;

    /// <summary>statvfs f_flag: the mount is read-only.</summary>
    internal const ulong ST_RDONLY = 0x1;

    /// <summary>struct open_how (the kernel's, 24 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    /// <summary>
    /// struct statvfs on the 64-bit ABIs (glibc and musl alike: eleven longs, then spare ints,
    /// 112 bytes); only f_flag (after bsize, frsize, blocks, bfree, bavail, files, ffree, favail
    /// and fsid) is read. Sized with room to spare.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatVfs
    {
        [FieldOffset(72)]
        public ulong Flag;
    }

    // syscall(2) is variadic; as with fcntl (Interop.Pipe.cs), integer and pointer arguments pass
    // exactly like fixed ones on the x86-64 and AAPCS64 Linux ABIs.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long SyscallOpenAt2(long number, int dirFd, byte* path, OpenHow* how, nuint size);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static unsafe partial nint ReadLinkAtRaw(int dirFd, byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "fstatvfs", SetLastError = true)]
    private static unsafe partial int FstatVfs(int fd, StatVfs* buffer);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);

    /// <summary>openat2(2) retrying EINTR; -1 with errno set (ENOSYS on kernels before 5.6, EPERM or ENOSYS under a seccomp filter that does not know it).</summary>
    internal static unsafe int OpenAt2(int dirFd, string path, int flags, int mode, ulong resolve)
    {
        byte[] bytes = ZeroTerminated(path);
        var how = new OpenHow { Flags = (ulong)(uint)flags, Mode = (flags & O_CREAT) != 0 ? (ulong)(uint)mode : 0, Resolve = resolve };
        fixed (byte* p = bytes)
        {
            while (true)
            {
                long fd = SyscallOpenAt2(SYS_openat2, dirFd, p, &how, (nuint)sizeof(OpenHow));
                if (fd >= 0 || LastErrno != Errno.EINTR)
                {
                    return (int)fd;
                }
            }
        }
    }

    /// <summary>The target of the link <paramref name="name"/> in <paramref name="dirFd"/>, or null with errno set.</summary>
    internal static unsafe string? ReadLinkAt(int dirFd, string name)
    {
        byte[] bytes = ZeroTerminated(name);
        byte* buffer = stackalloc byte[4096];
        nint n;
        fixed (byte* p = bytes)
        {
            n = ReadLinkAtRaw(dirFd, p, buffer, 4096);
        }
        if (n < 0)
        {
            return null;
        }
        if (n == 4096)
        {
            Marshal.SetLastPInvokeError((int)Errno.ENAMETOOLONG);
            return null;
        }
        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>Whether the file system the descriptor is on is mounted read-only (null with errno set when the kernel cannot say).</summary>
    internal static unsafe bool? IsOnReadOnlyMount(int fd)
    {
        StatVfs st;
        return FstatVfs(fd, &st) == 0 ? (st.Flag & ST_RDONLY) != 0 : null;
    }

    private static byte[] ZeroTerminated(string text)
    {
        int length = System.Text.Encoding.UTF8.GetByteCount(text);
        byte[] bytes = new byte[length + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
