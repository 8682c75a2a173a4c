using System.Text;
using Emissary.Tekton;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit;

/// <summary>The Tekton mode's parsers and message writer, against Go's and Tekton's documented behaviour.</summary>
public sealed class TektonUnitTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData("300ms", 300)]
    [InlineData("1.5s", 1500)]
    [InlineData("1h2m3.5s", 3_723_500)]
    [InlineData("1h0m0s", 3_600_000)]
    [InlineData("-1s", -1000)]
    [InlineData("+2m", 120_000)]
    [InlineData("1.s", 1000)]
    [InlineData(".5s", 500)]
    [InlineData("2\u00b5s", 0.002)]
    public void Go_durations_parse_as_time_ParseDuration_does(string text, double milliseconds)
    {
        GoDuration.TryParse(text, out TimeSpan value).Should().BeTrue();
        value.TotalMilliseconds.Should().BeApproximately(milliseconds, 0.0001);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("1")]
    [InlineData("s")]
    [InlineData(".s")]
    [InlineData("1d")]
    [InlineData("1 s")]
    [InlineData("3000000h")]
    [InlineData("-")]
    public void Go_durations_that_Go_rejects_are_rejected(string text) =>
        GoDuration.TryParse(text, out _).Should().BeFalse();

    private static readonly GoFlag[] Flags =
    [
        new("s", GoFlagKind.String, "a string"),
        new("b", GoFlagKind.Bool, "a bool"),
        new("d", GoFlagKind.Duration, "a duration"),
        new("r", GoFlagKind.Repeated, "repeatable"),
    ];

    [Fact]
    public void Go_flag_syntax_values_bools_and_the_end_of_flags()
    {
        GoFlagValues v = GoFlags.Parse(Flags, ["-s", "x", "--d=1s", "-r=a=b", "--r", "c=d", "-b", "rest", "-s", "y"]);
        v.String("s").Should().Be("x");
        v.String("d").Should().Be("1s");
        v.All("r").Should().Equal("a=b", "c=d");
        v.Bool("b").Should().BeTrue();
        v.Positional.Should().Equal("rest", "-s", "y");

        GoFlags.Parse(Flags, ["-b", "false"]).Positional.Should().Equal("false"); // a bool takes a value only with '='
        GoFlags.Parse(Flags, ["-b=false"]).Bool("b").Should().BeFalse();
        GoFlags.Parse(Flags, ["--", "-s"]).Positional.Should().Equal("-s");
        GoFlags.Parse(Flags, ["-", "x"]).Positional.Should().Equal("-", "x");
        GoFlags.Parse(Flags, ["-s", ""]).String("s").Should().Be("");
        GoFlags.Parse(Flags, ["-help"]).HelpRequested.Should().BeTrue();
    }

    [Theory]
    [InlineData("flag provided but not defined: -x", "-x")]
    [InlineData("flag needs an argument: -s", "-s")]
    [InlineData("bad flag syntax: -=x", "-=x")]
    [InlineData("invalid boolean value \"yes\" for -b: parse error", "-b=yes")]
    [InlineData("invalid value \"10\" for flag -d: parse error", "-d", "10")]
    public void Go_flag_errors_have_Gos_text(string message, params string[] args) =>
        FluentActions.Invoking(() => GoFlags.Parse(Flags, args)).Should().Throw<GoFlagException>().WithMessage(message);

    [Fact]
    public void The_command_line_is_split_at_the_first_double_dash_unless_it_comes_first()
    {
        var (before, after) = TektonCommandLine.Split(["-entrypoint", "sh", "--", "-c", "--", "x"]);
        before.Should().Equal("-entrypoint", "sh");
        after.Should().Equal("-c", "--", "x");
        var (flags, command) = TektonCommandLine.Split(["--", "a"]);
        flags.Should().Equal("--", "a");
        command.Should().BeEmpty();
    }

    [Fact]
    public void The_message_is_Tektons_array_and_the_checker_reads_it_back()
    {
        byte[] bytes = TektonTerminationMessage.Render(
            [new("commit", "abc\n\"q\"", 1), new("StartedAt", "2026-08-20T10:00:05.123Z", 3), new("commit", "later", 1)], compress: false)!;
        Encoding.UTF8.GetString(bytes).Should().Be(
            "[{\"key\":\"commit\",\"value\":\"abc\\n\\\"q\\\"\",\"type\":1},{\"key\":\"StartedAt\",\"value\":\"2026-08-20T10:00:05.123Z\",\"type\":3},{\"key\":\"commit\",\"value\":\"later\",\"type\":1}]");
        TektonMessageChecker.Check(bytes)["commit"].Value.Should().Be("later", "the last entry of a key wins");
    }

    [Fact]
    public void Write_escapes_as_json_Marshal_does_html_characters_and_line_separators_included()
    {
        // pkg/termination/write.go marshals with encoding/json: HTMLEscape on, \u2028/\u2029 escaped, other non-ASCII as is.
        byte[] bytes = TektonTerminationMessage.Render([new("k", "<a href=\"x\">&\u2028\u2029\u00e9\U0001F600\b\f\u0001", 1)], compress: false)!;
        Encoding.UTF8.GetString(bytes).Should().Be(
            "[{\"key\":\"k\",\"value\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u2028\\u2029\u00e9\U0001F600\\b\\f\\u0001\",\"type\":1}]");
        // 683 '&' are 4098 escaped bytes of value: over the limit, as in Tekton.
        TektonTerminationMessage.Render([new("k", new string('&', 683), 1)], compress: false).Should().BeNull();
    }

    [Fact]
    public void Compression_is_used_only_when_it_is_shorter_and_the_limit_applies_after_it()
    {
        // Tekton's own example: a 108-byte message is written plain (compressed it would be longer).
        TektonEntry[] small = [new("commit", "abc123", 1), new("StartedAt", "2026-08-20T10:00:05.123Z", 3)];
        Encoding.UTF8.GetString(TektonTerminationMessage.Render(small, compress: true)!).Should().StartWith("[");

        TektonEntry[] big = Enumerable.Range(0, 40).Select(i => new TektonEntry($"r{i}", new string('z', 200), 1)).ToArray();
        TektonTerminationMessage.Render(big, compress: false).Should().BeNull("8 KB of JSON does not fit 4096 bytes");
        byte[] compressed = TektonTerminationMessage.Render(big, compress: true)!;
        compressed.Length.Should().BeLessThanOrEqualTo(4096);
        TektonMessageChecker.Check(compressed).Should().HaveCount(40);
        TektonTerminationMessage.TryParse(compressed, out var back).Should().BeTrue();
        back.Should().Equal(big);
    }

    [Theory]
    [InlineData("[\"a\",\"b\"]", null, "a,b", null)]
    [InlineData("{\"k\":\"v\"}", null, null, "k=v")]
    [InlineData("\"quoted\"", "quoted", null, null)]
    [InlineData("raw text\n", "raw text\n", null, null)]
    [InlineData("[1,2]", "[1,2]", null, null)]
    public void Step_result_values_are_read_as_Tektons_ResultValue(string content, string? text, string? array, string? obj)
    {
        var value = TektonResultValue.Parse(Encoding.UTF8.GetBytes(content));
        value.String.Should().Be(text);
        (value.Array is null ? null : string.Join(',', value.Array)).Should().Be(array);
        (value.Object is null ? null : string.Join(',', value.Object.Select(p => $"{p.Key}={p.Value}"))).Should().Be(obj);
    }

    [Fact]
    public void When_expressions_in_and_notin_and_CEL_detection()
    {
        var when = TektonWhenExpressions.Parse("[{\"input\":\"a\",\"operator\":\"in\",\"values\":[\"a\",\"b\"]},{\"input\":\"c\",\"operator\":\"notin\",\"values\":[\"a\"]}]");
        TektonWhenExpressions.AllowsExecution(when, out _).Should().BeTrue();
        TektonWhenExpressions.AllowsExecution(TektonWhenExpressions.Parse("[{\"input\":\"a\",\"operator\":\"notin\",\"values\":[\"a\"]}]"), out _).Should().BeFalse();
        TektonWhenExpressions.AllowsExecution(TektonWhenExpressions.Parse("[{\"cel\":\"1 == 1\"}]"), out string? error).Should().BeTrue();
        error.Should().BeNull();
        TektonWhenExpressions.Parse("null").Should().BeEmpty();
        FluentActions.Invoking(() => TektonWhenExpressions.Parse("{")).Should().Throw<TektonWhenException>();
    }
}
