using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>Emissary forwards every catchable signal it gets to the child's process group.</summary>
[SupportedOSPlatform("linux")]
public sealed class SignalForwardingTests : BlackBoxTest
{
    /// <summary>The signals the contract says are forwarded (name as testchild prints it, number on x86-64).</summary>
    public static TheoryData<string, int> ForwardedSignals => new()
    {
        { "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "ABRT", 6 }, { "USR1", 10 }, { "USR2", 12 },
        { "PIPE", 13 }, { "ALRM", 14 }, { "TERM", 15 }, { "CONT", 18 }, { "TSTP", 20 }, { "TTIN", 21 },
        { "TTOU", 22 }, { "URG", 23 }, { "XCPU", 24 }, { "XFSZ", 25 }, { "VTALRM", 26 }, { "PROF", 27 },
        { "WINCH", 28 }, { "IO", 29 }, { "PWR", 30 },
        // The fault signals, when another process sent them with kill(2) (a real fault in emissary
        // still goes to the runtime): the shim catches them apart from the signalfd.
        { "ILL", 4 }, { "TRAP", 5 }, { "BUS", 7 }, { "FPE", 8 }, { "SEGV", 11 }, { "SYS", 31 },
    };

    public static TheoryData<int> FaultSignals => new() { 4, 5, 7, 8, 11, 31 };

    [BlackBoxTheory]
    [MemberData(nameof(FaultSignals))]
    public void A_fault_signal_sent_to_emissary_kills_the_child_and_emissary_exits_with_its_status(int signal)
    {
        // The shell and sleep keep the default disposition of these signals, so the forwarded
        // signal kills the child (before or after the exec); emissary survives the kill(2) and
        // reports 128 + signal.
        var emissary = StartEmissary("run", "--", "/bin/sh", "-c", "echo ready; exec sleep 30");
        emissary.WaitForLine("ready");

        emissary.Signal(signal);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(128 + signal, "the child died of the forwarded signal\n{0}", result);
        AssertNoStackTrace(result);
    }

    [BlackBoxTheory]
    [MemberData(nameof(ForwardedSignals))]
    public void Forwards_the_signal_to_the_child(string name, int signal)
    {
        var emissary = StartEmissary("run", "--", TestChildPath, "signals", "30");
        emissary.WaitForLine("ready");

        emissary.Signal(signal);
        emissary.WaitForLine($"got {name}");
        if (signal != Libc.SIGTERM)
            emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "testchild exits 0 after it got TERM\n{0}", result);
        result.StdoutLines.Should().Contain("got TERM", "{0}", result);
        AssertNoStackTrace(result);
    }

    [BlackBoxFact]
    public void Forwards_several_signals_in_a_row_to_the_child()
    {
        var emissary = StartEmissary("run", "--", TestChildPath, "signals", "30");
        emissary.WaitForLine("ready");

        foreach (var (name, signal) in new[] { ("USR1", 10), ("HUP", 1), ("USR2", 12), ("WINCH", 28), ("INT", 2) })
        {
            emissary.Signal(signal);
            emissary.WaitForLine($"got {name}");
        }
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
    }

    [BlackBoxFact]
    public void Delivers_signals_to_every_process_in_the_childs_process_group()
    {
        var emissary = StartEmissary("run", "--", TestChildPath, "group-signals");
        emissary.WaitForLine("ready");

        emissary.Signal(10); // USR1
        emissary.WaitForLine("parent got USR1");
        emissary.WaitForLine("child got USR1");
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("parent got TERM").And.Contain("child got TERM");
    }

    [BlackBoxFact]
    public void Delivers_signals_to_a_shells_background_job()
    {
        // The shell (emissary's child) traps USR1; its background job is in the same process
        // group, so a USR1 sent to emissary reaches both. TERM then kills the shell (143).
        const string script =
            "trap 'echo shell got USR1' USR1; testchild signals 30 & pid=$!; " +
            "while kill -0 $pid 2>/dev/null; do wait $pid; done";
        var emissary = StartEmissary("run", "--", "/bin/sh", "-c", script);
        emissary.WaitForLine("ready");

        emissary.Signal(10); // USR1
        emissary.WaitForLine("got USR1");
        emissary.WaitForLine("shell got USR1");
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(143, "the shell dies of the forwarded TERM\n{0}", result);
        result.StdoutLines.Should().Contain("got TERM", "the background job got TERM too\n{0}", result);
    }

    [BlackBoxFact]
    public void With_single_child_signals_go_only_to_the_child_not_its_group()
    {
        var emissary = StartEmissary("run", "--single-child", "--", TestChildPath, "group-signals");
        emissary.WaitForLine("ready");

        emissary.Signal(10); // USR1
        emissary.WaitForLine("parent got USR1");
        // group-signals' parent passes TERM on to its own child; the child prints every signal
        // it caught before it exits, so a USR1 it got would show up before "child exiting".
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("child exiting", "{0}", result);
        result.StdoutLines.Should().NotContain("child got USR1",
            "with --single-child only the child itself gets the signal, not its process group\n{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "unshare")]
    public void As_pid_1_forwards_TERM_to_the_child()
    {
        RequireRoot("unshare --pid");
        var unshare = Start("unshare", "--pid", "--fork", "--mount-proc", EmissaryPath, "run", "--", TestChildPath, "signals", "30");
        unshare.WaitForLine("ready");
        var emissary = ProcTable.ChildrenOf(unshare.Pid).Should().ContainSingle(
            "unshare --fork has one child, emissary as PID 1 of the new namespace\n{0}", unshare.Describe()).Which;

        Libc.Kill(emissary.Pid, 10).Should().BeTrue();
        unshare.WaitForLine("got USR1");
        Libc.Kill(emissary.Pid, Libc.SIGTERM).Should().BeTrue();
        var result = unshare.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("got TERM");
    }
}
