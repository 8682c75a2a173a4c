using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>geteuid(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
