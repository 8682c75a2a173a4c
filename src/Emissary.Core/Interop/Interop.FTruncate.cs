using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>ftruncate(2): empties a file only once its type is known.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);
}
