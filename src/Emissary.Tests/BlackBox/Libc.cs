using System.Runtime.Versioning;
using System.Runtime.InteropServices;

namespace Emissary.Tests.BlackBox;

/// <summary>The few libc calls the black-box harness needs (signals, identity).</summary>
[SupportedOSPlatform("linux")]
internal static partial class Libc
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserIdNative();

    /// <summary>kill(2); returns false (instead of throwing) when the process is gone.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (KillNative(pid, signal) == 0)
            return true;
        int errno = Marshal.GetLastPInvokeError();
        const int ESRCH = 3;
        if (errno == ESRCH)
            return false;
        throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {errno}");
    }

    public static bool IsRoot => GetEffectiveUserIdNative() == 0;
}
