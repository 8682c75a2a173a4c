using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>unlink(2), unlinkat(2).</summary>
internal static partial class Libc
{
    internal const int AT_REMOVEDIR = 0x200;

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int UnlinkAt(int dirFd, string path, int flags);

    /// <summary>unlinkat(2) with a raw, NUL-terminated name (a directory entry exactly as getdents gave it).</summary>
    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    internal static unsafe partial int UnlinkAt(int dirFd, byte* path, int flags);
}
