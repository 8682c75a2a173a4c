using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// openat2(2) (Linux 5.6+, its own number 437 on every architecture): resolving a path without
/// following another container's links.
/// </summary>
internal static partial class Libc
{
    internal const long SYS_openat2 = 437;

    /// <summary>O_PATH: a descriptor that only names a place (enough for *at(2), fstatvfs and statx), no read permission needed.</summary>
    internal const int O_PATH = 0x200000;

    /// <summary>openat2 resolve flags: fail with ELOOP on any symbolic link / on any /proc magic link.</summary>
    internal const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    internal const ulong RESOLVE_NO_SYMLINKS = 0x04;

    /// <summary>struct open_how (the kernel's, 24 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    // syscall(2) is variadic; as with fcntl (Interop.Fcntl.cs), integer and pointer arguments pass
    // exactly like fixed ones on the x86-64 and AAPCS64 Linux ABIs.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long SyscallOpenAt2(long number, int dirFd, byte* path, OpenHow* how, nuint size);

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

    private static byte[] ZeroTerminated(string text)
    {
        int length = System.Text.Encoding.UTF8.GetByteCount(text);
        byte[] bytes = new byte[length + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
