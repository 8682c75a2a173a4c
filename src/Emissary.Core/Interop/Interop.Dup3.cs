using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>dup3(2): putting a descriptor into a reserved slot.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "dup3", SetLastError = true)]
    internal static partial int Dup3(int oldFd, int newFd, int flags);
}
