using System.Runtime.Versioning;
using System.Globalization;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// The child starts with the signal mask and the ignored signals the caller gave emissary
/// (tini's contract), whatever the .NET runtime does inside emissary (it ignores SIGPIPE and
/// catches SEGV/FPE). `testchild exec-sigs BLOCKED IGNORED -- PROG` sets up exactly that caller
/// state; `testchild status` prints the SigBlk/SigIgn lines of /proc/self/status.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SignalMaskTests : BlackBoxTest
{
    [BlackBoxTheory(NotUnderQemu = Qemu.SignalStateIsTheEmulators)]
    [InlineData("-", "-")]             // nothing blocked, nothing ignored: SIGPIPE must be default
    [InlineData("10", "-")]            // USR1 blocked
    [InlineData("-", "1,12")]          // HUP and USR2 ignored (nohup style)
    [InlineData("10", "1,12")]
    [InlineData("2,15", "13")]         // INT, TERM blocked; PIPE ignored
    [InlineData("-", "8,11")]          // FPE, SEGV ignored (the runtime catches both inside emissary)
    [InlineData("-", "17")]            // CHLD ignored
    [InlineData("14,28", "3,20,21,22")]
    [InlineData("45", "34,40,64")]     // real-time: SIGRTMIN (the runtime catches it inside emissary) and two it never touches
    public void The_child_gets_the_callers_blocked_and_ignored_signals(string blocked, string ignored)
    {
        var direct = Run(TestChildPath, "exec-sigs", blocked, ignored, "--", TestChildPath, "status");
        direct.ExitCode.Should().Be(0, "{0}", direct);
        var (directBlocked, directIgnored) = Masks(direct);
        directBlocked.Should().Be(Bits(blocked), "testchild exec-sigs sets up the caller's mask\n{0}", direct);
        directIgnored.Should().Be(Bits(ignored), "testchild exec-sigs sets up the caller's ignored signals\n{0}", direct);

        var result = Run(TestChildPath, "exec-sigs", blocked, ignored, "--", EmissaryPath, "run", "--", TestChildPath, "status");

        result.ExitCode.Should().Be(0, "{0}", result);
        var (childBlocked, childIgnored) = Masks(result);
        childBlocked.Should().Be(directBlocked,
            "the child's SigBlk is the mask the caller gave emissary (expected {0:x16}, got {1:x16})\n{2}", directBlocked, childBlocked, result);
        childIgnored.Should().Be(directIgnored,
            "the child's SigIgn is what the caller ignored (expected {0:x16}, got {1:x16})\n{2}", directIgnored, childIgnored, result);
    }

    /// <summary>
    /// When the caller ignored a signal the runtime catches (SEGV here), the command is started
    /// through emissary's exec trampoline; a command that then cannot be exec'd must fail to start
    /// exactly as it does when spawned directly, not look like a command that ran and exited 126.
    /// </summary>
    [BlackBoxTheory(NotUnderQemu = Qemu.SignalStateIsTheEmulators)]
    [InlineData("-")]
    [InlineData("11")]
    public void A_command_that_cannot_be_executed_fails_to_start_through_the_trampoline_as_directly(string ignored)
    {
        string dir = TempDir("noexec");
        string notAProgram = Path.Combine(dir, "not-a-program");
        // Written by sh, not by this process: see CopyInto (ETXTBSY).
        Run("/bin/sh", "-c", $"printf 'not a program\\n' > {notAProgram} && chmod 755 {notAProgram}").ExitCode.Should().Be(0);

        var result = Run(TestChildPath, "exec-sigs", "-", ignored, "--", EmissaryPath, "run", "--", notAProgram);

        result.ExitCode.Should().Be(126, "{0}", result);
        result.Stderr.Should().Contain($"{notAProgram}: cannot run: not an executable format", "{0}", result);
        result.Stderr.Should().NotContain("exec failed", "{0}", result);
    }

    /// <summary>
    /// The trampoline's report pipe is close-on-exec: the command it starts holds exactly the
    /// descriptors a command spawned directly holds (what the test runner itself passed down).
    /// </summary>
    [BlackBoxFact(NotUnderQemu = Qemu.SignalStateIsTheEmulators)]
    public void A_command_started_through_the_trampoline_inherits_no_other_descriptor()
    {
        var direct = Run(TestChildPath, "exec-sigs", "-", "-", "--", EmissaryPath, "run", "--", "/bin/sh", "-c", "ls /proc/$$/fd");
        var result = Run(TestChildPath, "exec-sigs", "-", "11", "--", EmissaryPath, "run", "--", "/bin/sh", "-c", "ls /proc/$$/fd");

        direct.ExitCode.Should().Be(0, "{0}", direct);
        result.ExitCode.Should().Be(0, "{0}", result);
        direct.StdoutLines.Should().Contain(["0", "1", "2"], "{0}", direct);
        result.StdoutLines.Should().Equal(direct.StdoutLines, "{0}\n{1}", result, direct);
    }

    [BlackBoxFact(NotUnderQemu = Qemu.SignalStateIsTheEmulators)]
    public void A_shells_trap_to_ignore_reaches_the_child_but_SIGPIPE_stays_default()
    {
        const ulong hup = 1UL << 0, usr2 = 1UL << 11, pipe = 1UL << 12;
        var direct = Run(TestChildPath, "exec-sigs", "-", "-", "--", "/bin/sh", "-c",
            "trap '' USR2 HUP; exec testchild status");
        var result = Run(TestChildPath, "exec-sigs", "-", "-", "--", "/bin/sh", "-c",
            $"trap '' USR2 HUP; exec {EmissaryPath} run -- testchild status");

        result.ExitCode.Should().Be(0, "{0}", result);
        var (_, directIgnored) = Masks(direct);
        var (_, childIgnored) = Masks(result);
        (childIgnored & (hup | usr2)).Should().Be(hup | usr2, "HUP and USR2 were ignored by the caller\n{0}", result);
        (childIgnored & pipe).Should().Be(0UL, "the runtime ignores SIGPIPE inside emissary, but the child gets it default\n{0}", result);
        childIgnored.Should().Be(directIgnored, "{0}", result);
    }

    [BlackBoxFact]
    public void Exec_blocked_blocks_exactly_one_signal_in_the_child()
    {
        var result = Run(TestChildPath, "exec-blocked", "12", "--", EmissaryPath, "run", "--", TestChildPath, "status");

        result.ExitCode.Should().Be(0, "{0}", result);
        Masks(result).Blocked.Should().Be(1UL << 11, "only USR2 was blocked by the caller\n{0}", result);
    }

    private static ulong Bits(string list) =>
        list == "-" ? 0UL : list.Split(',').Aggregate(0UL, (acc, s) => acc | (1UL << (int.Parse(s, CultureInfo.InvariantCulture) - 1)));

    private static (ulong Blocked, ulong Ignored) Masks(ProcessResult result) =>
        (Field(result, "SigBlk:"), Field(result, "SigIgn:"));

    private static ulong Field(ProcessResult result, string name)
    {
        string line = result.StdoutLines.Should().ContainSingle(l => l.StartsWith(name, StringComparison.Ordinal),
            "testchild status prints {0}\n{1}", name, result).Which;
        return ulong.Parse(line[name.Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
