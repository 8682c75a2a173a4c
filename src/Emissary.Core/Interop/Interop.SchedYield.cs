using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>sched_yield(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "sched_yield")]
    internal static partial int SchedYield();
}
