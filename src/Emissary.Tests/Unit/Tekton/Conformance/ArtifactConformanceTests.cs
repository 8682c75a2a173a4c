using Emissary.Events;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's artifact tests of pkg/entrypoint/entrypointer_test.go (tektoncd/pipeline main,
/// 2026-08-20), their inputs and expected outputs ported as facts. Naming convention: each test
/// method is named after the Go test function, and its first argument <c>goCase</c> is the Go
/// case's <c>t.Run</c> name verbatim (a Go test without a table has one case, its t.Run name), so a
/// result reads <c>TestParseArtifactTemplate(goCase: "valid outputs template")</c>. Tekton's
/// <c>stepDir</c> is our <c>/tekton/steps</c> (<see cref="TektonPaths.Steps"/>), its
/// <c>ScriptDir</c> our <see cref="TektonPaths.Scripts"/>. Go's cases that make the file
/// unreadable with mode 0o000 (which Go skips as root, where it is readable) put a directory in the
/// file's place instead: a file that exists and cannot be read, whoever runs the test.
/// </summary>
public sealed class ArtifactConformanceTests : IDisposable
{
    private const string Image = """{"inputs":[{"name":"inputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/inputs"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]}]}""";
    private const string ImageValues = """[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]""";
    private const string InputFirst = """{"outputs":[{"name":"outputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/outputs"}]}],"inputs":[{"name":"input","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/inputs"}]}]}""";
    private const string TwoOutputs = """{"inputs":[{"name":"inputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/inputs"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/outputs"}]},{"name":"output2","values":[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/outputs"}]}]}""";
    private const string TwoInputs = """{"outputs":[{"name":"outputs","values":[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/outputs"}]}],"inputs":[{"name":"input","values":[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/inputs"}]},{"name":"input2","values":[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/inputs"}]}]}""";
    private const string Output2Values = """[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/outputs"}]""";
    private const string Input2Values = """[{"digest":{"sha256":"22222157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f13402222"},"uri":"docker2:example.registry.com/inputs"}]""";
    private const string InputValues = """[{"digest":{"sha256":"64d0b157fdf2d7f6548836dd82085fd8401c9481a9f59e554f1b337f134074b0"},"uri":"docker:example.registry.com/inputs"}]""";

    /// <summary>Go's mode 0o000: the file exists and cannot be read (see the class comment).</summary>
    private const string Unreadable = "<unreadable>";

    private readonly string _root = Directory.CreateTempSubdirectory("emissary-tekton-artifacts-").FullName;
    private readonly List<string> _written = [];

    private TektonPaths Paths => new(_root);

    private TektonArtifacts Artifacts => new(Paths);

