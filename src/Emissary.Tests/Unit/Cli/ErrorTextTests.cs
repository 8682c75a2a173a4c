using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Tests.Unit.Cli;

/// <summary>User-given text in an error line never splits it or drives the terminal.</summary>
public sealed class ErrorTextTests
{
    [Theory]
    [InlineData("plain name", "plain name")]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("a\r\nb\tc", "a\\r\\nb\\tc")]
    [InlineData("\u001b[31mred", "\\x1b[31mred")]
    [InlineData("del\u007f", "del\\x7f")]
    [InlineData("c1\u0085", "c1\\x85")]
    [InlineData("ls\u2028ps\u2029", "ls\\u2028ps\\u2029")]
    [InlineData("ünïcödé ✔", "ünïcödé ✔")]
    public void Printable_escapes_control_characters_and_keeps_the_rest(string input, string expected)
    {
        ErrorText.Printable(input).Should().Be(expected);
    }

    [Fact]
    public void Printable_returns_the_same_string_when_nothing_needs_escaping()
    {
        string text = "nothing to escape";

        ErrorText.Printable(text).Should().BeSameAs(text);
    }

    [Fact]
    public void Quote_wraps_the_printable_form_in_single_quotes()
    {
        ErrorText.Quote("a\nb").Should().Be("'a\\nb'");
    }

    [Fact]
    public void Every_character_below_space_is_escaped()
    {
        string all = new(Enumerable.Range(0, 32).Select(i => (char)i).ToArray());

        string printable = ErrorText.Printable(all);

        printable.Should().NotContainAny(all.Select(c => c.ToString()));
    }

    [Fact]
    public void A_failed_system_call_is_an_IOException_carrying_its_errno_and_keeps_its_call_in_the_reason()
    {
        Exception e = new SystemCallException("open /x", Errno.ENOENT);

        e.Should().BeAssignableTo<IOException>("one catch (IOException) covers the runtime's and ours");
        e.HResult.Should().Be((int)Errno.ENOENT);
        ErrorText.Reason(e).Should().Be("open /x: " + Libc.Describe(Errno.ENOENT));
    }
}
