using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>ioctl(2) (variadic: see Interop.Fcntl.cs).</summary>
internal static partial class Libc
{
    /// <summary>ioctl request: bytes readable now (asm-generic value, the same on x86-64 and arm64).</summary>
    internal const nuint FIONREAD = 0x541B;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(int fd, nuint request, int* argument);
}
