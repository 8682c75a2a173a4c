using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    // glibc's struct dirent on 64-bit Linux (x86-64 and arm64 alike): d_ino (8), d_off (8),
    // d_reclen (2), d_type (1), then d_name, NUL-terminated.
    private const int DirentNameOffset = 19;

    [LibraryImport("libc", EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial IntPtr OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    internal static partial IntPtr FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "rewinddir")]
    internal static partial void RewindDir(IntPtr dir);

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
    /// usable: a duplicate is read), like <see cref="ListDirectory(string)"/>.
    /// </summary>
    internal static List<byte[]> ListDirectory(int directoryFd)
    {
        int copy = Fcntl(directoryFd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
        {
            throw new SystemCallException("fcntl(F_DUPFD_CLOEXEC)", LastErrno);
        }
        IntPtr dir = FdOpenDir(copy);
        if (dir == IntPtr.Zero)
        {
            Errno errno = LastErrno;
            Close(copy);
            throw new SystemCallException("fdopendir", errno);
        }
        // The duplicate shares its offset with the original: start from the top, whoever read before.
        RewindDir(dir);
        return ReadAllEntries(dir);
    }

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
