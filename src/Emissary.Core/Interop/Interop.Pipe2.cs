using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>pipe2(2) (<see cref="SafeFd.Pipe"/> is what callers use).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    internal static unsafe partial int Pipe2(int* fds, int flags);
}
