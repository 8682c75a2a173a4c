using Emissary.Tools.PodSpec;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>Reading and writing manifest streams: YAML and JSON, documents, objects, kinds.</summary>
public sealed class ManifestSetTests
{
    [Fact]
    public void A_YAML_stream_is_read_document_by_document_and_empty_documents_are_dropped()
    {
        string text = Text("""
            ---
            # Source: chart/templates/empty.yaml
            ---
            kind: ConfigMap
            metadata: {name: a}
            ---
            kind: Secret
            metadata: {name: b}
            ---
            """);

        ManifestSet set = ManifestSet.Read(text, "in.yaml");

        set.Format.Should().Be(ManifestFormat.Yaml);
        set.Documents.Select(d => d.Objects.Single().DisplayName).Should().Equal("configmap/a", "secret/b");
        set.Documents.Select(d => d.Number).Should().Equal(2, 3);
        set.Write().Should().Be(Text("""
            kind: ConfigMap
            metadata: {name: a}
            ---
            kind: Secret
            metadata: {name: b}
            """));
    }

    [Fact]
    public void Writing_back_keeps_field_order_values_and_scalar_styles_but_not_comments()
    {
        string text = Text("""
            zeta: 1
            alpha: 'single'
            mid: "double"
            block: |
              line one
              line two
            folded: >-
              a b
            flow: [a, "b", 3]
            nothing: null
            anchored: &x {k: v}
            alias: *x
            """);

        string written = ManifestSet.Read("# a comment\n" + text, "f").Write();

        written.Should().Be(text);
    }

    [Fact]
    public void Long_lines_are_not_folded()
    {
        string text = "key: " + new string('x', 100) + " " + new string('y', 100) + "\n";

        ManifestSet.Read(text, "f").Write().Should().Be(text);
    }

    [Fact]
    public void JSON_is_detected_by_its_first_character_and_written_back_as_JSON_in_the_same_order()
    {
        string json = """
             {"kind": "ConfigMap", "z": 1.5e3, "a": [true, false, null, "3", -0.25], "s": "<&>é"}
            """;

        ManifestSet set = ManifestSet.Read(json, "f");

        set.Format.Should().Be(ManifestFormat.Json);
        set.Write().Should().Be(Text("""
            {
              "kind": "ConfigMap",
              "z": 1.5e3,
              "a": [
                true,
                false,
                null,
                "3",
                -0.25
              ],
              "s": "<&>é"
            }
            """));
    }

    [Fact]
    public void Several_concatenated_JSON_values_are_several_documents()
    {
        ManifestSet set = ManifestSet.Read("{\"kind\":\"A\",\"metadata\":{\"name\":\"x\"}}\n{\"kind\":\"B\"}", "f");

        set.Documents.Should().HaveCount(2);
        set.Documents[0].Objects.Single().DisplayName.Should().Be("a/x");
        set.Documents[1].Objects.Single().DisplayName.Should().Be("document 2");
        set.Write().Should().Be("{\n  \"kind\": \"A\",\n  \"metadata\": {\n    \"name\": \"x\"\n  }\n}\n{\n  \"kind\": \"B\"\n}\n");
    }

    [Fact]
    public void Several_sets_are_written_as_JSON_only_when_all_of_them_are_JSON()
    {
        ManifestSet json = ManifestSet.Read("{\"kind\": \"A\"}", "a.json");
        ManifestSet yaml = ManifestSet.Read("kind: B\n", "b.yaml");

        ManifestSet.Write([json, json]).Should().Be("{\n  \"kind\": \"A\"\n}\n{\n  \"kind\": \"A\"\n}\n");
        ManifestSet.Write([json, yaml]).Should().Be("\"kind\": \"A\"\n---\nkind: B\n");
    }

    [Fact]
    public void Malformed_YAML_is_reported_with_its_line_and_column()
    {
        var read = () => ManifestSet.Read("a: 1\nb:\n  - x\n c: d\n", "bad.yaml");

        read.Should().Throw<ManifestReadException>()
            .WithMessage("bad.yaml: line 4, column 2: malformed YAML: while parsing a block mapping, did not find expected key");
    }

    [Fact]
    public void Malformed_YAML_on_stdin_is_reported_as_stdin()
    {
        var read = () => ManifestSet.Read("a: 1\na: 2\n", ManifestSet.StandardInput);

        read.Should().Throw<ManifestReadException>().WithMessage("stdin: line 2, column 1: malformed YAML: duplicate key a");
    }

