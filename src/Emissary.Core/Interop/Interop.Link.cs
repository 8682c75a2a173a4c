using System.Runtime.InteropServices;
using System.Text;

namespace Emissary.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial nint ReadLinkAtRaw(int dirFd, string path, byte* buffer, nuint size);

    /// <summary>
    /// The target of the link <paramref name="name"/> in <paramref name="dirFd"/>, read without
    /// following it; null with errno set (EINVAL: not a link). A target of 4 KiB or more is refused
    /// (ENAMETOOLONG): no path the kernel resolves is longer.
    /// </summary>
    internal static unsafe string? ReadLinkAt(int dirFd, string name)
    {
        const int Max = 4096;
        byte* buffer = stackalloc byte[Max];
        nint length = ReadLinkAtRaw(dirFd, name, buffer, Max);
        if (length < 0)
        {
            return null;
        }
        if (length >= Max)
        {
            Marshal.SetLastPInvokeError((int)Errno.ENAMETOOLONG);
            return null;
        }
        return Encoding.UTF8.GetString(buffer, (int)length);
    }
}
