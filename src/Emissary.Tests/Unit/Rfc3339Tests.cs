using Emissary.Foundation;

namespace Emissary.Tests.Unit;

public sealed class Rfc3339Tests
{
    [Fact]
    public void Formats_in_utc_with_three_fraction_digits_and_a_z()
    {
        var time = new DateTimeOffset(2026, 11, 28, 9, 4, 37, 123, TimeSpan.FromHours(2)).AddTicks(4567);

        Rfc3339.Format(time).Should().Be("2026-11-28T07:04:37.123Z");
        Rfc3339.Format(new DateTimeOffset(1, 1, 1, 0, 0, 0, TimeSpan.Zero)).Should().Be("0001-01-01T00:00:00.000Z");
    }

    [Fact]
    public void Reads_back_what_it_writes()
    {
        var time = new DateTimeOffset(2026, 2, 28, 23, 59, 59, 999, TimeSpan.Zero);

        Rfc3339.TryParse(Rfc3339.Format(time), out DateTimeOffset read).Should().BeTrue();
        read.Should().Be(time);
        read.Offset.Should().Be(TimeSpan.Zero);
    }

    [Theory]
    [InlineData("2026-11-28T07:04:37Z", "2026-11-28T07:04:37.000Z")]
    [InlineData("2026-11-28t07:04:37.5z", "2026-11-28T07:04:37.500Z")]
    [InlineData("2026-11-28 07:04:37.123456789Z", "2026-11-28T07:04:37.123Z")]
    [InlineData("2026-11-28T09:04:37.123+02:00", "2026-11-28T07:04:37.123Z")]
    [InlineData("2026-11-28T00:30:00-01:30", "2026-11-28T02:00:00.000Z")]
    [InlineData("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z")]
    public void Parses_rfc_3339_times_into_utc(string text, string utc)
    {
        Rfc3339.TryParse(text, out DateTimeOffset read).Should().BeTrue(text);
        Rfc3339.Format(read).Should().Be(utc);
        read.Offset.Should().Be(TimeSpan.Zero);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("2026-11-28T07:04:37")]
    [InlineData("2026-11-28T07:04:37.Z")]
    [InlineData("2026-11-28T07:04:37ZX")]
    [InlineData("2026-13-28T07:04:37Z")]
    [InlineData("2026-02-29T07:04:37Z")]
    [InlineData("2026-11-28T24:00:00Z")]
    [InlineData("2026-11-28T07:60:00Z")]
    [InlineData("2026-11-28T07:04:37+2:00")]
    [InlineData("2026/11/28T07:04:37Z")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("Sat, 28 Nov 2026 07:04:37 GMT")]
    public void Rejects_anything_else(string? text)
    {
        Rfc3339.TryParse(text, out _).Should().BeFalse(text);
    }
}
