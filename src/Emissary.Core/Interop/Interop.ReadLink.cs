using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>readlinkat(2): following a link by hand.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static unsafe partial nint ReadLinkAtRaw(int dirFd, byte* path, byte* buffer, nuint size);

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
}
