using System.Runtime.Versioning;
using System.Text.Json;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Telemetry in real containers: a 3-step pod under `emissary local --engine podman` (network
/// none: only the pod's loopback) whose steps export their spans to a collector sidecar on that
/// loopback (the test child's http-sink, a plain container that ends after the three requests:
/// as a `sidecar: true` it would be stopped the moment the last step is recorded, before that
/// step's export), all in the trace of the TRACEPARENT the pod spec gives.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TelemetryPodmanTests : BlackBoxTest
{
    private const string Trace = "0af7651916cd43dd8448eb211c80319c";
    private const string Parent = "b7ad6b7169203331";

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void Three_steps_of_a_pod_export_their_spans_to_a_collector_on_the_pods_loopback()
    {
        (string emissaryImage, string stepsImage) = BuildImages();
        string env = $$"""[{name: OTEL_EXPORTER_OTLP_ENDPOINT, value: "http://localhost:4318"}, {name: TRACEPARENT, value: "00-{{Trace}}-{{Parent}}-01"}, {name: POD_NAME, value: traced}]""";
        string pod = Path.Combine(TempDir("pod"), "pod.yaml");
        File.WriteAllText(pod, $$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: traced-{{Token[..8]}}}
            spec:
              restartPolicy: Never
              containers:
                - name: collector
                  image: {{stepsImage}}
                  command: [testchild, http-sink, "4318", "3"]
                - name: fetch
                  image: {{stepsImage}}
                  env: {{env}}
                  command: [sh, -c, "sleep 1; echo fetched"]
                - name: build
                  image: {{stepsImage}}
                  waitForTermination: [fetch]
                  env: {{env}}
                  command: [testchild, burn, "100", "16"]
                - name: publish
                  image: {{stepsImage}}
                  waitForTermination: [build]
                  env: {{env}}
                  command: [sh, -c, "echo \"child trace $TRACEPARENT\""]
            """);

        ProcessResult result = StartEmissary("local", "--engine", "podman", "--image", emissaryImage, pod, "--plain").WaitForExit(TimeSpan.FromSeconds(90));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StderrLines.Should().NotContain(l => l.Contains("cannot export"), "every export reached the collector\n{0}", result);
        string[] bodies = result.StdoutLines.Where(l => l.StartsWith("collector | body ", StringComparison.Ordinal))
            .Select(l => l["collector | body ".Length..]).ToArray();
        bodies.Should().HaveCount(3, "one request per step\n{0}", result);
        var steps = new Dictionary<string, (string SpanId, string? Parent)>();
        var attemptOf = new Dictionary<string, string>();
        foreach (string body in bodies)
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            JsonElement spans = doc.RootElement.GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans");
            JsonElement step = spans[0];
            string name = step.GetProperty("name").GetString()!;
            foreach (JsonElement s in spans.EnumerateArray())
            {
                s.GetProperty("traceId").GetString().Should().Be(Trace, "every span of every step is in the pod's trace");
                if (s.GetProperty("name").GetString() == "attempt 1")
                    attemptOf[name] = s.GetProperty("spanId").GetString()!;
            }
            steps[name] = (step.GetProperty("spanId").GetString()!, step.TryGetProperty("parentSpanId", out JsonElement p) ? p.GetString() : null);
            step.GetProperty("status").GetProperty("code").GetInt32().Should().Be(1);
        }
        steps.Keys.Should().BeEquivalentTo(["fetch", "build", "publish"]);
        steps.Values.Should().OnlyContain(s => s.Parent == Parent, "each step's span is a child of the span in TRACEPARENT");
        result.StdoutLines.Should().Contain($"publish | child trace 00-{Trace}-{attemptOf["publish"]}-01", "the child runs under its attempt's span\n{0}", result);
        result.StdoutLines.Should().Contain(l => l.StartsWith("  build ", StringComparison.Ordinal) && l.Contains(", cpu ") && l.Contains(", peak "),
            "the timeline shows each step's CPU and peak memory\n{0}", result);
    }

    /// <summary>The emissary image (Dockerfile.scratch) and a FROM scratch image with a static busybox and the test child.</summary>
    private (string Emissary, string Steps) BuildImages()
    {
        const string emissary = "localhost/emissary:telemetry", steps = "localhost/emissary-telemetry-steps:blackbox";
        ProcessResult built = Run("buildah", "bud", "--isolation", "chroot", "-q", "-f", Path.Combine(Artifacts.RepoRoot, "Dockerfile.scratch"), "-t", emissary, Artifacts.RepoRoot);
        built.ExitCode.Should().Be(0, "{0}", built);
        string context = TempDir("steps");
        string bin = Path.Combine(context, "root", "bin");
        Directory.CreateDirectory(bin);
        CopyInto(bin, Artifacts.StaticBusybox);
        CopyInto(bin, Artifacts.TestChild);
        foreach (string applet in new[] { "sh", "echo", "sleep" })
            File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM scratch\nCOPY root/ /\nENV PATH=/bin\n");
        ProcessResult stepImage = Run("buildah", "bud", "--isolation", "chroot", "-q", "-f", Path.Combine(context, "Dockerfile"), "-t", steps, context);
        stepImage.ExitCode.Should().Be(0, "{0}", stepImage);
        return (emissary, steps);
    }
}
