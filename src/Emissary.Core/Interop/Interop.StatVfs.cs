using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>fstatvfs(3): whether a directory is on a read-only mount.</summary>
internal static partial class Libc
{
    /// <summary>statvfs f_flag: the mount is read-only.</summary>
    internal const ulong ST_RDONLY = 0x1;

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

    [LibraryImport("libc", EntryPoint = "fstatvfs", SetLastError = true)]
    private static unsafe partial int FstatVfs(int fd, StatVfs* buffer);

    /// <summary>Whether the file system the descriptor is on is mounted read-only (null with errno set when the kernel cannot say).</summary>
    internal static unsafe bool? IsOnReadOnlyMount(int fd)
    {
        StatVfs st;
        return FstatVfs(fd, &st) == 0 ? (st.Flag & ST_RDONLY) != 0 : null;
    }
}
