using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>execv(3).</summary>
internal static partial class Libc
{
    /// <summary>Replaces this process (the environment is kept).</summary>
    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true)]
    internal static unsafe partial int Execv(byte* path, byte** argv);
}
