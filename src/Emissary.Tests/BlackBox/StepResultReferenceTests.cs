using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary><c>$(steps.NAME.results.KEY)</c> in a later step's command, arguments and environment, replaced by <c>run</c> before it starts the command.</summary>
[SupportedOSPlatform("linux")]
public sealed class StepResultReferenceTests : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private ProcessResult Build(string dir) =>
        RunEmissary("run", "--name", "build", "--control-dir", dir, "--", "/bin/sh", "-c",
            "printf 'sha256:abc' > \"$EMISSARY_RESULTS/digest\"; printf '$(steps.%s.results.digest)' build > \"$EMISSARY_RESULTS/tricky\"");

    [BlackBoxFact]
    public void References_in_arguments_and_environment_are_replaced_but_not_in_EMISSARY_variables()
    {
        string dir = NewControlDir();
        Build(dir).ExitCode.Should().Be(0);
        var result = Start(EmissaryPath,
            ["run", "--name", "test", "--control-dir", dir, "--after", "build", "--", "/bin/sh", "-c",
                "echo \"arg=$0\"; echo \"env=$DIGEST\"; echo \"own=$EMISSARY_NOTE\"; echo \"tricky=$1\"",
                "$(steps.build.results.digest)", "$(steps.build.results.tricky)"],
            new Dictionary<string, string> { ["DIGEST"] = "d=$(steps.build.results.digest)!", ["EMISSARY_NOTE"] = "$(steps.build.results.digest)" })
            .WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal(
            "arg=sha256:abc",
            "env=d=sha256:abc!",
            "own=$(steps.build.results.digest)",
            "tricky=$(steps.build.results.digest)"); // a value is inserted as it is, never scanned again
    }

    [BlackBoxFact]
    public void A_reference_in_the_command_word_is_replaced_before_the_command_is_looked_up()
    {
        string dir = NewControlDir();
        RunEmissary("run", "--name", "pick", "--control-dir", dir, "--", "/bin/sh", "-c", "printf /bin/echo > \"$EMISSARY_RESULTS/tool\"").ExitCode.Should().Be(0);
        var result = RunEmissary("run", "--name", "use", "--control-dir", dir, "--after", "pick", "--", "$(steps.pick.results.tool)", "hello");
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal("hello");
    }

    [BlackBoxFact]
    public void A_missing_result_fails_the_step_with_one_line_and_exit_125_without_running_the_command()
    {
        string dir = NewControlDir();
        Build(dir).ExitCode.Should().Be(0);
        var result = RunEmissary("run", "--name", "test", "--control-dir", dir, "--after", "build", "--", "/bin/echo", "$(steps.build.results.nope)");
        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("$(steps.build.results.nope): step 'build' has no result 'nope'");
        result.StdoutLines.Should().BeEmpty();
        Steps.Status(dir, "test")!.State.Should().Be("failed");

        var noStep = RunEmissary("run", "--name", "t2", "--control-dir", dir, "--", "/bin/echo", "$(steps.ghost.results.x)");
        noStep.ExitCode.Should().Be(125, "{0}", noStep);
        AssertOneEmissaryErrorLine(noStep);
        noStep.Stderr.Should().Contain("step 'ghost' has no directory");
    }

    [BlackBoxFact]
    public void A_result_holding_a_NUL_byte_fails_the_step_instead_of_cutting_the_text_after_it()
    {
        // Before: the argument and the environment value ended at the NUL, silently dropping the
        // consumer's own text after the reference ("--flag=a" instead of "--flag=a\0b-suffix").
        string dir = NewControlDir();
        RunEmissary("run", "--name", "nul", "--control-dir", dir, "--", "/bin/sh", "-c", "printf 'a\\000b' > \"$EMISSARY_RESULTS/v\"")
            .ExitCode.Should().Be(0);
        File.ReadAllBytes(Path.Combine(dir, "nul", "results", "v")).Should().Equal((byte)'a', 0, (byte)'b');

        var inArgument = RunEmissary("run", "--name", "arg", "--control-dir", dir, "--after", "nul", "--", "/bin/echo", "--flag=$(steps.nul.results.v)-suffix");
        var inEnvironment = Start(EmissaryPath,
            ["run", "--name", "env", "--control-dir", dir, "--after", "nul", "--", "/bin/sh", "-c", "echo \"env=$V\""],
            new Dictionary<string, string> { ["V"] = "$(steps.nul.results.v)-suffix" }).WaitForExit();

        foreach (ProcessResult result in new[] { inArgument, inEnvironment })
        {
            result.ExitCode.Should().Be(125, "{0}", result);
            AssertOneEmissaryErrorLine(result);
            result.Stderr.Should().Contain("$(steps.nul.results.v): the value holds a NUL byte");
            result.StdoutLines.Should().BeEmpty("the command must not run with a cut value\n{0}", result);
        }
    }

    [BlackBoxFact]
    public void A_result_that_is_a_link_or_a_results_directory_that_is_a_link_is_refused()
    {
        string dir = NewControlDir();
        Build(dir).ExitCode.Should().Be(0);
        string secret = Path.Combine(TempDir("secret"), "secret");
        File.WriteAllText(secret, "do not read");
        File.CreateSymbolicLink(Path.Combine(dir, "build", "results", "linked"), secret);
        var result = RunEmissary("run", "--name", "test", "--control-dir", dir, "--", "/bin/echo", "$(steps.build.results.linked)");
        result.ExitCode.Should().Be(125, "{0}", result);
        result.Stderr.Should().Contain("symbolic link");
        result.Stdout.Should().NotContain("do not read");

        Directory.CreateDirectory(Path.Combine(dir, "fake"));
        File.CreateSymbolicLink(Path.Combine(dir, "fake", "results"), Path.GetDirectoryName(secret)!);
        var viaDir = RunEmissary("run", "--name", "t2", "--control-dir", dir, "--", "/bin/echo", "$(steps.fake.results.secret)");
        viaDir.ExitCode.Should().Be(125, "{0}", viaDir);
        viaDir.Stdout.Should().NotContain("do not read");
    }
}
