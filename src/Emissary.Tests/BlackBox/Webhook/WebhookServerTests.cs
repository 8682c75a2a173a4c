using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Emissary.Tests.Unit.Webhook;

namespace Emissary.Tests.BlackBox.Webhook;

/// <summary>
/// `emissary webhook` (issue #16) as the API server meets it: the published artifacts/emissary
/// execs artifacts/emissary-webhook, which serves HTTPS on 127.0.0.1 with a certificate from a CA
/// generated here. Reviews in Kubernetes' documented shape, the patch checked against
/// `emissary rewrite` run on the same pod, bad input, certificate rotation, SIGTERM under load.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class WebhookServerTests : BlackBoxTest, IDisposable
{
    private const string Image = "registry.local/emissary:webhook-test";
    private readonly TestCertificates _certificates = new();
    private readonly string _dir;
    private readonly string _cert;
    private readonly string _key;

    public WebhookServerTests()
    {
        _dir = TempDir("webhook");
        _cert = Path.Combine(_dir, "tls.crt");
        _key = Path.Combine(_dir, "tls.key");
    }

    private (RunningProcess Server, WebhookClient Client) StartServer(params string[] extra)
    {
        _certificates.WriteServing(_cert, _key, "first");
        int port = WebhookClient.FreePort();
        RunningProcess server = StartEmissary(["webhook", "--tls-cert", _cert, "--tls-key", _key, "--listen", $"127.0.0.1:{port}", "--image", Image, .. extra]);
        var client = new WebhookClient(port, _certificates);
        client.WaitUntilReady(server);
        return (server, client);
    }

    /// <summary>`emissary rewrite` with the pod on stdin (so its error lines name no file).</summary>
    private ProcessResult Rewrite(string podJson)
    {
        string file = Path.Combine(_dir, $"pod-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, podJson);
        return Run("/bin/sh", "-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", file, EmissaryPath, "rewrite", "--image", Image);
    }

    private static JsonNode? Apply(string pod, JsonNode response) =>
        JsonPatchApplier.Apply(JsonNode.Parse(pod), JsonNode.Parse(Convert.FromBase64String(response["patch"]!.GetValue<string>()))!.AsArray());

    private static ProcessResult Stop(RunningProcess server)
    {
        server.Signal(Libc.SIGTERM);
        return server.WaitForExit();
    }

    [BlackBoxFact]
    public void A_pod_review_gets_the_JSON_patch_that_turns_the_pod_into_what_rewrite_writes()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        using (client)
        {
            JsonNode response = client.Review(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod, uid: "e911857d-c318-11e8-bbad-025000000001"));

            response["uid"]!.GetValue<string>().Should().Be("e911857d-c318-11e8-bbad-025000000001");
            response["allowed"]!.GetValue<bool>().Should().BeTrue();
            response["patchType"]!.GetValue<string>().Should().Be("JSONPatch");
            ProcessResult rewrite = Rewrite(WebhookFixtures.FiveContainerPod);
            rewrite.ExitCode.Should().Be(0, "{0}", rewrite);
            JsonNode expected = JsonNode.Parse(rewrite.Stdout)!;
            JsonNode.DeepEquals(Apply(WebhookFixtures.FiveContainerPod, response), expected).Should().BeTrue(
                "the patched pod is rewrite's pod\npatched: {0}\nrewrite: {1}", Apply(WebhookFixtures.FiveContainerPod, response)?.ToJsonString(), expected.ToJsonString());
            client.LastServed!.Subject.Should().Be("CN=first");
        }
        ProcessResult stopped = Stop(server);
        stopped.ExitCode.Should().Be(0, "{0}", stopped);
        AssertNoStackTrace(stopped);
        JsonLogLines(stopped).Should().Contain(l => l.Contains("\"Patched\"", StringComparison.Ordinal) || l.Contains("Patched", StringComparison.Ordinal), "every wired pod is logged");
    }

    private static IReadOnlyList<string> JsonLogLines(ProcessResult result)
    {
        result.StderrLines.Should().NotBeEmpty();
        foreach (string line in result.StderrLines)
        {
            JsonNode.Parse(line).Should().NotBeNull("every log line is a JSON object: {0}", line);
        }
        return result.StderrLines;
    }

    [BlackBoxFact]
    public void A_pod_with_an_invalid_graph_is_refused_with_the_message_rewrite_prints()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        using (client)
        {
            JsonNode response = client.Review(WebhookFixtures.Review(WebhookFixtures.InvalidGraphPod));

            response["allowed"]!.GetValue<bool>().Should().BeFalse();
            response["patch"].Should().BeNull();
            response["status"]!["code"]!.GetValue<int>().Should().Be(400);
            ProcessResult rewrite = Rewrite(WebhookFixtures.InvalidGraphPod);
            rewrite.ExitCode.Should().Be(1, "{0}", rewrite);
            response["status"]!["message"]!.GetValue<string>().Should().Be(rewrite.Stderr.TrimEnd('\n'));
            response["status"]!["message"]!.GetValue<string>().Should().Contain("did you mean");
        }
        Stop(server).ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Opt_in_opt_out_and_already_wired_pods_are_allowed_without_a_patch()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        using (client)
        {
            JsonNode notAsked = client.Review(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod), "/mutate-annotated");
            notAsked["allowed"]!.GetValue<bool>().Should().BeTrue();
            notAsked["patch"].Should().BeNull();

            string asked = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/inject", "true");
            JsonNode.DeepEquals(Apply(asked, client.Review(WebhookFixtures.Review(asked), "/mutate-annotated")), JsonNode.Parse(Rewrite(asked).Stdout)).Should().BeTrue();

            string optedOut = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/inject", "false");
            client.Review(WebhookFixtures.Review(optedOut))["patch"].Should().BeNull();

            string wired = Rewrite(WebhookFixtures.FiveContainerPod).Stdout;
            JsonNode again = client.Review(WebhookFixtures.Review(wired));
            again["allowed"]!.GetValue<bool>().Should().BeTrue();
            again["patch"].Should().BeNull("a pod already wired is left alone");
        }
        Stop(server).ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Bad_input_gets_an_HTTP_error_or_a_review_answer_and_the_server_keeps_serving()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        using (client)
        {
            using (HttpResponseMessage malformed = client.Post("/mutate", "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": "))
            {
                malformed.StatusCode.Should().Be(HttpStatusCode.BadRequest);
                malformed.Content.ReadAsStringAsync().Result.Should().StartWith("malformed AdmissionReview");
            }
            using (HttpResponseMessage wrongVersion = client.Post("/mutate", WebhookFixtures.Review(WebhookFixtures.FiveContainerPod).Replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1", StringComparison.Ordinal)))
            {
                wrongVersion.StatusCode.Should().Be(HttpStatusCode.BadRequest);
            }
            using (HttpResponseMessage noUid = client.Post("/mutate", """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"""))
            {
                noUid.StatusCode.Should().Be(HttpStatusCode.BadRequest);
            }
            using (HttpResponseMessage typeConfusion = client.Post("/mutate", """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":["x"]}}"""))
            {
                typeConfusion.StatusCode.Should().Be(HttpStatusCode.BadRequest);
            }
            // Found by the admission fuzz target (docs/fuzzing.md): invalid UTF-8 inside a string
            // was an unhandled InvalidOperationException (500 and a stack trace) in a review's
            // field, and a 500 "internal error" in the pod.
            byte[] review = Encoding.UTF8.GetBytes(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod));
            foreach (string field in new[] { "705ab4f5-6393-11e8-b7cc-42010a800002", "shop-7d9f8b6c5-" })
            {
                byte[] notUtf8 = review.ToArray();
                int at = review.AsSpan().IndexOf(Encoding.UTF8.GetBytes(field));
                notUtf8[at] = 0xC3;
                notUtf8[at + 1] = (byte)'(';
                using HttpResponseMessage answer = client.Post("/mutate", new ByteArrayContent(notUtf8) { Headers = { ContentType = new("application/json") } });
                answer.StatusCode.Should().Be(HttpStatusCode.BadRequest, "invalid UTF-8 in {0} is a malformed review", field);
                answer.Content.ReadAsStringAsync().Result.Should().StartWith("malformed AdmissionReview");
            }
            JsonNode unknownKind = client.Review(WebhookFixtures.Review("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}""", kind: "Secret", resource: "secrets"));
            unknownKind["allowed"]!.GetValue<bool>().Should().BeTrue();
            unknownKind["patch"].Should().BeNull();

            // A pod of 4 MiB: above the 3 MiB the API server itself accepts.
            string huge = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "padding", new string('x', 4 * 1024 * 1024));
            try
            {
                using HttpResponseMessage tooLarge = client.Post("/mutate", WebhookFixtures.Review(huge));
                tooLarge.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            }
            catch (HttpRequestException)
            {
                // 413 sent and the connection closed while the client was still sending: also a refusal.
            }
            // Same without a Content-Length: the limit holds on a chunked body too.
            var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(WebhookFixtures.Review(huge))));
            chunked.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            try
            {
                using HttpResponseMessage tooLargeChunked = client.Post("/mutate", new ChunkedContent(chunked));
                tooLargeChunked.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            }
            catch (HttpRequestException)
            {
                // The server may close the connection while the client is still sending: also a refusal.
            }
            using (HttpResponseMessage get = client.Get("/mutate"))
            {
                get.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
            }
            using (HttpResponseMessage unknownPath = client.Get("/nothing"))
            {
                unknownPath.StatusCode.Should().Be(HttpStatusCode.NotFound);
            }
            using (HttpResponseMessage health = client.Get("/healthz"))
            {
                health.StatusCode.Should().Be(HttpStatusCode.OK);
            }

            server.HasExited.Should().BeFalse();
            client.Review(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod))["patchType"]!.GetValue<string>().Should().Be("JSONPatch", "the server still serves");
        }
        ProcessResult stopped = Stop(server);
        stopped.ExitCode.Should().Be(0, "{0}", stopped);
        AssertNoStackTrace(stopped);
        stopped.Stderr.Should().Contain("HTTP 413", "the oversized reviews were refused by the body limit, not by a crash");
        stopped.Stderr.Should().Contain("malformed AdmissionReview");
    }

    /// <summary>Sends its content without a Content-Length (chunked transfer encoding).</summary>
    private sealed class ChunkedContent(HttpContent inner) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => inner.CopyToAsync(stream);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [BlackBoxFact]
    public void A_renewed_certificate_is_served_without_a_restart()
    {
        (RunningProcess server, WebhookClient first) = StartServer();
        using (first)
        {
            first.Get("/healthz").Dispose();
            first.LastServed!.Subject.Should().Be("CN=first");
        }
        X509Certificate2 renewed = _certificates.WriteServing(_cert, _key, "renewed");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? served = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && served != "CN=renewed")
        {
            Thread.Sleep(250);
            using var fresh = new WebhookClient(int.Parse(first.BaseAddress[(first.BaseAddress.LastIndexOf(':') + 1)..]), _certificates);
            fresh.Get("/healthz").Dispose();
            served = fresh.LastServed!.Subject;
            if (served == "CN=renewed")
            {
                fresh.LastServed.Thumbprint.Should().Be(renewed.Thumbprint);
                fresh.Review(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod))["allowed"]!.GetValue<bool>().Should().BeTrue();
            }
        }
        served.Should().Be("CN=renewed", "new connections get the renewed certificate within a few seconds");
        server.HasExited.Should().BeFalse("no restart");

        // A broken pair (key of another certificate) keeps the renewed one in service.
        File.WriteAllText(_key, System.Security.Cryptography.ECDsa.Create().ExportPkcs8PrivateKeyPem());
        Thread.Sleep(1500);
        using (var afterBreak = new WebhookClient(int.Parse(first.BaseAddress[(first.BaseAddress.LastIndexOf(':') + 1)..]), _certificates))
        {
            afterBreak.Get("/healthz").Dispose();
            afterBreak.LastServed!.Subject.Should().Be("CN=renewed");
        }
        ProcessResult stopped = Stop(server);
        stopped.ExitCode.Should().Be(0);
        stopped.Stderr.Should().Contain("reloaded").And.Contain("not reloaded");
    }

    [BlackBoxFact]
    public void SIGTERM_answers_the_review_in_flight_and_every_answer_under_load_is_whole()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        int port = int.Parse(client.BaseAddress[(client.BaseAddress.LastIndexOf(':') + 1)..]);
        client.Dispose();

        // Load: four clients posting reviews back to back until the server goes.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        int answered = 0;
        var bad = new System.Collections.Concurrent.ConcurrentBag<string>();
        Task[] load = Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            using var c = new WebhookClient(port, _certificates);
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                string uid = $"load-{worker}-{i}";
                HttpResponseMessage response;
                try
                {
                    response = c.Post("/mutate", WebhookFixtures.Review(WebhookFixtures.FiveContainerPod, uid: uid));
                }
                catch (HttpRequestException)
                {
                    return; // the server stopped accepting: not answered, so not lost
                }
                using (response)
                {
                    string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                    JsonNode? answer = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(body) : null;
                    if (answer?["response"]?["uid"]?.GetValue<string>() != uid || answer["response"]!["patch"] is null)
                    {
                        bad.Add($"{uid}: HTTP {(int)response.StatusCode}: {body}");
                    }
                    else
                    {
                        Interlocked.Increment(ref answered);
                    }
                }
            }
        })).ToArray();

        // One review half sent when SIGTERM comes: the server must wait for the rest and answer it.
        using var tcp = new TcpClient();
        tcp.Connect(IPAddress.Loopback, port);
        using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => _certificates.Trusts(certificate));
        tls.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", ApplicationProtocols = [SslApplicationProtocol.Http11] });
        byte[] body = Encoding.UTF8.GetBytes(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod, uid: "in-flight"));
        tls.Write(Encoding.ASCII.GetBytes($"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        tls.Write(body, 0, body.Length / 2);
        tls.Flush();

        SpinWait.SpinUntil(() => Volatile.Read(ref answered) >= 20, TimeSpan.FromSeconds(10));
        server.Signal(Libc.SIGTERM);
        server.WaitForStderr("Stopping", TimeSpan.FromSeconds(5));
        Thread.Sleep(300);
        tls.Write(body, body.Length / 2, body.Length - body.Length / 2);
        tls.Flush();
        string reply = ReadHttpResponse(tls);

        reply.Should().StartWith("HTTP/1.1 200");
        reply.Should().Contain("\"uid\":\"in-flight\"").And.Contain("\"patch\":");
        Task.WaitAll(load, TimeSpan.FromSeconds(20)).Should().BeTrue("the load stops when the server has gone");
        ProcessResult stopped = server.WaitForExit();
        stopped.ExitCode.Should().Be(0, "{0}", stopped);
        bad.Should().BeEmpty("every response the server sent is a whole answer to its own review");
        answered.Should().BeGreaterThanOrEqualTo(20);
        AssertNoStackTrace(stopped);
    }

    /// <summary>Reads one HTTP/1.1 response with a Content-Length (Kestrel's for a review), headers and body.</summary>
    private static string ReadHttpResponse(Stream stream)
    {
        var bytes = new List<byte>();
        var buffer = new byte[8192];
        int headerEnd = -1;
        int contentLength = -1;
        while (true)
        {
            int read = stream.Read(buffer);
            if (read == 0)
            {
                break;
            }
            bytes.AddRange(buffer.AsSpan(0, read));
            string text = Encoding.UTF8.GetString(bytes.ToArray());
            if (headerEnd < 0 && (headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
            {
                string? header = text[..headerEnd].Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                contentLength = header is null ? -1 : int.Parse(header["Content-Length:".Length..].Trim());
            }
            if (headerEnd >= 0 && contentLength >= 0 && bytes.Count >= headerEnd + 4 + contentLength)
            {
                break;
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    [BlackBoxFact]
    public void Readiness_turns_off_while_draining_and_the_probes_answer_plain_text()
    {
        (RunningProcess server, WebhookClient client) = StartServer();
        using (client)
        {
            using HttpResponseMessage health = client.Get("/healthz");
            health.StatusCode.Should().Be(HttpStatusCode.OK);
            health.Content.ReadAsStringAsync().Result.Should().Be("ok\n");
            using HttpResponseMessage ready = client.Get("/readyz");
            ready.StatusCode.Should().Be(HttpStatusCode.OK);
        }
        Stop(server).ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Start_up_problems_are_one_line_and_exit_125()
    {
        _certificates.WriteServing(_cert, _key, "first");
        ProcessResult noCert = RunEmissary("webhook", "--tls-key", _key);
        noCert.ExitCode.Should().Be(125);
        AssertOneEmissaryErrorLine(noCert);
        noCert.Stderr.Should().Contain("--tls-cert");

        ProcessResult missing = RunEmissary("webhook", "--tls-cert", Path.Combine(_dir, "absent.crt"), "--tls-key", _key, "--listen", "127.0.0.1:1");
        missing.ExitCode.Should().Be(125);
        AssertOneEmissaryErrorLine(missing);
        missing.Stderr.Should().Contain("absent.crt");

        ProcessResult mismatched = RunEmissary("webhook", "--tls-cert", _cert, "--tls-key", WriteOtherKey(), "--listen", "127.0.0.1:1");
        mismatched.ExitCode.Should().Be(125);
        AssertOneEmissaryErrorLine(mismatched);

        ProcessResult badListen = RunEmissary("webhook", "--tls-cert", _cert, "--tls-key", _key, "--listen", "localhost");
        badListen.ExitCode.Should().Be(125);
        AssertOneEmissaryErrorLine(badListen);
        badListen.Stderr.Should().Contain("--listen");
    }

    private string WriteOtherKey()
    {
        string path = Path.Combine(_dir, "other.key");
        File.WriteAllText(path, System.Security.Cryptography.ECDsa.Create().ExportPkcs8PrivateKeyPem());
        return path;
    }

    void IDisposable.Dispose()
    {
        _certificates.Dispose();
        Dispose();
    }
}
