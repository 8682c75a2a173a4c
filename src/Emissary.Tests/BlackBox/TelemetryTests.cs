using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Step telemetry (issue #15), black-box: resource figures of a child that burns a known amount of
/// CPU and touches a known amount of memory, where users see them (status.json, `emissary status`,
/// the termination message), and OTLP spans received by a test collector with the right trace,
/// parent/child links and attributes. Export never changes the outcome and is bounded in time.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TelemetryTests : BlackBoxTest
{
    private const string Trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string Parent = "00f067aa0ba902b7";

    // Tolerances: the CPU time is the child's own (it spins until clock_gettime(PROCESS_CPUTIME)
    // says so, page faults included), plus exec and exit, so at least the amount and at most
    // 250 ms more on a loaded machine. The peak is the child's resident set: the touched MiB plus
    // its small static image, and never below emissary's own resident set at the spawn (vfork).
    private const long BurnMs = 400;
    private const long TouchMiB = 64;

    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private static JsonElement Usage(string dir, string step)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, step, "status.json")));
        return doc.RootElement.GetProperty("usage").Clone();
    }

    [BlackBoxFact]
    public void Cpu_time_and_peak_memory_of_a_known_child_are_measured_within_tolerance_and_shown_everywhere()
    {
        string dir = NewControlDir();
        string log = Path.Combine(TempDir("tl"), "termination-log");
        ProcessResult result = RunEmissary("run", "--name", "burn", "--control-dir", dir, "--termination-log", log, "--",
            TestChildPath, "burn", BurnMs.ToString(), TouchMiB.ToString());
        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("measuring is silent\n{0}", result);

        JsonElement usage = Usage(dir, "burn");
        long cpu = usage.GetProperty("userCpuMs").GetInt64() + usage.GetProperty("systemCpuMs").GetInt64();
        cpu.Should().BeInRange(BurnMs - 10, BurnMs + 250, "the child burned {0} ms of CPU: {1}", BurnMs, usage);
        usage.GetProperty("maxRssKiB").GetInt64().Should().BeInRange(TouchMiB * 1024, TouchMiB * 1024 + 16 * 1024, "the child touched {0} MiB: {1}", TouchMiB, usage);
        usage.GetProperty("attempts").GetInt32().Should().Be(1);
        usage.GetProperty("runMs").GetInt64().Should().BeGreaterThanOrEqualTo(BurnMs - 10, "wall time running is at least the CPU time of one thread");
        usage.GetProperty("waitMs").GetInt64().Should().BeLessThan(1000, "there was no gate");
        usage.TryGetProperty("traceId", out _).Should().BeFalse("no endpoint: no trace");

        using (JsonDocument message = JsonDocument.Parse(File.ReadAllBytes(log)))
        {
            JsonElement u = message.RootElement.GetProperty("usage");
            (u.GetProperty("userCpuMs").GetInt64() + u.GetProperty("systemCpuMs").GetInt64()).Should().Be(cpu, "the termination message carries the same totals");
            u.GetProperty("maxRssKiB").GetInt64().Should().Be(usage.GetProperty("maxRssKiB").GetInt64());
            u.TryGetProperty("attemptList", out _).Should().BeFalse("the termination message has the totals only");
        }

        ProcessResult table = RunEmissary("status", "--control-dir", dir);
        table.ExitCode.Should().Be(0, "{0}", table);
        table.StdoutLines[0].Should().MatchRegex(@"^STEP\s+STATE\s+EXIT\s+REASON\s+STARTED\s+DURATION\s+CPU\s+PEAK MEM\s+DETAIL$");
        table.StdoutLines[1].Should().MatchRegex(@"^burn\s+succeeded\s+0\s+Completed\s+\S+\s+\S+\s+\d+ms\s+\d+(\.\d)?MiB\s", "{0}", table);

        ProcessResult json = RunEmissary("status", "--json", "--control-dir", dir);
        using JsonDocument all = JsonDocument.Parse(json.Stdout);
        all.RootElement[0].GetProperty("usage").GetProperty("maxRssKiB").GetInt64().Should().Be(usage.GetProperty("maxRssKiB").GetInt64());
    }

    [BlackBoxFact]
    public void Each_attempt_is_measured_on_its_own()
    {
        string dir = NewControlDir();
        ProcessResult result = RunEmissary("run", "--name", "flaky", "--control-dir", dir, "--retries", "1", "--retry-delay", "50ms", "--",
            TestChildPath, "burn", "200", "8", "3");
        result.ExitCode.Should().Be(3, "{0}", result);
        JsonElement usage = Usage(dir, "flaky");
        usage.GetProperty("attempts").GetInt32().Should().Be(2);
        JsonElement[] attempts = usage.GetProperty("attemptList").EnumerateArray().ToArray();
        attempts.Should().HaveCount(2);
        foreach (JsonElement a in attempts)
        {
            a.GetProperty("exitCode").GetInt32().Should().Be(3);
            (a.GetProperty("userCpuMs").GetInt64() + a.GetProperty("systemCpuMs").GetInt64()).Should().BeInRange(190, 450, "each attempt burned 200 ms: {0}", a);
        }
        (usage.GetProperty("userCpuMs").GetInt64() + usage.GetProperty("systemCpuMs").GetInt64()).Should().BeInRange(390, 900, "the step's total is both attempts: {0}", usage);
        usage.GetProperty("runMs").GetInt64().Should().BeGreaterThanOrEqualTo(400 + 50 - 20, "run time spans both attempts and the delay");
    }

    [BlackBoxFact]
    public void Spans_reach_an_OTLP_receiver_joined_to_the_given_trace_with_the_child_under_its_attempt()
    {
        using var receiver = new OtlpReceiver();
        string dir = NewControlDir();
        var env = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://localhost:{receiver.Port}",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-tenant=team%20a",
            ["OTEL_SERVICE_NAME"] = "nightly",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test",
            ["POD_NAME"] = "build-pod",
            ["POD_NAMESPACE"] = "ci",
            ["TRACEPARENT"] = $"00-{Trace}-{Parent}-01",
        };
        ProcessResult result = Start(EmissaryPath, ["run", "--name", "build", "--control-dir", dir, "--retries", "1", "--retry-delay", "10ms", "--",
            "/bin/sh", "-c", "echo \"$TRACEPARENT\"; exit 3"], env).WaitForExit();
        result.ExitCode.Should().Be(3, "export never changes the outcome\n{0}", result);
        result.StderrLines.Should().NotContain(l => l.Contains("telemetry"), "the export worked\n{0}", result);

        OtlpReceiver.Received request = receiver.WaitForRequests(1).Single();
        request.Head.Should().StartWith("POST /v1/traces HTTP/1.1\r\n");
        request.Head.Should().Contain("Content-Type: application/json").And.Contain("x-tenant: team a");

        IReadOnlyList<OtlpReceiver.Span> spans = receiver.Spans();
        spans.Should().OnlyContain(s => s.TraceId == Trace, "every span joins the trace of TRACEPARENT");
        OtlpReceiver.Span step = spans.Single(s => s.Name == "build");
        step.ParentSpanId.Should().Be(Parent, "the step's span is a child of the caller's span");
        step.StatusCode.Should().Be(2, "a failed step is an error");
        step.Attributes.Should().Contain("process.exit.code", "3").And.Contain("emissary.attempts", "2").And.Contain("emissary.state", "failed");
        step.Resource.Should().Contain("service.name", "nightly").And.Contain("k8s.pod.name", "build-pod").And.Contain("k8s.namespace.name", "ci")
            .And.Contain("deployment.environment", "test");
        OtlpReceiver.Span wait = spans.Single(s => s.Name == "wait");
        wait.ParentSpanId.Should().Be(step.SpanId);
        OtlpReceiver.Span[] attempts = spans.Where(s => s.Name.StartsWith("attempt ")).OrderBy(s => s.Name).ToArray();
        attempts.Select(a => a.Name).Should().Equal("attempt 1", "attempt 2");
        attempts.Should().OnlyContain(a => a.ParentSpanId == step.SpanId && a.StatusCode == 2 && a.Attributes["process.exit.code"] == "3" && a.Attributes.ContainsKey("process.pid"));
        attempts[0].End.Should().BeLessThanOrEqualTo(attempts[1].Start);
        spans.Select(s => s.SpanId).Distinct().Should().HaveCount(4);

        result.StdoutLines.Should().Equal(attempts.Select(a => $"00-{Trace}-{a.SpanId}-01"),
            "each attempt's child gets its own TRACEPARENT: the trace, and the attempt's span as parent");
        Usage(dir, "build").GetProperty("traceId").GetString().Should().Be(Trace);
    }

    [BlackBoxFact]
    public void Without_an_endpoint_nothing_is_exported_and_TRACEPARENT_passes_through_unchanged()
    {
        var env = new Dictionary<string, string> { ["TRACEPARENT"] = $"00-{Trace}-{Parent}-01" };
        ProcessResult result = Start(EmissaryPath, ["run", "--", "/bin/sh", "-c", "echo \"$TRACEPARENT\""], env).WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal($"00-{Trace}-{Parent}-01");
        result.Stderr.Should().BeEmpty();
    }

    [BlackBoxFact]
    public void A_failed_export_is_one_warning_and_never_changes_the_outcome()
    {
        foreach ((string endpoint, string expected) in new[]
        {
            ($"http://127.0.0.1:{LoopbackHttpServer.FreePort()}", "Connection refused"),
            ("https://collector.example:4318", "https:// is not supported"),
            ("http://no-such-host.invalid:4318", "cannot resolve 'no-such-host.invalid'"),
        })
        {
            var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint, ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1000" };
            ProcessResult result = Start(EmissaryPath, ["run", "--", TestChildPath, "exit", "0"], env).WaitForExit();
            result.ExitCode.Should().Be(0, "{0}", result);
            AssertNoStackTrace(result);
            result.StderrLines.Should().ContainSingle("{0}", result).Which.Should().StartWith("emissary: ")
                .And.Contain("telemetry: cannot export spans to").And.Contain(expected).And.Contain("the step's outcome is unchanged");
            result.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "export is bounded by the timeout\n{0}", result);
        }
    }

    [BlackBoxFact]
    public void A_hung_collector_costs_at_most_the_timeout_and_never_delays_the_steps_after()
    {
        using var receiver = new OtlpReceiver { Silent = true };
        string dir = NewControlDir();
        var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{receiver.Port}", ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1500" };
        RunningProcess down = StartEmissary("run", "--name", "down", "--control-dir", dir, "--after", "up", "--", TestChildPath, "exit", "0");
        var clock = Stopwatch.StartNew();
        RunningProcess up = Start(EmissaryPath, ["run", "--name", "up", "--control-dir", dir, "--", TestChildPath, "exit", "0"], env);
        ProcessResult downResult = down.WaitForExit();
        TimeSpan downDone = clock.Elapsed;
        ProcessResult upResult = up.WaitForExit();
        TimeSpan upDone = clock.Elapsed;

        downResult.ExitCode.Should().Be(0, "{0}", downResult);
        upResult.ExitCode.Should().Be(0, "{0}", upResult);
        receiver.WaitForRequests(1);
        downDone.Should().BeLessThan(upDone - TimeSpan.FromMilliseconds(500), "the dependant ran while the upstream was still waiting for the collector\n{0}\n{1}", upResult, downResult);
        upResult.StderrLines.Should().ContainSingle().Which.Should().Contain("timed out");
        upResult.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(4), "{0}", upResult);
    }
}
