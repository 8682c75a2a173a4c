using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then d_name,
    // NUL-terminated (the same on x86-64 and arm64).
    private const int DirentLengthOffset = 16;
    private const int DirentNameOffset = 19;

    /// <summary>
    /// The names in the directory open as <paramref name="directoryFd"/> (which stays open and
    /// usable), as raw bytes (no UTF-16 round trip, so odd names are seen as they are), without
    /// "." and "..", in the kernel's order. Read with getdents64(2) from the top: three system
    /// calls for a small directory, where fdopendir on a duplicate takes eight (one of them is on
    /// the path from a step's exit to its dependants' start: its results). Throws
    /// <see cref="SystemCallException"/>.
    /// </summary>
    internal static unsafe List<byte[]> ListDirectory(int directoryFd)
    {
        if (LSeek(directoryFd, 0, SEEK_SET) < 0)
        {
            throw new SystemCallException("lseek", LastErrno);
        }
        const int BufferSize = 4096; // a step directory or its results fit; more is read in turns (stackalloc zeroes it)
        byte* buffer = stackalloc byte[BufferSize];
        var entries = new List<byte[]>();
        while (true)
        {
            nint n = GetDents64(directoryFd, buffer, BufferSize);
            if (n < 0)
            {
                Errno errno = LastErrno;
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                throw new SystemCallException("getdents64", errno);
            }
            if (n == 0)
            {
                return entries;
            }
            for (nint offset = 0; offset < n;)
            {
                ushort length = *(ushort*)(buffer + offset + DirentLengthOffset);
                if (length == 0 || offset + length > n)
                {
                    throw new SystemCallException("getdents64", Errno.EINVAL);
                }
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer + offset + DirentNameOffset);
                if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                {
                    entries.Add(name.ToArray());
                }
                offset += length;
            }
        }
    }

    private const int SEEK_SET = 0;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static unsafe partial nint GetDents64(int fd, void* buffer, nuint count);
}
