using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>getdents64(2) and lseek(2), which rewinds a directory descriptor before it is listed.</summary>
internal static partial class Libc
{
    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then d_name,
    // NUL-terminated (the same on x86-64 and arm64).
    internal const int DirentLengthOffset = 16;
    internal const int DirentNameOffset = 19;

    internal const int SEEK_SET = 0;

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    internal static unsafe partial nint GetDents64(int fd, void* buffer, nuint count);
}
