using System.Text;
using Emissary.Interop;

namespace Emissary.Tests.Unit.Interop;

/// <summary>How an <c>environ</c> entry splits into its name and value, the one rule every reader of the environment uses.</summary>
public sealed class ProcessEnvironmentTests
{
    [Theory]
    [InlineData("PATH=/bin:/usr/bin", "PATH", "/bin:/usr/bin", true)]
    [InlineData("A=b=c", "A", "b=c", true)]          // the first '=' splits; a value may hold more
    [InlineData("EMPTY=", "EMPTY", "", true)]
    [InlineData("NOEQUALS", "NOEQUALS", "", false)]  // an entry without '=' is all name
    [InlineData("=x", "", "x", true)]                // an empty name (what a caller of execve may pass)
    [InlineData("", "", "", false)]
    public void An_entry_splits_at_its_first_equals_sign(string entry, string name, string value, bool hasEquals)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(entry);
        Encoding.UTF8.GetString(ProcessEnvironment.NameOf(bytes)).Should().Be(name);
        ProcessEnvironment.Split(bytes, out ReadOnlySpan<byte> splitName, out ReadOnlySpan<byte> splitValue).Should().Be(hasEquals);
        Encoding.UTF8.GetString(splitName).Should().Be(name);
        Encoding.UTF8.GetString(splitValue).Should().Be(value);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_stay_as_they_are()
    {
        byte[] entry = [(byte)'K', (byte)'=', 0xff, 0xfe, (byte)'='];
        ProcessEnvironment.Split(entry, out _, out ReadOnlySpan<byte> value).Should().BeTrue();
        value.ToArray().Should().Equal(0xff, 0xfe, (byte)'=');
    }
}
