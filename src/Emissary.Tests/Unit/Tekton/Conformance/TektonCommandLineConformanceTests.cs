using Emissary.Json;
using Emissary.Tekton;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's cmd/entrypoint/args_test.go and platform_test.go, case by case, against
/// <see cref="TektonCommandLine"/>. Naming convention of every class in this folder and of
/// BlackBox/TektonCmdConformanceTests: a test is named <c>GoTest__go_case_description</c>
/// (the Go test function, two underscores, the case's <c>desc</c>/<c>name</c> with spaces as
/// underscores), or just <c>GoTest</c> for a Go test without cases; a Theory's data row carries
/// the case description verbatim. Inputs and expected outputs are Tekton's; the code is ours.
/// </summary>
public sealed class TektonCommandLineConformanceTests
{
    public static TheoryData<string, string[], string[], string[]> ExtractArgsCases => new()
    {
        { "empty arguments", [], [], [] },
        { "with args", ["--foo", "bar", "a", "b", "c"], ["--foo", "bar", "a", "b", "c"], [] },
        { "with terminator on its own", ["--foo", "bar", "--"], ["--foo", "bar"], [] },
        { "with terminator", ["--foo", "bar", "--", "a", "b", "c"], ["--foo", "bar"], ["a", "b", "c"] },
        { "with args and terminator", ["--foo", "bar", "baz", "--", "a", "b", "c"], ["--foo", "bar", "baz"], ["a", "b", "c"] },
    };

    [Theory]
    [MemberData(nameof(ExtractArgsCases))]
    public void TestExtractArgs(string desc, string[] args, string[] expectedArgs, string[] expectedCommandArgs)
    {
        (string[] flags, string[] command) = TektonCommandLine.Split(args);
        flags.Should().Equal(expectedArgs, desc);
        command.Should().Equal(expectedCommandArgs, desc);
    }

    private const string AmdAndS390x = """{"linux/amd64":["my","command"],"linux/s390x":["other","one"]}""";

    public static TheoryData<string, string, string, string[]?> SelectCommandForPlatformCases => new()
    {
        { "platform exists", AmdAndS390x, "linux/amd64", ["my", "command"] },
        { "platform not found", AmdAndS390x, "linux/ppc64le", null },
        { "platform fallback", AmdAndS390x, "linux/amd64/v8", ["my", "command"] },
        { "platform fallback not needed", """{"linux/amd64":["other","one"],"linux/amd64/v8":["my","command"]}""", "linux/amd64/v8", ["my", "command"] },
        { "arm64 entrypoint with variant looks up key without variant", """{"linux/arm64":["my","command"]}""", "linux/arm64/v8", ["my", "command"] },
    };

    [Theory]
    [MemberData(nameof(SelectCommandForPlatformCases))]
    public void TestSelectCommandForPlatform(string desc, string commands, string platform, string[]? want)
    {
        string[]? got = TektonCommandLine.SelectCommandForPlatform(JsonValue.Parse(commands), platform);
        if (want is null)
            got.Should().BeNull(desc + ": Tekton fails with \"could not find command for platform\"");
        else
            got.Should().Equal(want, desc);
    }
}
