using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>`emissary init DEST` copies the binary (mode 0555, atomically, idempotently).</summary>
[SupportedOSPlatform("linux")]
public sealed class InitTests : BlackBoxTest
{
    private const UnixFileMode ReadExecuteForAll = (UnixFileMode)0b101_101_101; // 0555

    private void AssertIsACopyOfEmissary(string path)
    {
        File.Exists(path).Should().BeTrue($"{path} should exist");
        File.GetUnixFileMode(path).Should().Be(ReadExecuteForAll, $"{path} is installed with mode 0555");
        File.ReadAllBytes(path).SequenceEqual(File.ReadAllBytes(EmissaryPath)).Should().BeTrue($"{path} is a byte copy of emissary");
        Directory.GetFiles(Path.GetDirectoryName(path)!).Should().OnlyContain(
            f => !Path.GetFileName(f).StartsWith('.') || f == path, "no temporary file is left next to the copy");
    }

    [BlackBoxFact]
    public void Version_prints_the_version_on_stdout()
    {
        var result = RunEmissary("--version");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().ContainSingle("{0}", result).Which.Should().MatchRegex(@"\d+\.\d+\.\d+");
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact]
    public void Init_copies_itself_into_a_directory_and_the_copy_runs()
    {
        string dir = TempDir("init");

        var result = RunEmissary("init", dir);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stdout.Should().BeEmpty("{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
        string copy = Path.Combine(dir, "emissary");
        AssertIsACopyOfEmissary(copy);
        var version = Run(copy, "--version");
        version.ExitCode.Should().Be(0, "{0}", version);
        version.Stdout.Should().Be(RunEmissary("--version").Stdout);
    }

    [BlackBoxFact]
    public void Init_is_idempotent()
    {
        string dir = TempDir("init");

        var first = RunEmissary("init", dir);
        var second = RunEmissary("init", dir);

        first.ExitCode.Should().Be(0, "{0}", first);
        second.ExitCode.Should().Be(0, "a second init over the 0555 copy succeeds\n{0}", second);
        second.Stderr.Should().BeEmpty("{0}", second);
        AssertIsACopyOfEmissary(Path.Combine(dir, "emissary"));
        Directory.GetFileSystemEntries(dir).Should().HaveCount(1, "only the copy is in the directory");
    }

    [BlackBoxFact]
    public void Init_the_copy_can_install_itself_again()
    {
        string first = TempDir("init");
        string second = TempDir("init");
        RunEmissary("init", first).ExitCode.Should().Be(0);

        var result = Run(Path.Combine(first, "emissary"), "init", second);

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertIsACopyOfEmissary(Path.Combine(second, "emissary"));
    }

    [BlackBoxFact]
    public void Init_copies_itself_to_an_explicit_file_path()
    {
        string dir = TempDir("init");
        string dest = Path.Combine(dir, "my-emissary");

        var result = RunEmissary("init", dest);

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertIsACopyOfEmissary(dest);
        Directory.GetFileSystemEntries(dir).Should().Equal(new[] { dest }, "only the named file is created");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "setpriv")]
    public void Init_fails_with_125_and_one_line_when_the_destination_is_not_writable()
    {
        RequireRoot("setpriv");
        string bin = TempDir("bin");
        string emissary = CopyInto(bin, EmissaryPath);
        string dest = TempDir("ro"); // root-owned, 0755: not writable for uid 65534

        var result = Start("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", emissary, "init", dest).WaitForExit();

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stdout.Should().BeEmpty("{0}", result);
        Directory.GetFileSystemEntries(dest).Should().BeEmpty("a failed init leaves nothing behind");
    }

    [BlackBoxFact]
    public void Init_fails_with_125_and_one_line_when_the_destination_is_under_a_regular_file()
    {
        string dir = TempDir("init");
        string file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "not a directory");

        var result = RunEmissary("init", Path.Combine(file, "emissary"));

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        File.ReadAllText(file).Should().Be("not a directory");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "chroot")]
    public void Init_works_in_an_empty_root()
    {
        RequireRoot("chroot");
        string root = TempDir("root");
        CopyInto(root, EmissaryPath);
        Directory.CreateDirectory(Path.Combine(root, "out"));

        var result = Run("chroot", root, "/emissary", "init", "/out");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
        AssertIsACopyOfEmissary(Path.Combine(root, "out", "emissary"));
    }
}