    [Theory]
    [InlineData("flow")]
    [InlineData("block")]
    public void YAML_nested_deeper_than_the_limit_is_one_error_naming_where_and_the_limit_itself_is_read(string style)
    {
        static string Nested(int depth, string style) => style == "flow"
            ? "a: " + new string('[', depth - 1) + new string(']', depth - 1) + "\n"
            : string.Concat(Enumerable.Range(0, depth).Select(i => new string(' ', 2 * i) + "k:\n")) + new string(' ', 2 * depth) + "v\n";

        ManifestSet.Read(Nested(YamlManifests.MaxDepth, style), "ok.yaml").Documents.Should().ContainSingle();
        var read = () => ManifestSet.Read(Nested(YamlManifests.MaxDepth + 1, style), "deep.yaml");

        string where = style == "flow" ? "line 1, column 103" : "line 101, column 201";
        read.Should().Throw<ManifestReadException>().WithMessage($"deep.yaml: {where}: malformed YAML: nested more than 100 levels deep");
    }

    [Fact]
    public void A_YAML_stream_is_read_one_document_at_a_time_and_a_malformed_one_stops_it_where_it_is()
    {
        var reader = new YamlDocumentReader("a: 1\n---\n---\nb: [2\n---\nc: 3\n", "f");

        ((YamlMappingNode)reader.Next()!).GetText("a").Should().Be("1");
        reader.Next().Should().BeOfType<YamlScalarNode>("an empty document is a null scalar");
        var next = () => reader.Next();
        next.Should().Throw<ManifestReadException>().WithMessage("f: line 5, column 1: malformed YAML*");
        reader.Next().Should().BeNull("nothing is read after an error");
    }

