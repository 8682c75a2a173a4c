using Emissary.Results;
using Emissary.Tekton;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's pkg/entrypoint/entrypointer_test.go, the cases about results read from disk, step-result
/// substitution (<c>$(steps.NAME.results.KEY)</c> in env, command and when-expressions) and
/// when-expressions without CEL. Same convention as <see cref="EntrypointerConformanceTests"/>: the
/// method is named as the Go test function, each row's first argument is the Go case's name verbatim.
/// Where Go's applyStepResultSubstitutions returns an error, Go() logs it and goes on with the text
/// as written: we assert that text (what the command, its environment or the when-expression get).
/// </summary>
public sealed class EntrypointerSubstitutionConformanceTests : EntrypointerHarness
{
    /// <summary>A variable of this test's own: the process environment is shared with the tests running beside it.</summary>
    private readonly string _variable = "EMISSARY_CONFORMANCE_FOO_" + Guid.NewGuid().ToString("N");

    public static TheoryData<string, string, int> ReadResultsFromDiskCases => new()
    {
        // desc, the files' content (JSON of v1beta1.ResultValue) separated by '|', the result type
        { "read string result file", "\"hello world\"", TektonResultType.TaskRunResult },
        { "read array result file", """["hello","world"]""", TektonResultType.TaskRunResult },
        { "read string and array result files", """["hello","world"]|"hello world" """.TrimEnd(), TektonResultType.TaskRunResult },
        { "read string step result file", "\"hello world\"", TektonResultType.StepResult },
        { "read array step result file", """["hello","world"]""", TektonResultType.StepResult },
        { "read string and array step result files", """["hello","world"]|"hello world" """.TrimEnd(), TektonResultType.StepResult },
    };

    /// <summary>
    /// The file's bytes become the entry's value as they are, with the type of the flag that named
    /// it. Tekton's test passes absolute names and an empty directory, so its keys are paths; the
    /// controller passes names and /tekton/results (or STEP_METADATA_DIR/results), as here.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReadResultsFromDiskCases))]
    public void TestReadResultsFromDisk(string desc, string contents, int type)
    {
        string[] values = contents.Split('|');
        string[] names = values.Length == 1 ? ["results"] : ["resultsArray", "resultsString"];
        string directory = type == TektonResultType.StepResult ? StepDir + "/results" : Paths.Results;
        Directory.CreateDirectory(directory);
        for (int i = 0; i < names.Length; i++)
        {
            File.WriteAllText(Path.Combine(directory, names[i]), values[i]);
        }
        var post = PostWriter();

        Go(Options(o => type == TektonResultType.StepResult ? o with { StepResults = names } : o with { Results = names }),
            Waiter(), Runner(Exited(0)), post, ["work"]);

        Parsed(post.Message).Where(e => e.Type != TektonResultType.InternalTektonResult)
            .Should().Equal(names.Select((n, i) => new TektonEntry(n, values[i], type)), desc);
    }

    public static TheoryData<string, string, string, string> EnvCases => new()
    {
        // name, result, env value, want
        { "string param", "Hello", "$(steps.foo.results.res)", "Hello" },
        { "array param", """["Hello","World"]""", "$(steps.foo.results.res[1])", "World" },
        { "object param", """{"hello":"World"}""", "$(steps.foo.results.res.hello)", "World" },
        { "interpolation multiple matches", """{"first":"hello", "second":"world"}""", "$(steps.foo.results.res.first)-$(steps.foo.results.res.second)", "hello-world" },
        { "bad-result-format", """{"hello":"World"}""", "echo $(steps.foo.results.res.hello.bar)", "echo $(steps.foo.results.res.hello.bar)" },
    };

