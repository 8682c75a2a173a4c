using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Why qemu-user (the arm64 run of scripts/test.sh on an x64 machine) cannot run a test
/// faithfully: what the emulator does differently from an arm64 kernel, found by running the
/// test there, never guessed. docs/platforms.md lists the tests and these reasons.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class Qemu
{
    /// <summary>Orphans are reparented to init, not to emissary.</summary>
    public const string NoSubreaper =
        "qemu-user (7.2) answers prctl(PR_SET_CHILD_SUBREAPER) with EINVAL, so emissary cannot become the subreaper and orphans go to init; an arm64 kernel accepts it";

    /// <summary>A raw byte stream (not <see cref="ProcessResult.Stderr"/>) carries the warning of <see cref="NoSubreaper"/>.</summary>
    public const string SubreaperWarningInRawOutput =
        "qemu-user refuses PR_SET_CHILD_SUBREAPER, so emissary warns once on stderr, and this test compares that raw stream byte for byte (elsewhere the harness drops that one line under qemu)";

    /// <summary>/proc/PID/status shows the emulator's signal state.</summary>
    public const string SignalStateIsTheEmulators =
        "qemu-user keeps the program's ignored signals inside the emulator and catches every signal itself, so SigIgn/SigCgt in /proc/PID/status are qemu's, not the program's";

    /// <summary>Peak RSS includes the emulator.</summary>
    public const string RssIsTheEmulators =
        "qemu-user's translator and code cache (about 300 MiB) count in the process's peak RSS, so a bound on emissary's own memory cannot be checked";

    /// <summary>The address space in /proc is the emulator's.</summary>
    public const string AddressSpaceIsTheEmulators =
        "qemu-user reserves the guest's whole address space in its own process, so VmSize in /proc says nothing of the GC's reservation";

    /// <summary>A sub-second latency bound measures the translator, not the program.</summary>
    public const string LatencyIsTheEmulators =
        "qemu-user translates each code path on its first run, so a step's first wake-up after its wait took 0.7 s on busy cores where the native binary takes milliseconds: a sub-second hand-off bound measures the emulator (the native run checks it)";

    /// <summary>The one line of stderr that only the emulator causes (see <see cref="NoSubreaper"/>).</summary>
    private const string SubreaperWarning = "warning: cannot become a child subreaper (Invalid argument)";

    /// <summary>Whether <paramref name="line"/> is the warning only the emulator causes (see <see cref="NoSubreaper"/>), under emulation.</summary>
    public static bool IsEmulatorWarning(string line) => Artifacts.Emulated && line.Contains(SubreaperWarning, StringComparison.Ordinal);

    /// <summary>
    /// The harness's own guard against a hang (how long a test waits for an exit or a line when
    /// it names no time): three times as long under emulation, where every process start
    /// translates the .NET runtime afresh (30 steps started at once took 12 to 20 s on 2 busy
    /// cores). A test's own deadlines, which are what it checks, are never scaled.
    /// </summary>
    public static TimeSpan HangGuard(TimeSpan native) => Artifacts.Emulated ? native * 3 : native;

    /// <summary>
    /// <paramref name="stderr"/> without the subreaper warning when the build under test is
    /// emulated: every test that counts emissary's stderr lines would otherwise fail on a line
    /// an arm64 kernel never causes. Unchanged when not emulated.
    /// </summary>
    public static string WithoutEmulatorWarnings(string stderr)
    {
        if (!Artifacts.Emulated || !stderr.Contains(SubreaperWarning, StringComparison.Ordinal))
            return stderr;
        return string.Join('\n', stderr.Split('\n').Where(line => !IsEmulatorWarning(line)));
    }
}
