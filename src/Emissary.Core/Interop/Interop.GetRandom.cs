using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>getrandom(2).</summary>
internal static partial class Libc
{
    /// <summary>getrandom(2) flag: fail with EAGAIN instead of blocking before the pool is initialised.</summary>
    internal const uint GRND_NONBLOCK = 0x1;

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    internal static unsafe partial nint GetRandom(void* buffer, nuint length, uint flags);
}
