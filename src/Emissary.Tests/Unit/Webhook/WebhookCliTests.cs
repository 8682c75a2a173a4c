using System.Net;
using Emissary.Cli;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Tools.PodSpec;
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

    private static WebhookOptions Bind(params string[] args)
    {
        ParsedCommand parsed = CliParser.Parse(WebhookCli.Build(), OptionValues.Global, ["--tls-cert", "c.pem", "--tls-key", "k.pem", .. args], payload: null);
        return WebhookCli.Bind(new OptionValues(parsed, _ => null));
    }

    [Fact]
    public void Delivery_and_pull_policy_are_the_rewriters_as_for_rewrite()
    {
        Bind().Rewrite.Delivery.Should().BeNull("init unless a pod's emissary.dev/delivery says otherwise");
        RewriteSettings settings = Bind("--delivery", "image-volume", "--image-pull-policy", "Always", "--image", "r/e:1").Rewrite;
        settings.Delivery.Should().Be(BinaryDelivery.ImageVolume);
        settings.ImagePullPolicy.Should().Be("Always");
        settings.Image.Should().Be("r/e:1");
        FluentActions.Invoking(() => Bind("--delivery", "oci")).Should().Throw<UsageException>().WithMessage("--delivery: 'oci' is not one of init, image-volume");
    }
}
