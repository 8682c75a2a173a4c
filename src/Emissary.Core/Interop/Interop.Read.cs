using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>read(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static unsafe partial nint Read(int fd, void* buffer, nuint count);
}
