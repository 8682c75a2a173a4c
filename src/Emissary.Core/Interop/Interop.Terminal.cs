using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>isatty(3), tcgetpgrp(3), tcsetpgrp(3), getpgrp(2): whose terminal the foreground is.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "isatty")]
    internal static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetpgrp")]
    internal static partial int TcGetPgrp(int fd);

    /// <summary>Hands the terminal's foreground to a process group (emissary local --debug: to the shell, and back).</summary>
    [LibraryImport("libc", EntryPoint = "tcsetpgrp", SetLastError = true)]
    internal static partial int TcSetPgrp(int fd, int pgrp);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    internal static partial int GetPgrp();
}