    [Fact]
    public void Rewriting_reports_a_source_that_cannot_be_read_as_its_one_line_and_writes_nothing()
    {
        string pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: x, command: [a], timeout: soon}]\n";

        RewriteResult result = ManifestRewriter.Rewrite([("a.yaml", pod), ("b.yaml", pod + "---\nx: [\n")], new RewriteSettings());

        result.Output.Should().BeEmpty();
        result.Errors.Should().HaveCount(2);
        result.Errors[0].Should().StartWith("b.yaml: line 8, column 1: malformed YAML");
        result.Errors[1].Should().StartWith("a.yaml: pod/p: spec.containers[0].timeout:");
    }

    [Fact]
    public void YAML_nested_far_too_deep_is_refused_before_it_is_built()
    {
        // ~75,000 levels crashed the process with a stack overflow while YamlDotNet built its nodes.
        string text = "a: " + new string('[', 200_000) + new string(']', 200_000) + "\n";

        var read = () => ManifestSet.Read(text, "deep.yaml");

        read.Should().Throw<ManifestReadException>().WithMessage("deep.yaml: line 1, column *: malformed YAML: nested more than 100 levels deep");
    }

    [Fact]
    public void A_YAML_input_that_makes_the_scanner_give_up_is_still_reported_with_a_position()
    {
        var read = () => ManifestSet.Read("a: [1, 2\nb: 3\n", "f");

        read.Should().Throw<ManifestReadException>().WithMessage("f: line 2, column 1: malformed YAML");
    }

    [Theory]
    [InlineData("{\"a\": 1,,}", "f: line 1, column 9: malformed JSON")]
    [InlineData("{\n  \"a\": 1,\n  \"a\": 2\n}", "f: line 3, column 3: malformed JSON: duplicate key \"a\"")]
    [InlineData("[1, 2", "f: line 1, column 6: malformed JSON")]
    public void Malformed_JSON_is_reported_with_its_line_and_column(string json, string message)
    {
        var read = () => ManifestSet.Read(json, "f");

        read.Should().Throw<ManifestReadException>().WithMessage(message);
    }

    [Fact]
    public void The_items_of_a_List_are_objects_of_their_own()
    {
        string text = Text("""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: a}
            - kind: Pod
            """);

        ManifestObject[] objects = ManifestSet.Read(text, "f").Documents.Single().Objects.ToArray();

        objects.Select(o => o.DisplayName).Should().Equal("pod/a", "document 1");
        objects.Select(o => o.PathPrefix).Should().Equal("", "items[1].");
        objects.Should().OnlyContain(o => o.HasPod);
    }

    [Theory]
    [InlineData("v1", "Pod", "spec")]
    [InlineData("v1", "PodTemplate", "template.spec")]
    [InlineData("apps/v1", "Deployment", "spec.template.spec")]
    [InlineData("apps/v1", "StatefulSet", "spec.template.spec")]
    [InlineData("apps/v1", "DaemonSet", "spec.template.spec")]
    [InlineData("apps/v1", "ReplicaSet", "spec.template.spec")]
    [InlineData("batch/v1", "Job", "spec.template.spec")]
    [InlineData("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec")]
    [InlineData("batch/v1beta1", "CronJob", "spec.jobTemplate.spec.template.spec")]
    [InlineData(null, "Job", "spec.template.spec")]
    public void The_kinds_that_carry_a_pod_say_where_its_spec_is(string? apiVersion, string kind, string specPath)
    {
        string text = (apiVersion is null ? "" : $"apiVersion: {apiVersion}\n") + $"kind: {kind}\nmetadata: {{name: x}}\n";

        ManifestObject manifest = ManifestSet.Read(text, "f").Documents.Single().Objects.Single();

        manifest.HasPod.Should().BeTrue();
        manifest.PodSpecPath.Should().Be(specPath);
        manifest.PodMetadataPath.Should().Be(specPath[..^"spec".Length] + "metadata");
    }

    [Theory]
    [InlineData("v1", "ConfigMap")]
    [InlineData("v1", "Service")]
    [InlineData("batch.volcano.sh/v1alpha1", "Job")]
    [InlineData("example.com/v1", "Pod")]
    [InlineData("apps/v1", "Pod")]
    public void Other_kinds_and_look_alikes_from_other_API_groups_carry_no_pod(string apiVersion, string kind)
    {
        ManifestSet.Read($"apiVersion: {apiVersion}\nkind: {kind}\n", "f").Documents.Single().Objects.Single().HasPod.Should().BeFalse();
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("-1", true)]
    [InlineData("1.5", true)]
    [InlineData("1e10", true)]
    [InlineData("-0.5E-3", true)]
    [InlineData("01", false)]
    [InlineData("1.", false)]
    [InlineData(".5", false)]
    [InlineData("+1", false)]
    [InlineData("0x10", false)]
    [InlineData("1_000", false)]
    [InlineData("", false)]
    public void Only_JSON_numbers_are_written_as_JSON_numbers(string text, bool isNumber)
    {
        JsonManifests.IsJsonNumber(text).Should().Be(isNumber);
    }

    [Theory]
    [InlineData("3", ScalarStyle.DoubleQuoted)]
    [InlineData("30s", ScalarStyle.DoubleQuoted)]
    [InlineData("-1", ScalarStyle.DoubleQuoted)]
    [InlineData(".5", ScalarStyle.DoubleQuoted)]
    [InlineData("true", ScalarStyle.DoubleQuoted)]
    [InlineData("Yes", ScalarStyle.DoubleQuoted)]
    [InlineData("off", ScalarStyle.DoubleQuoted)]
    [InlineData("null", ScalarStyle.DoubleQuoted)]
    [InlineData("~", ScalarStyle.DoubleQuoted)]
    [InlineData("", ScalarStyle.DoubleQuoted)]
    [InlineData("--name", ScalarStyle.Plain)]
    [InlineData("-", ScalarStyle.Plain)]
    [InlineData("run", ScalarStyle.Plain)]
    [InlineData("/var/run/emissary-bin/", ScalarStyle.Plain)]
    public void New_strings_are_quoted_when_a_plain_scalar_would_read_back_as_something_else(string value, ScalarStyle style)
    {
        YamlScalarNode node = YamlNodes.String(value);
        string yaml = YamlManifests.Write([new YamlMappingNode { { "k", node } }]);

        node.Style.Should().Be(style);
        var back = (YamlScalarNode)((YamlMappingNode)ManifestSet.Read(yaml, "f").Documents.Single().Root).Get("k")!;
        back.Value.Should().Be(value);
        // The emitter may still quote a plain one ("-" becomes '-'); a double-quoted one stays a string.
        (back.Style != ScalarStyle.Plain).Should().Be(style == ScalarStyle.DoubleQuoted || value == "-", "{0}", yaml);
    }
}
