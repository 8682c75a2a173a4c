using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox.Webhook;

/// <summary>Talks HTTPS to a running webhook on 127.0.0.1, trusting only the test CA, and records the certificate each connection was shown.</summary>
internal sealed class WebhookClient(int port, TestCertificates certificates) : IDisposable
{
    private readonly ServedCertificates _served = new();
    private HttpClient? _client;

    private HttpClient _http => _client ??= Create(certificates, _served);

    public string BaseAddress { get; } = $"https://127.0.0.1:{port}";

    /// <summary>The certificate of the last TLS handshake.</summary>
    public X509Certificate2? LastServed => _served.Last;

    private sealed class ServedCertificates
    {
        public X509Certificate2? Last;
    }

    private static HttpClient Create(TestCertificates certificates, ServedCertificates seen)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    seen.Last = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return certificates.Trusts(certificate);
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
    }

    public HttpResponseMessage Post(string path, string body) =>
        _http.PostAsync(BaseAddress + path, new StringContent(body, Encoding.UTF8, "application/json")).GetAwaiter().GetResult();

    public HttpResponseMessage Post(string path, HttpContent content) =>
        _http.PostAsync(BaseAddress + path, content).GetAwaiter().GetResult();

    public HttpResponseMessage Get(string path) => _http.GetAsync(BaseAddress + path).GetAwaiter().GetResult();

    /// <summary>POSTs a review and returns the AdmissionReview it got back (asserting 200 and JSON).</summary>
    public JsonNode Review(string review, string path = "/mutate")
    {
        using HttpResponseMessage response = Post(path, review);
        string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        response.StatusCode.Should().Be(HttpStatusCode.OK, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        JsonNode answer = JsonNode.Parse(body)!;
        answer["apiVersion"]!.GetValue<string>().Should().Be("admission.k8s.io/v1");
        answer["kind"]!.GetValue<string>().Should().Be("AdmissionReview");
        return answer["response"]!;
    }

    /// <summary>Waits until /readyz answers 200 (the server listens and has its certificate).</summary>
    public void WaitUntilReady(RunningProcess server, TimeSpan? timeout = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(20)))
        {
            if (server.HasExited)
            {
                throw new XunitException("the webhook exited before it was ready:\n" + server.Describe());
            }
            try
            {
                using HttpResponseMessage response = Get("/readyz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            Thread.Sleep(50);
        }
        throw new XunitException("the webhook never became ready:\n" + server.Describe());
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _client?.Dispose();
}
