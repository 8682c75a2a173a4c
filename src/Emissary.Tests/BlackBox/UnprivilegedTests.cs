using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>Emissary works as an unprivileged user (setpriv to nobody, 65534).</summary>
[Trait("Needs", "root")]
[Trait("Needs", "setpriv")]
[SupportedOSPlatform("linux")]
public sealed class UnprivilegedTests : BlackBoxTest
{
    private static readonly string[] AsNobody = { "--reuid=65534", "--regid=65534", "--clear-groups" };

    /// <summary>Copies of the binaries that uid 65534 can certainly read and execute.</summary>
    private string PublicBinaries()
    {
        RequireRoot("setpriv");
        string dir = TempDir("bin");
        CopyInto(dir, EmissaryPath);
        CopyInto(dir, TestChildPath);
        return dir;
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Runs_a_child_as_an_unprivileged_user()
    {
        string bin = PublicBinaries();

        var result = Start("setpriv", AsNobody.Concat(new[] { Path.Combine(bin, "emissary"), "run", "--", Path.Combine(bin, "testchild"), "status" }))
            .WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("uid 65534", "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root, NotUnderQemu = Qemu.NoSubreaper)]
    public void Reaps_orphans_as_an_unprivileged_user()
    {
        string bin = PublicBinaries();

        var result = Start("setpriv",
                AsNobody.Concat(new[] { Path.Combine(bin, "emissary"), "run", "--", "/bin/sh", "-c",
                    $"{bin}/testchild orphans 20 && {bin}/testchild count-zombies $PPID 5" }),
                workingDirectory: bin)
            .WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("zombies 0", "{0}", result);
        result.StdoutLines.Should().NotContain("orphan-parent 1", "the subreaper, not init, adopts the orphans\n{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Forwards_signals_as_an_unprivileged_user()
    {
        string bin = PublicBinaries();
        var emissary = Start("setpriv", AsNobody.Concat(new[] { Path.Combine(bin, "emissary"), "run", "--", Path.Combine(bin, "testchild"), "signals", "30" }));
        emissary.WaitForLine("ready");

        emissary.Signal(12); // setpriv execs emissary: same pid
        emissary.WaitForLine("got USR2");
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
    }
}
