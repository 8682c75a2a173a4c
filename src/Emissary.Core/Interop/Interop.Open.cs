using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    // O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_NONBLOCK, O_CLOEXEC and open(2) itself are in Interop.Files.cs.
    internal const int O_EXCL = 0x80;
    internal const int O_NOCTTY = 0x100;
    internal const int O_APPEND = 0x400;

    /// <summary>O_NOFOLLOW differs between x86-64 (0400000) and the generic numbering arm64 uses (0100000).</summary>
    internal static int O_NOFOLLOW => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x20000 : 0x8000;

    internal const int AT_FDCWD = -100;

    [LibraryImport("libc", EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Mkdir(string path, uint mode);

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

    /// <summary>
    /// Writes all of <paramref name="data"/> to a blocking descriptor, retrying EINTR and short
    /// writes. Returns 0 on success or the errno of the failing write.
    /// </summary>
    internal static unsafe Errno WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            int offset = 0;
            while (offset < data.Length)
            {
                nint n = Write(fd, start + offset, (nuint)(data.Length - offset));
                if (n > 0)
                {
                    offset += (int)n;
                }
                else if (n < 0 && LastErrno == Errno.EINTR)
                {
                    continue;
                }
                else
                {
                    return n < 0 ? LastErrno : Errno.EIO;
                }
            }
        }
        return 0;
    }

    /// <summary>mkdir -p: creates <paramref name="path"/> and its missing parents (mode 0777 minus umask).</summary>
    internal static Errno MakeDirectories(string path)
    {
        if (path.Length == 0 || Mkdir(path, 0x1FF) == 0)
        {
            return 0;
        }
        Errno errno = LastErrno;
        if (errno == Errno.EEXIST)
        {
            return 0;
        }
        if (errno != Errno.ENOENT)
        {
            return errno;
        }
        string? parent = Path.GetDirectoryName(path.TrimEnd('/'));
        if (string.IsNullOrEmpty(parent) || parent == path)
        {
            return errno;
        }
        Errno parentErrno = MakeDirectories(parent);
        if (parentErrno != 0)
        {
            return parentErrno;
        }
        return Mkdir(path, 0x1FF) == 0 || LastErrno == Errno.EEXIST ? 0 : LastErrno;
    }
}