    [Theory]
    [MemberData(nameof(EnvCases))]
    public void TestApplyStepResultSubstitutions_Env(string name, string result, string envValue, string want)
    {
        WriteStepResult("foo", "res", result);
        Environment.SetEnvironmentVariable(_variable, envValue);
        var runner = Runner(Exited(0));
        try
        {
            Go(Options(), Waiter(), runner, PostWriter(), ["work"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(_variable, null);
        }

        string seen = runner.Environment!.TryGetValue(_variable, out string? changed) ? changed : envValue;
        seen.Should().Be(want, name);
    }

    public static TheoryData<string, string, string, string, string> CommandCases => new()
    {
        // name, result key, result, command and want ('|' between arguments)
        { "string param", "res1", "Hello", "$(steps.foo.results.res1)", "Hello" },
        { "array param", "res", """["Hello","World"]""", "$(steps.foo.results.res[1])", "World" },
        { "array param no index", "res", """["Hello","World"]""", "start|$(steps.foo.results.res[*])|stop", "start|Hello|World|stop" },
        { "object param", "res", """{"hello":"World"}""", "$(steps.foo.results.res.hello)", "World" },
        { "bad-result-format", "res", """{"hello":"World"}""", "echo $(steps.foo.results.res.hello.bar)", "echo $(steps.foo.results.res.hello.bar)" },
        { "array param no index, with extra string", "res", """["Hello","World"]""", "start|$(steps.foo.results.res[*])bbb|stop", "start|$(steps.foo.results.res[*])bbb|stop" },
        { "array param, multiple matches", "res", """["Hello","World"]""", "$(steps.foo.results.res[0])-$(steps.foo.results.res[1])", "Hello-World" },
        { "object param, multiple matches", "res", """{"first":"hello", "second":"world"}""", "$(steps.foo.results.res.first)-$(steps.foo.results.res.second)", "hello-world" },
    };

    [Theory]
    [MemberData(nameof(CommandCases))]
    public void TestApplyStepResultSubstitutions_Command(string name, string key, string result, string command, string want)
    {
        WriteStepResult("foo", key, result);
        var runner = Runner(Exited(0));

        Go(Options(), Waiter(), runner, PostWriter(), [.. command.Split('|')]);

        runner.Argv.Should().Equal(want.Split('|'), name);
    }

    public static TheoryData<string, string, string, string> WhenInputCases => new()
    {
        // name, result, input, want
        { "string param", "Hello", "$(steps.foo.results.res)", "Hello" },
        { "array param", """["Hello","World"]""", "$(steps.foo.results.res[1])", "World" },
        { "object param", """{"hello":"World"}""", "$(steps.foo.results.res.hello)", "World" },
        { "bad-result-format", """{"hello":"World"}""", "$(steps.foo.results.res.hello.bar)", "$(steps.foo.results.res.hello.bar)" },
    };

    [Theory]
    [MemberData(nameof(WhenInputCases))]
    public void TestApplyStepWhenSubstitutions_Input(string name, string result, string input, string want)
    {
        WriteStepResult("foo", "res", result);

        IReadOnlyList<TektonWhenExpression> got = AsTheStepSubstitutes([new TektonWhenExpression(input, "", [], "")]);

        got.Should().ContainSingle().Which.Input.Should().Be(want, name);
    }

    public static TheoryData<string, string, string, string> WhenValuesCases => new()
    {
        // name, result, values and want ('|' between values)
        { "string param", "Hello", "$(steps.foo.results.res)", "Hello" },
        { "array param, reference an element", """["Hello","World"]""", "$(steps.foo.results.res[1])", "World" },
        { "array param, reference whole array", """["Hello","World"]""", "$(steps.foo.results.res[*])", "Hello|World" },
        { "array param, reference whole array with concatenation, error", """["Hello","World"]""", "$(steps.foo.results.res[*])1", "$(steps.foo.results.res[*])1" },
        { "object param", """{"hello":"World"}""", "$(steps.foo.results.res.hello)", "World" },
        { "bad-result-format", """{"hello":"World"}""", "$(steps.foo.results.res.hello.bar)", "$(steps.foo.results.res.hello.bar)" },
    };

    [Theory]
    [MemberData(nameof(WhenValuesCases))]
    public void TestApplyStepWhenSubstitutions_Values(string name, string result, string values, string want)
    {
        WriteStepResult("foo", "res", result);

        IReadOnlyList<TektonWhenExpression> got = AsTheStepSubstitutes([new TektonWhenExpression("", "", values.Split('|'), "")]);

        got.Should().ContainSingle().Which.Values.Should().Equal(want.Split('|'), name);
    }

    public static TheoryData<string, string, bool> AllowExecCases => new()
    {
        // name, --when_expressions, expected (the step runs); the CEL cases are TektonCelConformance's
        { "in expression", """[{"input":"foo","operator":"in","values":["foo","bar"]}]""", true },
        { "notin expression", """[{"input":"foobar","operator":"notin","values":["foobar"]}]""", false },
        { "multiple expressions - false", """[{"input":"foobar","operator":"in","values":["foobar"]},{"input":"foo","operator":"in","values":["bar"]}]""", false },
        { "multiple expressions - true", """[{"input":"foobar","operator":"in","values":["foobar"]},{"input":"foo","operator":"notin","values":["bar"]}]""", true },
    };

    [Theory]
    [MemberData(nameof(AllowExecCases))]
    public void TestAllowExec(string name, string when, bool expected)
    {
        var runner = Runner(Exited(0));
        var post = PostWriter();

        (int exitCode, _) = Go(Options(o => o with { WhenExpressions = when, PostFile = Root + "/out" }), Waiter(), runner, post, ["work"]);

        (runner.Argv is not null).Should().Be(expected, name);
        exitCode.Should().Be(0, "a step skipped by its when-expressions succeeds");
        post.Message.Any(e => e is { Key: "Reason", Value: "Skipped" }).Should().Be(!expected);
    }

    /// <summary>
    /// Not a Tekton case: Tekton reads a referenced step result whole (os.ReadFile). With
    /// -compress_termination_message a result up to what the controller inflates (128 KiB) can have
    /// passed the previous step's message, so it must be substituted whole, not refused at 4096
    /// bytes; plain, 4096 bytes is all a result can be.
    /// </summary>
    [Theory]
    [InlineData(true, 8000, true)]
    [InlineData(true, 128 * 1024, true)]
    [InlineData(true, 128 * 1024 + 1, false)]
    [InlineData(false, 4096, true)]
    [InlineData(false, 4097, false)]
    public void A_step_result_is_read_up_to_what_the_termination_message_can_carry(bool compress, int size, bool substituted)
    {
        string value = new('x', size);
        WriteStepResult("foo", "big", value);
        var runner = Runner(Exited(0));

        Go(Options(o => o with { CompressTerminationMessage = compress }), Waiter(), runner, PostWriter(), ["echo", "$(steps.foo.results.big)"]);

        runner.Argv![1].Should().Be(substituted ? value : "$(steps.foo.results.big)");
    }

    /// <summary>What TektonStep does with the when-expressions: substituted, or kept as written when a reference cannot be.</summary>
    private IReadOnlyList<TektonWhenExpression> AsTheStepSubstitutes(IReadOnlyList<TektonWhenExpression> when)
    {
        try
        {
            return TektonWhenExpressions.Substitute(when, new TektonStepResultResolver(Paths, TektonTerminationMessage.MaxResultBytes(false)));
        }
        catch (StepResultMissingException)
        {
            return when;
        }
    }
}
