using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>flock(2).</summary>
internal static partial class Libc
{
    internal const int LOCK_SH = 1;
    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fd, int operation);
}
