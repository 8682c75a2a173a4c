using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>
/// Emissary runs in an empty root (a FROM scratch image): a directory holding only emissary,
/// the static testchild and a static busybox (with `sh` a symlink to it).
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "chroot")]
[SupportedOSPlatform("linux")]
public sealed class EmptyRootTests : BlackBoxTest
{
    private string EmptyRoot()
    {
        RequireRoot("chroot");
        string root = TempDir("root");
        CopyInto(root, EmissaryPath);
        CopyInto(root, TestChildPath);
        CopyInto(root, Artifacts.StaticBusybox, "busybox");
        File.CreateSymbolicLink(Path.Combine(root, "sh"), "busybox");
        return root;
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Runs_a_static_child_in_an_empty_root()
    {
        string root = EmptyRoot();

        var result = Run("chroot", root, "/emissary", "run", "--", "/testchild", "exit", "4");

        result.ExitCode.Should().Be(4, "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData("/busybox", "sh", "-c", "exit 5", 5)]
    [InlineData("/sh", "-c", "exit 6", null, 6)]
    public void Runs_busybox_sh_in_an_empty_root(string command, string arg1, string arg2, string? arg3, int expected)
    {
        string root = EmptyRoot();
        var args = new List<string> { root, "/emissary", "run", "--", command, arg1, arg2 };
        if (arg3 is not null)
            args.Add(arg3);

        var result = Start("chroot", args).WaitForExit();

        result.ExitCode.Should().Be(expected, "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Forwards_a_signal_in_an_empty_root()
    {
        string root = EmptyRoot();
        var chroot = Start("chroot", root, "/emissary", "run", "--", "/testchild", "signals", "30");
        chroot.WaitForLine("ready");

        chroot.Signal(10); // chroot execs emissary: same pid
        chroot.WaitForLine("got USR1");
        chroot.Signal(Libc.SIGTERM);
        var result = chroot.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Reports_a_missing_command_with_127_and_one_line_in_an_empty_root()
    {
        string root = EmptyRoot();

        var result = Run("chroot", root, "/emissary", "run", "--", "/no-such-command");

        result.ExitCode.Should().Be(127, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Reports_a_usage_error_with_125_and_one_line_in_an_empty_root()
    {
        string root = EmptyRoot();

        var result = Run("chroot", root, "/emissary", "run", "--no-such-flag", "--", "/testchild", "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }
}
