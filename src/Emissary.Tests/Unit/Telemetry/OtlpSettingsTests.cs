using Emissary.Telemetry;

namespace Emissary.Tests.Unit.Telemetry;

public sealed class OtlpSettingsTests
{
    private static OtlpSettings? From(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return OtlpSettings.FromEnvironment(n => map.GetValueOrDefault(n));
    }

    [Fact]
    public void Nothing_is_exported_without_an_endpoint_or_when_turned_off()
    {
        From().Should().BeNull();
        From(("OTEL_SERVICE_NAME", "x")).Should().BeNull();
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SDK_DISABLED", "true")).Should().BeNull();
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_TRACES_EXPORTER", "none")).Should().BeNull();
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "")).Should().BeNull("an empty variable counts as unset");
    }

    [Fact]
    public void The_general_endpoint_gets_v1_traces_and_the_traces_endpoint_is_used_as_is()
    {
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.obs:4318"))!.Endpoint.Should().Be("http://otel-collector.obs:4318/v1/traces");
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"))!.Endpoint.Should().Be("http://c:4318/v1/traces");
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/custom"))!.Endpoint.Should().Be("http://t:9/custom");
    }

    [Fact]
    public void Headers_resource_attributes_service_and_timeout_are_read_with_the_traces_ones_winning()
    {
        OtlpSettings s = From(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc, x-a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-A=2"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.name=fromattrs,bad"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"))!;
        s.Headers.Select(h => $"{h.Key}={h.Value}").Should().Equal("Authorization=Bearer abc", "X-A=2");
        s.ResourceAttributes.Select(h => $"{h.Key}={h.Value}").Should().Equal("deployment.environment=prod");
        s.ServiceName.Should().Be("fromattrs", "service.name in OTEL_RESOURCE_ATTRIBUTES counts when OTEL_SERVICE_NAME is unset");
        s.Timeout.Should().Be(TimeSpan.FromMilliseconds(500));
        s.Notes.Should().ContainSingle().Which.Should().Contain("'bad' is not key=value");
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SERVICE_NAME", "svc"), ("OTEL_RESOURCE_ATTRIBUTES", "service.name=x"))!.ServiceName.Should().Be("svc");
    }

    [Fact]
    public void The_timeout_is_capped_so_export_never_holds_the_container_long()
    {
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"))!.Timeout.Should().Be(OtlpSettings.MaxTimeout);
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "900"))!.Timeout.Should().Be(TimeSpan.FromMilliseconds(100));
        OtlpSettings bad = From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"))!;
        bad.Timeout.Should().Be(OtlpSettings.MaxTimeout);
        bad.Notes.Should().ContainSingle().Which.Should().Contain("not a positive number of milliseconds");
    }

    [Fact]
    public void A_header_that_would_split_the_request_is_dropped() =>
        From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_HEADERS", "a=1%0D%0AEvil: x,b=2"))!.Headers
            .Select(h => $"{h.Key}={h.Value}").Should().Equal("b=2");

    [Fact]
    public void Percent_decoding_keeps_what_is_malformed() =>
        OtlpSettings.PercentDecode("a%20b%zz%e2%82%ac%").Should().Be("a b%zz€%");

    [Theory]
    [InlineData("http://collector:4318/v1/traces", "collector", 4318, "/v1/traces")]
    [InlineData("http://10.0.0.7/v1/traces", "10.0.0.7", 80, "/v1/traces")]
    [InlineData("http://[::1]:4318/x", "[::1]", 4318, "/x")]
    [InlineData("http://[fd00::1]", "[fd00::1]", 80, "/")]
    public void Endpoints_are_split_into_host_port_and_path(string url, string host, int port, string path) =>
        OtlpExporter.Endpoint.Parse(url).Should().BeEquivalentTo(new OtlpExporter.Endpoint(host, port, url[7..].Split('/')[0], path));

    [Theory]
    [InlineData("https://collector:4318/v1/traces", "https:// is not supported")]
    [InlineData("grpc://collector:4317", "not an http:// URL")]
    [InlineData("http://collector:99999/", "bad port")]
    [InlineData("http://user:pw@collector/", "user:password@ is not supported")]
    [InlineData("http://:80/", "no host")]
    public void Unsupported_endpoints_are_one_line(string url, string message) =>
        FluentActions.Invoking(() => OtlpExporter.Endpoint.Parse(url)).Should().Throw<IOException>().WithMessage($"*{message}*");
}
