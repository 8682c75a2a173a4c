using Emissary.Telemetry;

namespace Emissary.Tests.Unit.Telemetry;

public sealed class TraceContextTests
{
    private const string Trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string Span = "00f067aa0ba902b7";

    [Fact]
    public void Parses_the_specifications_example_and_formats_it_back()
    {
        TraceContext? parsed = TraceContext.Parse($"00-{Trace}-{Span}-01");
        parsed.Should().BeEquivalentTo(new TraceContext(Trace, Span, true));
        parsed!.Format().Should().Be($"00-{Trace}-{Span}-01");
        TraceContext.Parse($"00-{Trace}-{Span}-00")!.Sampled.Should().BeFalse();
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")] // upper case
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] // zero trace id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")] // zero span id
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] // version ff
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")] // version 00 has no more fields
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01")] // dash misplaced
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01")] // not hex
    public void Refuses_what_is_not_a_traceparent(string value) => TraceContext.Parse(value).Should().BeNull();

    [Fact]
    public void Accepts_a_later_version_with_more_fields() =>
        TraceContext.Parse($"01-{Trace}-{Span}-01-whatever").Should().BeEquivalentTo(new TraceContext(Trace, Span, true));

    [Fact]
    public void New_ids_are_lower_case_hex_of_the_right_length_and_differ()
    {
        string[] traces = Enumerable.Range(0, 50).Select(_ => TraceContext.NewTraceId()).ToArray();
        string[] spans = Enumerable.Range(0, 50).Select(_ => TraceContext.NewSpanId()).ToArray();
        traces.Should().OnlyContain(t => t.Length == 32 && t.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)));
        spans.Should().OnlyContain(s => s.Length == 16 && s.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c)));
        traces.Distinct().Should().HaveCount(50);
        spans.Distinct().Should().HaveCount(50);
        TraceContext.Parse($"00-{traces[0]}-{spans[0]}-01").Should().NotBeNull("new ids make a valid traceparent");
    }
}
