using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>isatty(3), tcgetpgrp(3), getpgrp(2): whose terminal the foreground is.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "isatty")]
    internal static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetpgrp")]
    internal static partial int TcGetPgrp(int fd);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    internal static partial int GetPgrp();
}
