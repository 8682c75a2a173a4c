using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>getpid(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "getpid")]
    internal static partial int GetPid();
}
