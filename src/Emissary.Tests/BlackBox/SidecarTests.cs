using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Sidecars (issue #5): <c>--sidecar-of</c> stops a wrapped sidecar once its steps are over,
/// <c>--quit-url</c>/<c>--quit</c> tell injected sidecars to quit, and <c>--wait-http</c>/
/// <c>--wait-tcp</c>/<c>--wait-proxy</c> hold a step until a sidecar is ready. HTTP endpoints are
/// <see cref="LoopbackHttpServer"/>s on random ports: the fixed preset ports are never bound.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SidecarTests : BlackBoxTest
{
    /// <summary>Long enough to be sure a sidecar or gate did not react by mistake; not a synchronisation point.</summary>
    private static readonly TimeSpan StillRunning = TimeSpan.FromMilliseconds(400);

    /// <summary>A sidecar that exits 0 on TERM, prints `up` once it is set up.</summary>
    private static readonly string[] PoliteSidecar = ["/bin/sh", "-c", "trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done"];

    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    /// <summary>status.json of step NAME, or null while there is none (or it cannot be read yet).</summary>
    private static JsonElement? Status(string dir, string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, name, "status.json")));
            return doc.RootElement.Clone();
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement status, string property) =>
        status.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Number(JsonElement status, string property) =>
        status.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : null;

    private static DateTimeOffset Time(JsonElement status, string property) =>
        DateTimeOffset.Parse(Text(status, property) ?? throw new XunitException($"status.json has no {property}: {status}"), CultureInfo.InvariantCulture);

    /// <summary>Polls status.json (this is the test, not a gate) until <paramref name="until"/> holds.</summary>
    private static JsonElement WaitForStatus(string dir, string name, Func<JsonElement, bool> until, string description)
    {
        var clock = Stopwatch.StartNew();
        JsonElement? last = null;
        while ((last = Status(dir, name)) is not { } s || !until(s))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
                throw new XunitException($"timed out waiting for {description}; last status.json of '{name}': {last?.ToString() ?? "none"}");
            Thread.Sleep(5);
        }
        return last.Value;
    }

    private static JsonElement WaitForState(string dir, string name, string state) =>
        WaitForStatus(dir, name, s => Text(s, "state") == state, $"step '{name}' to be {state}");

    private static void AssertStillRunning(RunningProcess sidecar, string dir, string name, string why)
    {
        Thread.Sleep(StillRunning);
        sidecar.HasExited.Should().BeFalse("{0}\n{1}", why, sidecar.Describe());
        Text(Status(dir, name)!.Value, "state").Should().Be("running", why);
    }

    private static void AssertStopped(JsonElement status, string why)
    {
        Text(status, "state").Should().Be("succeeded", "{0}: {1}", why, status);
        Text(status, "reason").Should().Be("Stopped", "{0}: {1}", why, status);
        Number(status, "exitCode").Should().Be(0, "{0}: {1}", why, status);
    }

    /// <summary>
    /// The sidecar was stopped because its last step was over: by its own record (status.json
    /// finishedAt) it finished after that moment. How soon is a timing claim for scripts/bench.sh;
    /// here the sidecar would otherwise run forever, so the hang guard of WaitForExit shows it
    /// was stopped at all.
    /// </summary>
    private static void AssertStoppedAfter(string dir, string sidecar, DateTimeOffset over, string why)
    {
        var finishedAt = Time(Status(dir, sidecar)!.Value, "finishedAt");
        finishedAt.Should().BeOnOrAfter(over.AddMilliseconds(-1), // both clocks round to the millisecond
            "{0}: the sidecar finished at {1:HH:mm:ss.fff}, its last step was over at {2:HH:mm:ss.fff}", why, finishedAt, over);
    }

    private static List<string> EmissaryLines(ProcessResult result) =>
        result.StderrLines.Where(l => l.StartsWith("emissary: ", StringComparison.Ordinal)).ToList();

    // ---- --sidecar-of ----

    [BlackBoxFact]
    public void A_wrapped_sidecar_is_stopped_with_TERM_when_its_step_finishes_and_that_counts_as_success()
    {
        string dir = NewControlDir();
        var db = Step(dir, "db", ["--sidecar-of", "main"], PoliteSidecar);
        db.WaitForLine("up");
        WaitForState(dir, "db", "running");
        AssertStillRunning(db, dir, "db", "a sidecar runs while its step has not even started");

        var main = Step(dir, "main", [], "true").WaitForExit();
        var result = db.WaitForExit();

        main.ExitCode.Should().Be(0, "{0}", main);
        result.ExitCode.Should().Be(0, "a sidecar stopped because its step is over exits 0\n{0}", result);
        EmissaryLines(result).Should().BeEmpty("emissary is silent when all goes well (the shell may report its sleep's TERM)\n{0}", result);
        AssertStoppedAfter(dir, "db", Time(Status(dir, "main")!.Value, "finishedAt"), "the sidecar stops once its step has finished");
        AssertStopped(Status(dir, "db")!.Value, "status.json of the sidecar");
        File.ReadAllText(Path.Combine(dir, "db", "exitcode")).Should().Be("0\n");
    }

    [BlackBoxFact]
    public void A_sidecar_that_ignores_TERM_is_SIGKILLed_after_the_grace_period_and_still_counts_as_stopped()
    {
        string dir = NewControlDir();
        var db = Step(dir, "db", ["--sidecar-of", "main", "--grace", "300ms"],
            "/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done");
        db.WaitForLine("up");
        WaitForState(dir, "db", "running");

        Step(dir, "main", [], "true").WaitForExit().ExitCode.Should().Be(0);
        var result = db.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertNoStackTrace(result);
        AssertStoppedAfter(dir, "db", Time(Status(dir, "main")!.Value, "finishedAt"), "SIGKILL follows TERM after --grace 300ms");
        var status = Status(dir, "db")!.Value;
        AssertStopped(status, "killed after the grace period, the sidecar still counts as stopped");
        (Time(status, "finishedAt") - Time(Status(dir, "main")!.Value, "finishedAt")).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290),
            "SIGKILL only after the grace period");
        // Nothing left behind (the shell and its sleeps ignored TERM): checked by BlackBoxTest.Dispose.
    }

    [BlackBoxFact]
    public void Stop_signal_chooses_the_signal_the_sidecar_is_stopped_with()
    {
        string dir = NewControlDir();
        var db = Step(dir, "db", ["--sidecar-of", "main", "--stop-signal", "INT", "--grace", "1h"],
            "/bin/sh", "-c", "trap 'echo stopped-by-INT; exit 0' INT; trap 'echo stopped-by-TERM; exit 0' TERM; echo up; while :; do sleep 0.05; done");
        db.WaitForLine("up");
        WaitForState(dir, "db", "running");

        Step(dir, "main", [], "true").WaitForExit().ExitCode.Should().Be(0);
        var result = db.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("stopped-by-INT", "--stop-signal INT is what the sidecar gets\n{0}", result);
        result.StdoutLines.Should().NotContain("stopped-by-TERM", "{0}", result);
        AssertStoppedAfter(dir, "db", Time(Status(dir, "main")!.Value, "finishedAt"), "the sidecar exits on INT: no grace period (1h, beyond the hang guard), no SIGKILL");
        AssertStopped(Status(dir, "db")!.Value, "stopped with INT");
    }

    [BlackBoxFact]
    public void A_sidecar_that_crashes_before_its_step_finishes_fails_with_its_own_exit_code()
    {
        string dir = NewControlDir();
        var main = Step(dir, "main", [], TestChildPath, "signals", "30");
        main.WaitForLine("ready");

        var result = Step(dir, "db", ["--sidecar-of", "main"], "/bin/sh", "-c", "echo crashing; exit 3").WaitForExit();

        result.ExitCode.Should().Be(3, "a sidecar that dies on its own is a failure, not a stop\n{0}", result);
        var status = Status(dir, "db")!.Value;
        Text(status, "state").Should().Be("failed", "{0}", status);
        Number(status, "exitCode").Should().Be(3);
        Text(status, "reason").Should().NotBe("Stopped", "{0}", status);
        main.HasExited.Should().BeFalse("the sidecar's failure does not touch its step");
        main.Signal(Libc.SIGTERM);
        main.WaitForExit().ExitCode.Should().Be(0);
    }

    [BlackBoxTheory]
    [InlineData("succeeded")]
    [InlineData("failed")]
    [InlineData("skipped")]
    [InlineData("crashed")]
    [InlineData("crashed while waiting")]
    public void A_sidecar_of_several_steps_stops_only_once_all_are_over(string howTheLastEnds)
    {
        string dir = NewControlDir();
        var db = Step(dir, "db", ["--sidecar-of", "a,b"], PoliteSidecar);
        db.WaitForLine("up");
        WaitForState(dir, "db", "running");
        int orphan = 0;
        DateTimeOffset over = default;
        try
        {
            Step(dir, "a", [], "true").WaitForExit().ExitCode.Should().Be(0);
            AssertStillRunning(db, dir, "db", "step 'b' is not over yet");

            switch (howTheLastEnds)
            {
                case "succeeded":
                    Step(dir, "b", [], "true").WaitForExit().ExitCode.Should().Be(0);
                    break;
                case "failed":
                    Step(dir, "b", [], "/bin/sh", "-c", "exit 2").WaitForExit().ExitCode.Should().Be(2);
                    break;
                case "skipped":
                    Step(dir, "x", [], "/bin/sh", "-c", "exit 1").WaitForExit().ExitCode.Should().Be(1);
                    Step(dir, "b", ["--after", "x"], "true").WaitForExit().ExitCode.Should().Be(123, "b is skipped");
                    break;
                case "crashed while waiting":
                    var waiting = Step(dir, "b", ["--after", "never"], "true");
                    WaitForState(dir, "b", "waiting");
                    AssertStillRunning(db, dir, "db", "step 'b' is waiting");
                    over = DateTimeOffset.UtcNow;
                    waiting.Signal(Libc.SIGKILL);
                    waiting.WaitForExit();
                    break;
                default:
                    var b = Step(dir, "b", [], TestChildPath, "signals", "30");
                    b.WaitForLine("ready");
                    orphan = Number(WaitForState(dir, "b", "running"), "pid") ?? 0;
                    AssertStillRunning(db, dir, "db", "step 'b' is running");
                    over = DateTimeOffset.UtcNow;
                    b.Signal(Libc.SIGKILL); // its emissary dies without finishing: the lock is released
                    b.WaitForExit(waitForOutput: false);
                    break;
            }
            var result = db.WaitForExit();
            if (over == default)
                over = Time(Status(dir, "b")!.Value, "finishedAt");

            result.ExitCode.Should().Be(0, "{0}", result);
            AssertStoppedAfter(dir, "db", over, $"a {howTheLastEnds} step counts as over");
            AssertStopped(Status(dir, "db")!.Value, $"after b {howTheLastEnds}");
        }
        finally
        {
            if (orphan > 0)
                Libc.Kill(orphan, Libc.SIGKILL); // the crashed step's command, orphaned by the SIGKILL
        }
    }

    // ---- --quit-url / --quit ----

    [BlackBoxTheory]
    [InlineData("success", 0)]
    [InlineData("failure", 3)]
    [InlineData("skipped", 123)]
    public void Quit_url_receives_a_POST_after_the_command_ends_whatever_the_outcome(string outcome, int exitCode)
    {
        using var server = new LoopbackHttpServer(200);
        string dir = NewControlDir();
        string[] flags = ["--quit-url", server.Url("/quitquitquit")];
        if (outcome == "skipped")
        {
            Step(dir, "up", [], "/bin/sh", "-c", "exit 1").WaitForExit().ExitCode.Should().Be(1);
            flags = [.. flags, "--after", "up"];
        }

        var result = Step(dir, "main", flags, "/bin/sh", "-c", $"echo ran; sleep 0.1; exit {(outcome == "failure" ? 3 : 0)}").WaitForExit();

        result.ExitCode.Should().Be(exitCode, "{0}", result);
        if (outcome != "skipped")
            EmissaryLines(result).Should().BeEmpty("the sidecar answered 200: nothing to warn about\n{0}", result);
        server.Requests.Should().ContainSingle("one POST is enough when it is answered 2xx: {0}", server.Describe());
        var request = server.Requests[0];
        request.Method.Should().Be("POST");
        request.Path.Should().Be("/quitquitquit");
        var finishedAt = Time(Status(dir, "main")!.Value, "finishedAt");
        request.At.Should().BeOnOrAfter(finishedAt, "the POST is sent after the command ended (status finishedAt {0:HH:mm:ss.fff})", finishedAt);
    }

    [BlackBoxTheory]
    [InlineData("answers 500", 0)]
    [InlineData("answers 500", 3)]
    [InlineData("is down", 0)]
    [InlineData("is down", 3)]
    [InlineData("never answers", 3)]
    public void A_quit_url_that_fails_is_one_warning_keeps_the_exit_code_and_does_not_hang(string server, int exitCode)
    {
        using var http = server == "is down" ? null : new LoopbackHttpServer(server == "answers 500" ? 500 : 200) { Silent = server == "never answers" };
        string url = http?.Url("/quitquitquit") ?? $"http://127.0.0.1:{LoopbackHttpServer.FreePort()}/quitquitquit";

        var result = RunEmissary("run", "--quit-url", url, "--", "/bin/sh", "-c", $"exit {exitCode}");

        result.ExitCode.Should().Be(exitCode, "the quit request never changes the step's exit code\n{0}", result);
        AssertNoStackTrace(result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("one warning\n{0}", result);
        lines[0].Should().Contain("warning").And.Contain(url);
        if (http is not null)
            http.Requests.Should().NotBeEmpty().And.OnlyContain(r => r.Method == "POST" && r.Path == "/quitquitquit");
    }

    [BlackBoxFact]
    public void Quit_with_an_unknown_preset_is_a_usage_error_naming_the_known_presets()
    {
        var result = RunEmissary("run", "--quit", "nope", "--", "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("nope").And.Contain("istio").And.Contain("linkerd");
        result.StdoutLines.Should().NotContain("ran");
    }

    // ---- --wait-http / --wait-tcp / --wait-proxy ----

    [BlackBoxFact]
    public void Wait_http_holds_the_command_until_the_endpoint_answers_2xx()
    {
        using var server = new LoopbackHttpServer(503);
        string dir = NewControlDir();
        string url = server.Url("/healthz/ready");
        var step = Step(dir, "main", ["--wait-http", url], "/bin/sh", "-c", "echo ran");

        server.WaitForRequests(3, r => r is { Method: "GET", Path: "/healthz/ready", AnsweredStatus: 503 }, "GET /healthz/ready answered 503");
        step.HasExited.Should().BeFalse("503 keeps the gate closed\n{0}", step.Describe());
        step.StdoutLines.Should().NotContain("ran");
        Text(Status(dir, "main")!.Value, "state").Should().Be("waiting");
        var switchedAt = server.Answer(200);
        var result = step.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran", "the command runs once the endpoint answers 200\n{0}", result);
        Time(Status(dir, "main")!.Value, "startedAt").Should().BeOnOrAfter(switchedAt.AddMilliseconds(-1), "the command started only after the switch to 200");
        server.Requests.Should().OnlyContain(r => r.Method == "GET" && r.Path == "/healthz/ready");
        server.Requests.Where(r => r.At < switchedAt).Should().OnlyContain(r => r.AnsweredStatus == 503);
        server.Requests.Should().Contain(r => r.AnsweredStatus == 200);
    }

    [BlackBoxFact]
    public void Wait_tcp_holds_the_command_until_a_listener_exists()
    {
        int port = LoopbackHttpServer.FreePort();
        string dir = NewControlDir();
        var step = Step(dir, "main", ["--wait-tcp", $"127.0.0.1:{port}"], "/bin/sh", "-c", "echo ran");
        WaitForState(dir, "main", "waiting");
        Thread.Sleep(StillRunning);
        step.HasExited.Should().BeFalse("nothing listens on {0} yet\n{1}", port, step.Describe());

        var listeningAt = DateTimeOffset.UtcNow;
        using var listener = new LoopbackHttpServer(200, port);
        var result = step.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran", "{0}", result);
        Time(Status(dir, "main")!.Value, "startedAt").Should().BeOnOrAfter(listeningAt.AddMilliseconds(-1));
    }

    [BlackBoxTheory]
    [InlineData("http answering 503")]
    [InlineData("http nobody listening")]
    [InlineData("tcp nobody listening")]
    public void A_readiness_gate_gives_up_cleanly_after_wait_timeout(string gate)
    {
        using var server = gate == "http answering 503" ? new LoopbackHttpServer(503) : null;
        string target, flag;
        if (gate.StartsWith("http", StringComparison.Ordinal))
        {
            flag = "--wait-http";
            target = server?.Url("/ready") ?? $"http://127.0.0.1:{LoopbackHttpServer.FreePort()}/ready";
        }
        else
        {
            flag = "--wait-tcp";
            target = $"127.0.0.1:{LoopbackHttpServer.FreePort()}";
        }

        var result = RunEmissary("run", flag, target, "--wait-timeout", "500ms", "--", "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(125, "a gate timeout is emissary's failure\n{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain(target, "the line names what it waited for");
        result.StdoutLines.Should().NotContain("ran");
        // Roughly the timeout: emissary measures it with a coarse monotonic clock, a few ms either way.
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(450), "{0}", result);
    }

    [BlackBoxFact]
    public void Wait_proxy_with_an_unknown_preset_is_a_usage_error()
    {
        var result = RunEmissary("run", "--wait-proxy", "nope", "--", "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("nope").And.Contain("istio").And.Contain("linkerd");
        result.StdoutLines.Should().NotContain("ran");
    }

    [BlackBoxTheory]
    [InlineData("--wait-http")]
    [InlineData("--quit-url")]
    public void Only_http_urls_are_accepted(string flag)
    {
        var result = RunEmissary("run", flag, "https://127.0.0.1:15021/healthz/ready", "--", "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain(flag).And.Contain("https://127.0.0.1:15021/healthz/ready");
        result.StdoutLines.Should().NotContain("ran");
    }
}
