using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>fsync(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);
}
