using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>rename(2), renameat(2), renameat2(2).</summary>
internal static partial class Libc
{
    /// <summary>renameat2(2) flag: fail with EEXIST instead of replacing the target.</summary>
    internal const uint RENAME_NOREPLACE = 0x1;

    /// <summary>renameat2(2) flag: swap the two names atomically (both must exist).</summary>
    internal const uint RENAME_EXCHANGE = 0x2;

    [LibraryImport("libc", EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt(int fromDirFd, string from, int toDirFd, string to);

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int RenameAt2(int fromDirFd, string from, int toDirFd, string to, uint flags);
}
