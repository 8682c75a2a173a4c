using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>`emissary run` exit codes: the child's, 128+S, 126, 127, and 125 for emissary's own failures.</summary>
[SupportedOSPlatform("linux")]
public sealed class ExitCodeTests : BlackBoxTest
{
    [BlackBoxTheory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public void Exits_with_the_childs_exit_code(int code)
    {
        var result = RunEmissary("run", "--", TestChildPath, "exit", code.ToString());

        result.ExitCode.Should().Be(code, "{0}", result);
        result.Stdout.Should().BeEmpty("{0}", result);
        result.Stderr.Should().BeEmpty("emissary is silent at the default log level when all goes well\n{0}", result);
    }

    [BlackBoxTheory]
    [InlineData(9, 137)]
    [InlineData(15, 143)]
    [InlineData(2, 130)]
    [InlineData(1, 129)]
    public void Exits_with_128_plus_the_signal_that_killed_the_child(int signal, int expected)
    {
        var result = RunEmissary("run", "--", TestChildPath, "kill-self", signal.ToString());

        result.ExitCode.Should().Be(expected, "{0}", result);
        AssertNoStackTrace(result);
    }

    [BlackBoxFact]
    public void Exits_126_when_the_command_is_not_executable()
    {
        string dir = TempDir();
        string script = Path.Combine(dir, "not-executable");
        File.WriteAllText(script, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b110_100_100); // 0644

        var result = RunEmissary("run", "--", script);

        result.ExitCode.Should().Be(126, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    [BlackBoxFact]
    public void Exits_126_when_the_command_is_a_directory()
    {
        string dir = TempDir();

        var result = RunEmissary("run", "--", dir);

        result.ExitCode.Should().Be(126, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    [BlackBoxTheory]
    [InlineData("no-such-command-xyz")]
    [InlineData("/no/such/dir/command")]
    public void Exits_127_when_the_command_is_not_found(string command)
    {
        var result = RunEmissary("run", "--", command);

        result.ExitCode.Should().Be(127, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stdout.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact]
    public void A_dangling_link_is_not_found_as_execve_says_and_a_link_to_a_program_runs_it()
    {
        string dir = TempDir();
        File.CreateSymbolicLink(Path.Combine(dir, "dangling"), Path.Combine(dir, "gone"));
        File.CreateSymbolicLink(Path.Combine(dir, "child"), TestChildPath);

        var dangling = RunEmissary("run", "--", Path.Combine(dir, "dangling"));
        dangling.ExitCode.Should().Be(127, "{0}", dangling);
        dangling.Stderr.Should().Contain("no such file or directory");
        AssertOneEmissaryErrorLine(dangling);

        // Found through PATH as well, the way execvp follows a link in a PATH directory.
        var viaPath = Start(EmissaryPath, ["run", "--", "child", "exit", "7"], new Dictionary<string, string> { ["PATH"] = dir }).WaitForExit();
        viaPath.ExitCode.Should().Be(7, "{0}", viaPath);
    }

    [BlackBoxTheory]
    [InlineData("run --no-such-flag -- TESTCHILD exit 0")]
    [InlineData("run --log-format yaml -- TESTCHILD exit 0")]
    [InlineData("run")]
    [InlineData("run --")]
    [InlineData("run TESTCHILD exit 0")]
    [InlineData("no-such-verb")]
    [InlineData("")]
    public void Exits_125_with_one_error_line_on_usage_errors(string commandLine)
    {
        string[] args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(a => a == "TESTCHILD" ? TestChildPath : a).ToArray();

        var result = RunEmissary(args);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stdout.Should().BeEmpty("emissary writes nothing to stdout, not even help, on a usage error\n{0}", result);
    }
}
