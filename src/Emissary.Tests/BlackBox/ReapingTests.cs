using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>
/// Emissary reaps orphans: as PID 1 of a PID namespace, and otherwise as a child subreaper
/// (PR_SET_CHILD_SUBREAPER). `testchild orphans N` makes N orphaned grandchildren, reports
/// which pid they were reparented to, and waits until they have all exited.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ReapingTests : BlackBoxTest
{
    private static readonly string[] PidNamespace = { "--pid", "--fork", "--mount-proc" };

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "unshare")]
    public void As_pid_1_exits_with_the_childs_code_after_the_child_made_orphans()
    {
        RequireRoot("unshare --pid");
        var result = Start("unshare", PidNamespace.Concat(new[] { EmissaryPath, "run", "--", TestChildPath, "orphans", "100" }))
            .WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().ContainInOrder(new[] { "spawned 100", "orphan-parent 1", "orphans exited" },
            "orphans are reparented to PID 1, emissary\n{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "unshare")]
    public void As_pid_1_exits_with_a_shells_code_after_the_shell_made_orphans()
    {
        RequireRoot("unshare --pid");
        var result = Start("unshare", PidNamespace.Concat(new[] { EmissaryPath, "run", "--", "/bin/sh", "-c", "testchild orphans 100; exit 7" }))
            .WaitForExit();

        result.ExitCode.Should().Be(7, "{0}", result);
        result.StdoutLines.Should().Contain("orphans exited", "{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "unshare")]
    public void As_pid_1_reaps_every_orphan()
    {
        RequireRoot("unshare --pid");
        var result = Start("unshare", PidNamespace.Concat(new[] { EmissaryPath, "run", "--", "/bin/sh", "-c",
                "testchild orphans 100 && testchild count-zombies 0 5" }))
            .WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("orphan-parent 1", "{0}", result);
        result.StdoutLines.Should().Contain("zombies 0", "emissary as PID 1 reaps the orphans' zombies\n{0}", result);
    }

    [BlackBoxFact(NotUnderQemu = Qemu.NoSubreaper)]
    public void As_a_subreaper_adopts_and_reaps_every_orphan_of_its_child()
    {
        // $PPID of the shell is emissary: the orphans must be reparented to it, and reaped.
        var emissary = StartEmissary("run", "--", "/bin/sh", "-c",
            "testchild orphans 100 && testchild count-zombies $PPID 5");
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain($"orphan-parent {emissary.Pid}",
            "emissary sets PR_SET_CHILD_SUBREAPER, so its descendants' orphans become its children\n{0}", result);
        result.StdoutLines.Should().Contain("zombies 0", "emissary reaps the orphans it adopted\n{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact]
    public void Exits_as_soon_as_the_child_exits_without_waiting_for_background_grandchildren()
    {
        // The grandchild sleeps for an hour: exiting within the hang guard shows that emissary
        // exits when its child exits, not when the background grandchild does.
        var emissary = StartEmissary("run", "--", TestChildPath, "bg-sleeper", "3600");
        var result = emissary.WaitForExit(TimeSpan.FromSeconds(30), waitForOutput: false);
        string bg = emissary.WaitForLineStartingWith("bg ");
        Libc.Kill(int.Parse(bg["bg ".Length..]), Libc.SIGKILL);

        result.ExitCode.Should().Be(0, "{0}", result);
    }
}