    /// <summary>getStepArtifactsPath(stepDir, "step-"+STEP): the file Go's tests write.</summary>
    private void StepArtifacts(string step, string? content)
    {
        string file = Path.Join(_root, "steps", "step-" + step, "artifacts", "provenance.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        if (content == Unreadable)
        {
            Directory.CreateDirectory(file);
        }
        else if (content is not null)
        {
            File.WriteAllText(file, content);
        }
    }

    private string Script(string name, string content)
    {
        Directory.CreateDirectory(Paths.Scripts);
        string file = Path.Join(Paths.Scripts, name);
        File.WriteAllText(file, content);
        return file;
    }

    // ---- readArtifacts, through Go()'s appendArtifactOutputs (the termination message) ----

    [Theory]
    [InlineData("readArtifact file doesn't exist, empty result, no error.", null, false)]
    [InlineData("readArtifact file exist", "", true)]
    public void TestReadArtifactsFileDoesNotExist_and_ExistNoError(string goCase, string? content, bool entry)
    {
        _ = goCase;
        string status = Path.Join(_root, "status");
        Directory.CreateDirectory(Path.Join(status, "artifacts"));
        if (content is not null)
        {
            File.WriteAllText(Path.Join(status, "artifacts", "provenance.json"), content);
        }
        var post = RunStep(status);

        string[] expected = entry ? [$"{status}/artifacts/provenance.json||5"] : [];
        post.Message.Where(e => e.Key != "StartedAt").Select(e => $"{e.Key}|{e.Value}|{e.Type}").Should().Equal(expected);
    }

    [Fact]
    public void TestReadArtifactsFileExistReadError__readArtifact_file_exist__different_on_purpose()
    {
        // Tekton: log.Fatalf, no termination message at all. Here: left out with a log line, the
        // step's own outcome and message stand (a FIFO made there would hang Go's os.ReadFile).
        string status = Path.Join(_root, "status");
        Directory.CreateDirectory(Path.Join(status, "artifacts", "provenance.json"));
        var post = RunStep(status);

        post.Message.Select(e => e.Key).Should().Equal("StartedAt");
    }

    private FakeTektonPostWriter RunStep(string status)
    {
        var journal = new List<string>();
        var clock = new FakeClock();
        var post = new FakeTektonPostWriter(journal);
        var options = new TektonStepOptions { PostFile = _root + "/out", TerminationPath = _root + "/termination", StepMetadataDir = status };
        new TektonStep(options, Paths, new FakeTektonWaiter(journal, new Dictionary<string, WaitOutcome>()),
            new FakeTektonRunner(journal, clock, new(ExitStatus.Exited(0), false, 1), TimeSpan.Zero), post, clock)
            .Go(["work"], []).Should().Be(0);
        return post;
    }

    // ---- getStepArtifactsPath, loadStepArtifacts ----

    [Fact]
    public void TestGetStepArtifactsPath__test_get_step_artifacts_path()
    {
        // getStepArtifactsPath("a", "b") == "a/b/artifacts/provenance.json": the file read for step b.
        StepArtifacts("b", """{"outputs":[{"name":"o","values":[{"uri":"u"}]}]}""");
        Artifacts.Values("$(steps.b.outputs.o)").Should().Be("""[{"uri":"u"}]""");
    }

    public static TheoryData<string, string?, bool> LoadCases => new()
    {
        { "read artifact success", Image, false },
        { "read artifact file doesn't exist, error", null, true },
        { "read artifact, mal-formatted json, error", """{\\""", true },
        { "read artifact, file cannot be read, error", Unreadable, true },
    };

    [Theory]
    [MemberData(nameof(LoadCases))]
    public void TestLoadStepArtifacts(string goCase, string? content, bool wantErr)
    {
        // loadStepArtifacts' result is seen through getArtifactValues: each artifact's values as read.
        _ = goCase;
        StepArtifacts("name", content);
        Func<string> output = () => Artifacts.Values("$(steps.name.outputs.image)");
        if (wantErr)
        {
            output.Should().Throw<TektonArtifactException>();
            return;
        }
        output().Should().Be(ImageValues);
        Artifacts.Values("$(steps.name.inputs.inputs)").Should().Be(
            """[{"digest":{"sha256":"cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"},"uri":"pkg:example.github.com/inputs"}]""");
    }

    // ---- parseArtifactTemplate ----

    [Theory]
    [InlineData("valid outputs template", "$(steps.name.outputs.aaa)", "name", true, "aaa")]
    [InlineData("valid inputs template", "$(steps.name.inputs.aaa)", "name", false, "aaa")]
    [InlineData("invalid template with artifact name, no prefix and suffix", "steps.name.outputs.aaa", null, false, null)]
    [InlineData("invalid template with 5 segments", "$(steps.name.outputs.aaa.sss)", null, false, null)]
    [InlineData("invalid template with 2 segments", "$(steps.name)", null, false, null)]
    [InlineData("invalid template concatenated with valid template", "aaa$(steps.name.outputs.aaa)", null, false, null)]
    [InlineData("invalid template segment 3 is not correct", "$(steps.name.xxxx.aaa)", null, false, null)]
    [InlineData("invalid template -- two valid template concatenation", "$(steps.name.outputs.aaa)$(steps.name.outputs.aaa)", null, false, null)]
    [InlineData("invalid template -- empty", "", null, false, null)]
    [InlineData("invalid template -- extra )", "$(steps.name.outputs.aaa))", null, false, null)]
    public void TestParseArtifactTemplate(string goCase, string input, string? step, bool outputs, string? name)
    {
        _ = goCase;
        StepArtifactReference? got = StepArtifactReference.Parse(input);
        if (step is null)
        {
            got.Should().BeNull();
            Action values = () => Artifacts.Values(input);
            values.Should().Throw<TektonArtifactException>().WithMessage(input.Length == 0 ? "template is empty" : "invalid artifact template *");
            return;
        }
        got.Should().NotBeNull();
        (got!.Step, got.Outputs, got.Name).Should().Be((step, outputs, name!));
    }

    // ---- getArtifactValues ----

    [Theory]
    [InlineData("read outputs artifact with artifact name, success", Image, "$(steps.name.outputs.image)", ImageValues)]
    [InlineData("read inputs artifact with artifact name, success", InputFirst, "$(steps.name.inputs.input)", InputValues)]
    [InlineData("read outputs artifact with artifact name, multiple outputs, success", TwoOutputs, "$(steps.name.outputs.output2)", Output2Values)]
    [InlineData("read inputs artifact with artifact name, multiple inputs, success", TwoInputs, "$(steps.name.inputs.input2)", Input2Values)]
    [InlineData("invalid template", TwoOutputs, "$(steps.name.outputs.output2.333)", null)]
    [InlineData("fail to load artifacts", Unreadable, "$(steps.name.outputs.output2.333)", null)]
    [InlineData("template not found", TwoOutputs, "$(steps.name.outputs.output3)", null)]
    public void TestGetArtifactValues(string goCase, string content, string template, string? want)
    {
        _ = goCase;
        StepArtifacts("name", content);
        Func<string> values = () => Artifacts.Values(template);
        if (want is null)
        {
            values.Should().Throw<TektonArtifactException>();
            return;
        }
        values().Should().Be(want);
    }

    // ---- applyStepArtifactSubstitutions ----

    [Fact]
    public void TestApplyStepArtifactSubstitutionsCommandSuccess__apply_substitution_to_command_from_script_file__success()
    {
        StepArtifacts("name", Image);
        string script = Script("foo.sh", "echo $(steps.name.outputs.image)");

        List<string> command = Artifacts.Substitute([script], []);

        command.Should().ContainSingle().Which.Should().NotBe(script, "the script is rewritten to a new file");
        _written.Add(command[0]);
        File.ReadAllText(command[0]).Should().Be("echo " + ImageValues);
        File.ReadAllText(script).Should().Be("echo $(steps.name.outputs.image)", "the placed script is left as it is");
    }

    [Theory]
    [InlineData("apply substitution script, fail to read artifacts", Unreadable, "foo2.sh", "echo $(steps.name.outputs.image)", null)]
    [InlineData("apply substitution to command from script file , no matches success", Image, "bar.sh", "echo 123", null)]
    [InlineData("apply substitution to inline command, success", Image, null, null, new[] { "echo", ImageValues, "|", "jq", "." })]
    [InlineData("apply substitution to inline command, fail to read, command no change", Unreadable, null, null, new[] { "echo", "$(steps.name.outputs.image)", "|", "jq", "." })]
    public void TestApplyStepArtifactSubstitutionsCommand(string goCase, string content, string? scriptFile, string? scriptContent, string[]? want)
    {
        _ = goCase;
        StepArtifacts("name", content);
        List<string> command = scriptFile is not null
            ? [Script(scriptFile, scriptContent!)]
            : ["echo", "$(steps.name.outputs.image)", "|", "jq", "."];

        List<string> got = Artifacts.Substitute([.. command], []);

        // A script whose references fail, or that has none, is run as placed (the same path).
        got.Should().Equal(want ?? [.. command]);
    }

    [Theory]
    [InlineData("apply substitution to env, no matches, no changes", Image, "bbb", "bbb")]
    [InlineData("apply substitution to env, matches found, has change", Image, "abc-$(steps.name.outputs.image)", "abc-" + ImageValues)]
    [InlineData("apply substitution to env, matches found, read artifacts failed.", Unreadable, "abc-$(steps.name.outputs.image)", "abc-$(steps.name.outputs.image)")]
    public void TestApplyStepArtifactSubstitutionsEnv(string goCase, string content, string envValue, string want)
    {
        _ = goCase;
        StepArtifacts("name", content);
        string variable = "EMISSARY_ARTIFACT_TEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, envValue);
        try
        {
            var environment = new Dictionary<string, string>();
            Artifacts.Substitute(["true"], environment);
            (environment.TryGetValue(variable, out string? changed) ? changed : envValue).Should().Be(want);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    // ---- facts of the Go code the Go tests do not pin (json.Unmarshal / json.Marshal / the regex) ----

    [Theory]
    [InlineData("""{"OUTPUTS":[{"Name":"a","VALUES":[{"URI":"u","Digest":{"b":"2","a":"1"}}]}]}""", """[{"digest":{"a":"1","b":"2"},"uri":"u"}]""")]
    [InlineData("""{"outputs":[{"name":"a"}]}""", "null")]
    [InlineData("""{"outputs":[{"name":"a","values":[]}]}""", "[]")]
    [InlineData("""{"outputs":[{"name":"a","values":[{"uri":"<&>"}]}]}""", """[{"uri":"\u003c\u0026\u003e"}]""")]
    [InlineData("""{"outputs":[{"name":"a","values":[{}],"extra":1}],"outputs":[{"name":"a","values":[{"uri":"last"}]}]}""", """[{"uri":"last"}]""")]
    public void Go_json_Unmarshal_then_Marshal_of_the_values(string file, string want)
    {
        // encoding/json: field names without regard to case, the last repeat wins, unknown fields
        // ignored; Marshal: nil slice null, map keys sorted, empty fields omitted, HTML escaped.
        StepArtifacts("s", file);
        Artifacts.Values("$(steps.s.outputs.a)").Should().Be(want);
    }

    [Fact]
    public void Go_json_Unmarshal_a_value_of_the_wrong_type_is_an_error()
    {
        StepArtifacts("s", """{"outputs":[{"name":"a","values":[{"uri":5}]}]}""");
        Action values = () => Artifacts.Values("$(steps.s.outputs.a)");
        values.Should().Throw<TektonArtifactException>().WithMessage("*cannot unmarshal*");
    }

    [Theory]
    [InlineData("a $(steps.s.outputs.a) b $(steps.s.inputs.i)!", "a [{\"uri\":\"o\"}] b [{\"uri\":\"i\"}]!")]
    [InlineData("$(steps.x) then $(steps.s.outputs.a)", "$(steps.x) then [{\"uri\":\"o\"}]")]
    [InlineData("$(steps.s.outputs.a.b) $(steps.s.results.a)", "$(steps.s.outputs.a.b) $(steps.s.results.a)")]
    public void StepArtifactRegex_finds_references_as_Go_s_FindAllStringSubmatch_does(string text, string want)
    {
        StepArtifacts("s", """{"outputs":[{"name":"a","values":[{"uri":"o"}]}],"inputs":[{"name":"i","values":[{"uri":"i"}]}]}""");
        Artifacts.Replace(text).Should().Be(want);
    }

    public void Dispose()
    {
        foreach (string file in _written)
        {
            File.Delete(file);
        }
        Directory.Delete(_root, recursive: true);
    }
}
