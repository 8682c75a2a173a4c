using Emissary.Events;
using Emissary.Foundation;

namespace Emissary.Tests.Unit;

public sealed class DurationAndSignalTests
{
    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("500ms", 500)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("7", 7_000)]
    [InlineData("0", 0)]
    [InlineData("5\u00b5s", 0.005)]
    [InlineData("5\u03bcs", 0.005)]
    [InlineData("5us", 0.005)]
    [InlineData("1ms500\u00b5s", 1.5)]
    [InlineData("1500ns", 0.0015)]
    public void Durations_parse_like_Go(string text, double ms)
    {
        Duration.TryParse(text, out TimeSpan value).Should().BeTrue();
        value.TotalMilliseconds.Should().Be(ms);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1s")]
    [InlineData("10 parsecs")]
    [InlineData("s")]
    [InlineData("1x")]
    [InlineData("-5")]
    [InlineData("5\u00b5")]
    [InlineData("5\u00b5m")]
    public void Bad_durations_are_rejected(string text)
    {
        Duration.TryParse(text, out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("TERM", 15)]
    [InlineData("SIGTERM", 15)]
    [InlineData("sigusr1", 10)]
    [InlineData("9", 9)]
    [InlineData("IOT", 6)]
    [InlineData("WINCH", 28)]
    public void Signals_parse_by_name_or_number(string text, int expected)
    {
        Signals.TryParse(text, out int signal).Should().BeTrue();
        signal.Should().Be(expected);
    }

    [Theory]
    [InlineData("TERMINATE")]
    [InlineData("0")]
    [InlineData("99")]
    [InlineData("")]
    public void Bad_signals_are_rejected(string text)
    {
        Signals.TryParse(text, out _).Should().BeFalse();
    }

    [Fact]
    public void Wait_statuses_decode_like_the_shell()
    {
        ExitStatus.FromWaitStatus(3 << 8).ToExitCode().Should().Be(3);
        ExitStatus.FromWaitStatus(9).ToExitCode().Should().Be(137);
        ExitStatus.FromWaitStatus(15 | 0x80).ToExitCode().Should().Be(143); // core dumped bit
    }
}
