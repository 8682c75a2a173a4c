using System.Text;
using System.Text.Json;
using Emissary.Results;

namespace Emissary.Tests.Unit.Results;

public sealed class TerminationMessageTests
{
    private static readonly DateTimeOffset Started = new(2026, 11, 28, 7, 4, 37, 123, TimeSpan.Zero);
    private static readonly DateTimeOffset Finished = new(2026, 11, 28, 9, 4, 38, 456, TimeSpan.FromHours(2)); // 07:04:38.456Z

    private static readonly StepReport Report = new("build", 0, StepReasons.Completed, Started, Finished);

    private static Result R(string name, string value) => new(name, Encoding.UTF8.GetBytes(value));

    private static string Text(Rendering rendering) => Encoding.UTF8.GetString(rendering.Bytes);

    /// <summary>Printable ASCII that DEFLATE cannot shrink below its base64 growth: the message stays plain or does not fit at all.</summary>
    internal static string Noise(int length, int seed = 7)
    {
        // Letters, digits and punctuation without the two JSON escapes: one JSON byte per character.
        const string Alphabet = "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~";
        var random = new Random(seed);
        return string.Create(length, random, (span, r) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[r.Next(Alphabet.Length)];
            }
        });
    }

    [Fact]
    public void Renders_the_emissary_format_exactly()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("digest", "sha256:abc")], TerminationFormat.Emissary, 4096);

        Text(rendering).Should().Be(
            """{"name":"build","exitCode":0,"reason":"Completed","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"2026-11-28T07:04:38.456Z","results":{"digest":"sha256:abc"}}""");
        rendering.TooLarge.Should().BeFalse();
        rendering.Problem.Should().BeNull();
    }

    [Fact]
    public void Omits_results_when_there_are_none()
    {
        Rendering rendering = TerminationMessage.Render(Report with { ExitCode = 2, Reason = StepReasons.Error }, [], TerminationFormat.Emissary, 4096);

        Text(rendering).Should().Be(
            """{"name":"build","exitCode":2,"reason":"Error","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"2026-11-28T07:04:38.456Z"}""");
    }

    [Fact]
    public void Renders_the_tekton_format_exactly_results_first_then_StartedAt_ExitCode_Reason()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("digest", "sha256:abc")], TerminationFormat.Tekton, 4096);

        Text(rendering).Should().Be(
            """[{"key":"digest","value":"sha256:abc","type":1},{"key":"StartedAt","value":"2026-11-28T07:04:37.123Z","type":3},{"key":"ExitCode","value":"0","type":3},{"key":"Reason","value":"Completed","type":3}]""");
    }

    [Fact]
    public void Tekton_StartedAt_has_exactly_three_fraction_digits_as_tektons_time_parse_layout_requires()
    {
        var whole = Report with { StartedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234) };

        using JsonDocument doc = JsonDocument.Parse(TerminationMessage.Render(whole, [], TerminationFormat.Tekton, 4096).Bytes);

        doc.RootElement.EnumerateArray().Single(e => e.GetProperty("key").GetString() == "StartedAt")
            .GetProperty("value").GetString().Should().Be("2026-01-02T03:04:05.000Z");
    }

    [Fact]
    public void Sorts_results_by_name()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("b", "2"), R("a", "1"), R("B", "0")], TerminationFormat.Emissary, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        doc.RootElement.GetProperty("results").EnumerateObject().Select(p => p.Name).Should().Equal("B", "a", "b");
    }

    public static TheoryData<string, byte[]> AwkwardValues => new()
    {
        { "quotes and backslash", Encoding.UTF8.GetBytes("say \"hi\" \\ C:\\path") },
        { "newlines and tabs", Encoding.UTF8.GetBytes("line1\nline2\r\n\tindented\n") },
        { "control characters", [0x01, 0x07, 0x08, 0x0C, 0x1B, 0x1F, 0x7F] },
        { "NUL", [(byte)'a', 0, (byte)'b'] },
        { "emoji and non-Latin", Encoding.UTF8.GetBytes("build ✅ 🚀 ünïcødé 日本語 \u2028") },
        { "HTML-sensitive", Encoding.UTF8.GetBytes("<script>&'+</script>") },
        { "empty", [] },
    };

    [Theory]
    [MemberData(nameof(AwkwardValues))]
    public void Round_trips_awkward_valid_UTF8_values_in_the_emissary_format(string what, byte[] value)
    {
        Rendering rendering = TerminationMessage.Render(Report, [new Result("v", value)], TerminationFormat.Emissary, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        Encoding.UTF8.GetBytes(doc.RootElement.GetProperty("results").GetProperty("v").GetString()!).Should().Equal(value, what);
        rendering.Problem.Should().BeNull();
    }

    [Theory]
    [MemberData(nameof(AwkwardValues))]
    public void Round_trips_awkward_valid_UTF8_values_in_the_tekton_format(string what, byte[] value)
    {
        Rendering rendering = TerminationMessage.Render(Report, [new Result("v", value)], TerminationFormat.Tekton, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        JsonElement entry = doc.RootElement[0];
        entry.GetProperty("key").GetString().Should().Be("v");
        Encoding.UTF8.GetBytes(entry.GetProperty("value").GetString()!).Should().Equal(value, what);
        entry.GetProperty("type").GetInt32().Should().Be(1);
    }

    [Fact]
    public void Escapes_only_what_JSON_requires_so_the_budget_is_not_wasted()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("v", "<&'+🚀é\"\\\n\u0001")], TerminationFormat.Emissary, 4096);

        Text(rendering).Should().Contain("""
            "v":"<&'+🚀é\"\\\n\u0001"
            """);
    }

    [Fact]
    public void Writes_invalid_UTF8_losslessly_as_a_base64_object_in_the_emissary_format()
    {
        byte[] value = [(byte)'o', (byte)'k', 0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80];

        Rendering rendering = TerminationMessage.Render(Report, [new Result("bin", value), R("text", "t")], TerminationFormat.Emissary, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        JsonElement results = doc.RootElement.GetProperty("results");
        Convert.FromBase64String(results.GetProperty("bin").GetProperty("base64").GetString()!).Should().Equal(value);
        results.GetProperty("text").GetString().Should().Be("t");
        rendering.Problem.Should().BeNull();
    }

    [Fact]
    public void Writes_invalid_UTF8_as_base64_text_with_a_warning_in_the_tekton_format()
    {
        byte[] value = [0xFF, 0xFE, 0x00, 0x41];

        Rendering rendering = TerminationMessage.Render(Report, [new Result("bin", value)], TerminationFormat.Tekton, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        Convert.FromBase64String(doc.RootElement[0].GetProperty("value").GetString()!).Should().Equal(value);
        rendering.Problem.Should().Be("result 'bin' is not valid UTF-8: written base64-encoded");
        rendering.TooLarge.Should().BeFalse();
    }

    [Theory]
    [InlineData("Emissary")]
    [InlineData("Tekton")]
    public void Results_over_budget_are_left_out_entirely_with_reason_ResultsTooLarge(string formatName)
    {
        TerminationFormat format = Enum.Parse<TerminationFormat>(formatName);
        Result[] results = [R("small", "s"), R("big", Noise(6000))];

        Rendering rendering = TerminationMessage.Render(Report, results, format, 4096);

        rendering.TooLarge.Should().BeTrue();
        rendering.Bytes.Length.Should().BeLessThanOrEqualTo(4096);
        Text(rendering).Should().NotContain("small").And.NotContain("big").And.Contain("\"ResultsTooLarge\"");
        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        rendering.Problem.Should().MatchRegex(format == TerminationFormat.Emissary
            ? @"^results 'big' \(6000 bytes\), 'small' \(1 byte\): the termination message needs \d+ bytes \(\d+ compressed\), budget is 4096: written without results, reason ResultsTooLarge$"
            : @"^results 'big' \(6000 bytes\), 'small' \(1 byte\): the termination message needs \d+ bytes, budget is 4096: written without results, reason ResultsTooLarge$");
    }

    [Fact]
    public void ResultsTooLarge_keeps_the_exit_code_and_times()
    {
        Rendering rendering = TerminationMessage.Render(Report with { ExitCode = 3 }, [R("big", Noise(500))], TerminationFormat.Emissary, 300);

        Text(rendering).Should().Be(
            """{"name":"build","exitCode":3,"reason":"ResultsTooLarge","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"2026-11-28T07:04:38.456Z"}""");
    }

    [Theory]
    [InlineData("Emissary")]
    [InlineData("Tekton")]
    public void A_message_exactly_at_the_budget_fits_and_one_byte_less_does_not(string formatName)
    {
        TerminationFormat format = Enum.Parse<TerminationFormat>(formatName);
        Result[] results = [R("digest", "sha256:" + Noise(64))];
        int exact = TerminationMessage.Render(Report, results, format, 4096).Bytes.Length;

        Rendering atBudget = TerminationMessage.Render(Report, results, format, exact);
        Rendering under = TerminationMessage.Render(Report, results, format, exact - 1);

        atBudget.TooLarge.Should().BeFalse();
        atBudget.Bytes.Length.Should().Be(exact);
        Text(atBudget).Should().Contain("sha256:");
        under.TooLarge.Should().BeTrue();
        under.Bytes.Length.Should().BeLessThanOrEqualTo(exact - 1);
        Text(under).Should().NotContain("sha256:");
        under.Problem.Should().Contain($"needs {exact} bytes").And.Contain($"budget is {exact - 1}");
    }

    [Fact]
    public void The_size_reported_counts_escapes()
    {
        // 100 newlines are 100 bytes of value but 200 bytes of JSON.
        Result[] results = [R("v", new string('\n', 100))];
        int exact = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096).Bytes.Length;

        exact.Should().Be(Text(TerminationMessage.Render(Report, [R("v", "")], TerminationFormat.Emissary, 4096)).Length + 200);
        Text(TerminationMessage.Render(Report, results, TerminationFormat.Emissary, exact - 1)).Should().StartWith("emz:", "one byte over the budget, the 100 escaped newlines compress");
    }

    [Theory]
    [InlineData("Emissary", 128, """{"name":"build","exitCode":0,"reason":"Completed","startedAt":"2026-11-28T07:04:37.123Z"}""", "finishedAt")]
    [InlineData("Emissary", 88, """{"name":"build","exitCode":0,"reason":"Completed"}""", "finishedAt, startedAt")]
    [InlineData("Emissary", 49, """{"exitCode":0,"reason":"Completed"}""", "finishedAt, startedAt, name")]
    [InlineData("Emissary", 20, """{"exitCode":0}""", "finishedAt, startedAt, name, reason")]
    [InlineData("Emissary", 13, "{}", "finishedAt, startedAt, name, reason, exitCode")]
    [InlineData("Emissary", 2, "{}", "finishedAt, startedAt, name, reason, exitCode")]
    [InlineData("Tekton", 150, """[{"key":"ExitCode","value":"0","type":3},{"key":"Reason","value":"Completed","type":3}]""", "StartedAt")]
    [InlineData("Tekton", 86, """[{"key":"ExitCode","value":"0","type":3}]""", "StartedAt, Reason")]
    [InlineData("Tekton", 40, "[]", "StartedAt, Reason, ExitCode")]
    public void A_budget_too_small_for_the_bare_message_leaves_out_fields_least_useful_first(string formatName, int budget, string expected, string leftOut)
    {
        TerminationFormat format = Enum.Parse<TerminationFormat>(formatName);
        Rendering rendering = TerminationMessage.Render(Report, [], format, budget);

        Text(rendering).Should().Be(expected);
        rendering.Bytes.Length.Should().BeLessThanOrEqualTo(budget);
        rendering.TooLarge.Should().BeFalse("there were no results to leave out");
        rendering.Problem.Should().MatchRegex($@"^termination message needs \d+ bytes even without results, budget is {budget}: left out {leftOut}$");
    }

    [Fact]
    public void A_tiny_budget_with_results_reports_both_problems_in_one_line()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("digest", "sha256:abc")], TerminationFormat.Emissary, 50);

        Text(rendering).Should().Be("""{"exitCode":0,"reason":"ResultsTooLarge"}""");
        rendering.TooLarge.Should().BeTrue();
        rendering.Problem.Should().NotContain("\n").And.Contain("written without results").And.Contain("left out finishedAt, startedAt, name");
    }

    [Fact]
    public void A_result_given_twice_is_written_once_with_the_last_value_and_a_note()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("digest", "first"), R("other", "o"), R("digest", "second")], TerminationFormat.Emissary, 4096);

        Text(rendering).Should().EndWith("""
            "results":{"digest":"second","other":"o"}}
            """);
        rendering.Problem.Should().Be("result 'digest' was given twice: the last value is used");
    }

    [Fact]
    public void A_budget_below_two_bytes_is_rejected()
    {
        var render = () => TerminationMessage.Render(Report, [], TerminationFormat.Emissary, 1);

        render.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void A_step_name_with_awkward_characters_is_escaped()
    {
        Rendering rendering = TerminationMessage.Render(Report with { Name = "we\"ird\n\u0000name" }, [], TerminationFormat.Emissary, 4096);

        using JsonDocument doc = JsonDocument.Parse(rendering.Bytes);
        doc.RootElement.GetProperty("name").GetString().Should().Be("we\"ird\n\u0000name");
    }

    [Theory]
    [InlineData("Emissary")]
    [InlineData("Tekton")]
    public void Is_always_valid_JSON_within_budget_whatever_the_inputs(string formatName)
    {
        TerminationFormat format = Enum.Parse<TerminationFormat>(formatName);
        var random = new Random(42);
        for (int i = 0; i < 300; i++)
        {
            int budget = random.Next(2, 600);
            var results = new List<Result>();
            for (int r = random.Next(0, 4); r > 0; r--)
            {
                var value = new byte[random.Next(0, 200)];
                random.NextBytes(value);
                results.Add(new Result($"r{r}", value));
            }
            var report = Report with { Name = new string('n', random.Next(1, 100)), ExitCode = random.Next(0, 256) };

            Rendering rendering = TerminationMessage.Render(report, results, format, budget);

            rendering.Bytes.Length.Should().BeLessThanOrEqualTo(budget);
            var parse = () => JsonDocument.Parse(format == TerminationFormat.Emissary ? TerminationMessage.Decode(rendering.Bytes)! : rendering.Bytes).Dispose();
            parse.Should().NotThrow("budget {0}: {1}", budget, Text(rendering));
        }
    }
}
