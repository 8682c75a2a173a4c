using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>close(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
