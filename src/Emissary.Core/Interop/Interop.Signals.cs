using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>glibc's sigset_t: 1024 bits.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SigSet
{
    private fixed ulong _bits[16];

    public bool Contains(int signal) => signal is > 0 and <= 1024 && (_bits[(signal - 1) / 64] & (1UL << ((signal - 1) % 64))) != 0;

    public void Add(int signal) => _bits[(signal - 1) / 64] |= 1UL << ((signal - 1) % 64);
}

/// <summary>The kernel's struct signalfd_siginfo (128 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
internal struct SignalFdSigInfo
{
    public uint ssi_signo;
    public int ssi_errno;
    public int ssi_code;
    public uint ssi_pid;
    public uint ssi_uid;
    public int ssi_fd;
    public uint ssi_tid;
    public uint ssi_band;
    public uint ssi_overrun;
    public uint ssi_trapno;
    public int ssi_status;
}

internal static partial class Libc
{
    internal const int SFD_NONBLOCK = 0x800;
    internal const int SFD_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signalfd", SetLastError = true)]
    internal static unsafe partial int SignalFd(int fd, SigSet* mask, int flags);
}

/// <summary>The pre-runtime signal state recorded by Native/emissary_shim.c.</summary>
internal static partial class Shim
{
    private const string Library = "emissary_shim";

    [LibraryImport(Library, EntryPoint = "emissary_shim_original_mask")]
    internal static unsafe partial void OriginalMask(SigSet* set);

    [LibraryImport(Library, EntryPoint = "emissary_shim_original_ignored")]
    internal static unsafe partial void OriginalIgnored(SigSet* set);

    /// <summary>
    /// The highest signal whose original disposition the shim read (<see cref="OriginalIgnored"/> covers
    /// 1 to this): those this process may change before an exec. A command inherits the others as they were.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "emissary_shim_last_read_signal")]
    internal static partial int LastReadSignal();

    [LibraryImport(Library, EntryPoint = "emissary_shim_supervised")]
    internal static unsafe partial void Supervised(SigSet* set);

    /// <summary>Before an exec: signals the runtime ignores (SIGPIPE) back to default unless the caller ignored them.</summary>
    [LibraryImport(Library, EntryPoint = "emissary_shim_restore_dispositions")]
    internal static partial void RestoreDispositions();

    [LibraryImport(Library, EntryPoint = "emissary_shim_is_ignored_now")]
    internal static partial int IsIgnoredNow(int signal);

    /// <summary>
    /// argv[1] that makes the binary a runtime-less exec trampoline (Native/emissary_shim.c):
    /// <c>--emissary-exec REPORT_FD IGNORED MODE PATH ARGV0 ARGS...</c>.
    /// </summary>
    internal const string ExecTrampolineFlag = "--emissary-exec";

    /// <summary>What the trampoline writes on its report pipe when the command did not start: the stage, then errno.</summary>
    internal const int StartFailedExec = 1;

    internal const int StartFailedNamespaces = 2;

    [LibraryImport(Library, EntryPoint = "emissary_shim_release_signals")]
    private static partial void ReleaseSignalsNative();

    /// <summary>
    /// Gives the signals the shim blocked their normal effect back. Outside the static build (the
    /// JIT, in unit tests and `dotnet run`) there is no shim and nothing was blocked.
    /// </summary>
    internal static void ReleaseSignals()
    {
        try
        {
            ReleaseSignalsNative();
        }
        catch (DllNotFoundException)
        {
        }
    }

    /// <summary>
    /// Catches ILL, TRAP, BUS, FPE, SEGV and SYS sent by another process (si_code &lt;= 0) and hands
    /// them over through a pipe, whose non-blocking read end this returns: records of two ints,
    /// signal number and sender pid. A real fault still reaches the runtime's handler. -1 on failure.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "emissary_shim_forward_faults", SetLastError = true)]
    internal static partial int ForwardFaults();

    [LibraryImport(Library, EntryPoint = "emissary_shim_environ")]
    internal static unsafe partial byte** Environ();
}
