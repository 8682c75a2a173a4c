using System.Text.Json;
using Emissary.Tekton;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Fuzz;

/// <summary>
/// What the fuzzing campaign found (docs/fuzzing.md, "Findings"), as plain unit tests of the
/// parsers next to the regression inputs in fuzz/TARGET/regression-*: each fails on the code before
/// its fix.
/// </summary>
public sealed class FuzzFindingsTests
{
    [Theory]
    [InlineData("5555555555555555555m")] // fuzz/go-duration/regression-decimal-overflow-minutes: an int64 count of minutes
    [InlineData("9223372036854775807h")]
    [InlineData("-9999999999999999999.5us")]
    public void A_go_duration_whose_product_overflows_a_decimal_is_refused_not_thrown(string text) =>
        GoDuration.TryParse(text, out _).Should().BeFalse("Go says: time: invalid duration (the build before threw OverflowException)");

    [Theory]
    [InlineData("99999999999999999999ns")] // the build before read 79.2 s: an over-long number became decimal.MaxValue / 1e18
    [InlineData("9223372036854775809ns")]
    [InlineData("2562048h")]
    public void A_go_duration_past_int64_nanoseconds_is_refused(string text) =>
        GoDuration.TryParse(text, out _).Should().BeFalse("Go refuses more than 1<<63 - 1 ns");

    [Theory]
    [InlineData("9223372036854775807ns", long.MaxValue / 100)]
    [InlineData("-9223372036854775808ns", long.MinValue / 100)]
    [InlineData("2562047h47m16.854775807s", long.MaxValue / 100)]
    public void A_go_duration_at_the_int64_limits_is_read_as_Go_reads_it(string text, long ticks)
    {
        GoDuration.TryParse(text, out TimeSpan value).Should().BeTrue();
        value.Ticks.Should().Be(ticks);
    }

    [Fact]
    public void A_review_that_is_not_UTF8_is_a_JsonException_as_any_malformed_review_is()
    {
        // fuzz/admission/regression-invalid-utf8-in-a-review-field: JsonDocument parsed it, and
        // reading "apiVersion" threw InvalidOperationException, which no handler of bad input caught.
        byte[] body = File.ReadAllBytes(Path.Combine(BlackBox.Artifacts.RepoRoot, "fuzz/admission/regression-invalid-utf8-in-a-review-field"));
        FluentActions.Invoking(() =>
        {
            using JsonDocument document = AdmissionReview.ParseBody(body);
            AdmissionReview.Read(document.RootElement);
        }).Should().Throw<JsonException>().WithMessage("the review is not UTF-8");
    }

    [Fact]
    public void A_JSON_manifest_that_is_not_UTF8_is_a_read_error_with_its_position()
    {
        // What the webhook hands the rewriter: the pod's bytes as they came (fuzz/admission/regression-invalid-utf8-in-the-pod).
        byte[] pod = [.. "{\"kind\": \"Pod\",\n \"metadata\": {\"name\": \""u8, 0xC3, (byte)'(', .. "\"}}"u8];
        FluentActions.Invoking(() => JsonManifests.Read(pod, "pod.json")).Should().Throw<ManifestReadException>()
            .WithMessage("pod.json: line 2, column 24: malformed JSON: not UTF-8");
    }

    [Theory]
    [InlineData("&b [*b]: 1\n", "line 1, column 5: malformed YAML: alias *b refers to a node that contains it or comes after it")] // fuzz/manifest-rewrite/regression-alias-cycle-as-mapping-key
    [InlineData("a: &b [x, *b]\n", "line 1, column 11: malformed YAML: alias *b refers to a node that contains it or comes after it")]
    [InlineData("a: *b\nb: &b 1\n", "line 1, column 4: malformed YAML: alias *b refers to a node that contains it or comes after it")]
    public void A_YAML_alias_into_its_own_node_is_a_read_error_not_a_stack_overflow(string yaml, string message) =>
        // The build before resolved the alias to the node that holds it: a cycle, which a sequence
        // used as a mapping key hashes into a stack overflow (the process dies; so does this test).
        FluentActions.Invoking(() => ManifestSet.Read(yaml, "pod.yaml")).Should().Throw<ManifestReadException>().WithMessage("pod.yaml: " + message);

    [Fact]
    public void Aliases_to_nodes_before_them_still_read()
    {
        ManifestSet set = ManifestSet.Read("x: &b [1]\ny: *b\nz: &b 2\nw: *b\n", "pod.yaml");
        set.Documents.Should().HaveCount(1);
    }

    [Fact]
    public async Task A_NUL_in_YAML_is_a_read_error_at_once()
    {
        // fuzz/manifest-rewrite/regression-nul-in-a-directive-at-1024: YamlDotNet's scanner spent 36 s on it.
        string yaml = "%0\0" + new string(' ', 1021);
        Task<Exception> read = Task.Run(() => Record.Exception(() => EntrypointIndex.Parse(yaml, "entrypoints.yaml")));
        (await read.WaitAsync(TimeSpan.FromSeconds(5))).Should().BeOfType<ManifestReadException>()
            .Which.Message.Should().Be("entrypoints.yaml: line 1, column 3: malformed YAML: a NUL character (YAML allows none)");
    }
}
