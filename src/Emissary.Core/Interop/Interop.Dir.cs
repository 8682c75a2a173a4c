using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    // glibc's struct dirent on 64-bit Linux (x86-64 and arm64 alike): d_ino (8), d_off (8),
    // d_reclen (2), d_type (1), then d_name, NUL-terminated.
    private const int DirentNameOffset = 19;

    [LibraryImport("libc", EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial IntPtr OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    internal static partial IntPtr ReadDir(IntPtr dir);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(IntPtr dir);

    /// <summary>
    /// The names in a directory as raw bytes (no UTF-16 round trip, so odd names are seen as they
    /// are), without "." and "..", in readdir order. Throws <see cref="SystemCallException"/>.
    /// </summary>
    internal static List<byte[]> ListDirectory(string path)
    {
        IntPtr dir = OpenDir(path);
        if (dir == IntPtr.Zero)
        {
            throw new SystemCallException("opendir", LastErrno);
        }
        return ReadAllEntries(dir);
    }

    /// <summary>
    /// The names in the directory open as <paramref name="directoryFd"/> (which stays open and
    /// usable), like <see cref="ListDirectory(string)"/>: read with getdents64(2) from the top —
    /// three system calls for a small directory, where fdopendir on a duplicate takes eight (one
    /// of them is on the path from a step's exit to its dependants' start: its results).
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
            // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
            for (nint offset = 0; offset < n;)
            {
                ushort length = *(ushort*)(buffer + offset + 16);
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

    /// <summary>Reads every entry of an open DIR stream and closes it.</summary>
    private static unsafe List<byte[]> ReadAllEntries(IntPtr dir)
    {
        try
        {
            var entries = new List<byte[]>();
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                IntPtr entry = ReadDir(dir);
                if (entry == IntPtr.Zero)
                {
                    Errno errno = LastErrno;
                    if (errno != 0)
                    {
                        throw new SystemCallException("readdir", errno);
                    }
                    return entries;
                }
                byte* name = (byte*)entry + DirentNameOffset;
                var span = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(name);
                if (span.SequenceEqual("."u8) || span.SequenceEqual(".."u8))
                {
                    continue;
                }
                entries.Add(span.ToArray());
            }
        }
        finally
        {
            CloseDir(dir);
        }
    }
}
