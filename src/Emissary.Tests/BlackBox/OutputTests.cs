using System.Runtime.Versioning;
using System.Text.Json;

namespace Emissary.Tests.BlackBox;

/// <summary>stdout belongs to the child; emissary's own lines go to stderr only.</summary>
[SupportedOSPlatform("linux")]
public sealed class OutputTests : BlackBoxTest
{
    [BlackBoxFact]
    public void Writes_nothing_itself_to_stdout_or_stderr_when_all_goes_well()
    {
        var result = RunEmissary("run", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stdout.Should().BeEmpty("{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact]
    public void Passes_the_childs_stdout_and_stderr_through_untouched()
    {
        var result = RunEmissary("run", "--", "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3");

        result.ExitCode.Should().Be(3, "{0}", result);
        result.Stdout.Should().Be("to-stdout", "{0}", result);
        result.Stderr.Should().Be("to-stderr\n", "{0}", result);
    }

    [BlackBoxFact]
    public void Passes_arguments_and_environment_to_the_child_unchanged()
    {
        var result = Start(EmissaryPath, new[] { "run", "--", "/bin/sh", "-c", "printf '%s|' \"$@\"; echo; echo \"$EMISSARY_BB_VALUE\"", "sh", "a b", "", "--", "-x", "*" },
                env: new Dictionary<string, string> { ["EMISSARY_BB_VALUE"] = "va lue=1" })
            .WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal(new[] { "a b||--|-x|*|", "va lue=1" }, "{0}", result);
    }

    [BlackBoxFact]
    public void Runs_the_child_in_the_working_directory_it_was_started_in()
    {
        string dir = TempDir("cwd");

        var result = Start(EmissaryPath, new[] { "run", "--", "/bin/sh", "-c", "pwd" }, workingDirectory: dir).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stdout.Should().Be(dir, "{0}", result);
    }

    [BlackBoxTheory]
    [InlineData("text")]
    [InlineData("json")]
    public void Logs_only_to_stderr_even_at_debug_level(string format)
    {
        var result = RunEmissary("run", "--log-level", "debug", "--log-format", format, "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stdout.Should().BeEmpty("stdout belongs to the child\n{0}", result);
        AssertNoStackTrace(result);
        if (format == "json")
        {
            foreach (string line in result.StderrLines)
            {
                var parse = () => JsonDocument.Parse(line).Dispose();
                parse.Should().NotThrow("every --log-format json line is a JSON document: {0}", line);
            }
        }
    }
}
