using System.Net;
using Emissary.Foundation;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Webhook;

public sealed class WebhookCliTests
{
    [Theory]
    [InlineData("0.0.0.0:8443", "0.0.0.0", 8443)]
    [InlineData(":9443", "0.0.0.0", 9443)]
    [InlineData("127.0.0.1:1", "127.0.0.1", 1)]
    [InlineData("[::]:8443", "::", 8443)]
    public void Listen_takes_an_address_and_a_port(string text, string address, int port)
    {
        WebhookCli.ParseEndPoint(text).Should().Be(new IPEndPoint(IPAddress.Parse(address), port));
    }

    [Theory]
    [InlineData("localhost:8443")]
    [InlineData("8443")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("")]
    public void Anything_else_is_a_usage_error_naming_the_option(string text)
    {
        FluentActions.Invoking(() => WebhookCli.ParseEndPoint(text)).Should().Throw<UsageException>().WithMessage("--listen: *");
    }
}
