using System.Runtime.InteropServices;
using Emissary.Interop;

namespace Emissary.Files;

/// <summary>Listing a directory held open, and creating a path's missing directories.</summary>
internal static class Directories
{
    /// <summary>
    /// The names in the directory open as <paramref name="directoryFd"/> (which stays open and
    /// usable), as raw bytes (no UTF-16 round trip, so odd names are seen as they are), without
    /// "." and "..", in the kernel's order. Read with getdents64(2) from the top: three system
    /// calls for a small directory, where fdopendir on a duplicate takes eight (one of them is on
    /// the path from a step's exit to its dependants' start: its results). Throws
    /// <see cref="SystemCallException"/>.
    /// </summary>
    public static unsafe List<byte[]> List(int directoryFd)
    {
        if (Libc.LSeek(directoryFd, 0, Libc.SEEK_SET) < 0)
        {
            throw new SystemCallException("lseek", Libc.LastErrno);
        }
        const int BufferSize = 4096; // a step directory or its results fit; more is read in turns (stackalloc zeroes it)
        byte* buffer = stackalloc byte[BufferSize];
        var entries = new List<byte[]>();
        while (true)
        {
            nint n = Libc.GetDents64(directoryFd, buffer, BufferSize);
            if (n < 0)
            {
                Errno errno = Libc.LastErrno;
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
                ushort length = *(ushort*)(buffer + offset + Libc.DirentLengthOffset);
                if (length == 0 || offset + length > n)
                {
                    throw new SystemCallException("getdents64", Errno.EINVAL);
                }
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer + offset + Libc.DirentNameOffset);
                if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
                {
                    entries.Add(name.ToArray());
                }
                offset += length;
            }
        }
    }

    /// <summary>mkdir -p: creates <paramref name="path"/> and its missing parents (mode 0777 minus umask).</summary>
    public static Errno MakeAll(string path)
    {
        if (path.Length == 0 || Libc.Mkdir(path, 0x1FF) == 0)
        {
            return 0;
        }
        Errno errno = Libc.LastErrno;
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
        Errno parentErrno = MakeAll(parent);
        if (parentErrno != 0)
        {
            return parentErrno;
        }
        return Libc.Mkdir(path, 0x1FF) == 0 || Libc.LastErrno == Errno.EEXIST ? 0 : Libc.LastErrno;
    }
}
