using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    internal const int WNOHANG = 1;
    internal const int PR_SET_CHILD_SUBREAPER = 36;

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static unsafe partial int WaitPid(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
