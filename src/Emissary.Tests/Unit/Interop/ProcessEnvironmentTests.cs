using System.Text;
using Emissary.Interop;

namespace Emissary.Tests.Unit.Interop;

/// <summary>How an <c>environ</c> entry splits into its name and value, the one rule every reader of the environment uses.</summary>
public sealed class ProcessEnvironmentTests
{
    [Theory]
    [InlineData("PATH=/bin:/usr/bin", "PATH", "/bin:/usr/bin")]
    [InlineData("A=b=c", "A", "b=c")]        // the first '=' splits; a value may hold more
    [InlineData("EMPTY=", "EMPTY", "")]
    [InlineData("NOEQUALS", "NOEQUALS", "")] // an entry without '=' is all name
    [InlineData("=x", "", "x")]              // an empty name (what a caller of execve may pass)
    [InlineData("", "", "")]
    public void An_entry_splits_at_its_first_equals_sign(string entry, string name, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(entry);
        Encoding.UTF8.GetString(ProcessEnvironment.NameOf(bytes)).Should().Be(name);
        Encoding.UTF8.GetString(ProcessEnvironment.ValueOf(bytes)).Should().Be(value);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_stay_as_they_are()
    {
        byte[] entry = [(byte)'K', (byte)'=', 0xff, 0xfe, (byte)'='];
        ProcessEnvironment.ValueOf(entry).ToArray().Should().Equal(0xff, 0xfe, (byte)'=');
    }
}
