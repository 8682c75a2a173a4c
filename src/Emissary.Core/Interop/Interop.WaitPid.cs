using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>waitpid(2).</summary>
internal static partial class Libc
{
    internal const int WNOHANG = 1;

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static unsafe partial int WaitPid(int pid, int* status, int options);
}
