using System.Runtime.Versioning;
using System.Text.Json;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Issue #28: steps that know the kubelet restarts their container (--restart-policy,
/// --restart-rules), pod incarnations after an in-place restart of every container, and the
/// container's stop signal as PID 1. Here the test plays the kubelet: it runs a step's
/// emissary again in the same control directory, as a restarted container would.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RestartTests : BlackBoxTest
{
    /// <summary>Long enough to be sure a gate did not open by mistake; not a synchronisation point.</summary>
    private static readonly TimeSpan StillWaiting = TimeSpan.FromMilliseconds(400);

    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    private const string RestartOn42 = """[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]""";
    private const string RestartUnless3 = """[{"action":"Restart","exitCodes":{"operator":"NotIn","values":[0,3]}}]""";
    private const string RestartPodOn9 = """[{"action":"RestartAllContainers","exitCodes":{"operator":"In","values":[9]}}]""";

    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, int exitCode) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", "/bin/sh", "-c", $"echo ran {name}; exit {exitCode}"]);

    private static JsonElement StatusJson(string dir, string name) =>
        JsonDocument.Parse(File.ReadAllText(Steps.PathOf(dir, name, "status.json"))).RootElement;

    private static int Restarts(string dir, string name) =>
        StatusJson(dir, name).TryGetProperty("restarts", out var r) ? r.GetInt32() : 0;

    public static TheoryData<string[], int, string> Verdicts => new()
    {
        // policy alone
        { ["--restart-policy", "OnFailure"], 1, "restarting" },
        { ["--restart-policy", "Always"], 1, "restarting" },
        { ["--restart-policy", "Never"], 1, "failed" },
        { [], 1, "failed" },
        { ["--restart-policy", "OnFailure"], 0, "succeeded" },
        // rules first, then the policy (KEP-5307)
        { ["--restart-policy", "Never", "--restart-rules", RestartOn42], 42, "restarting" },
        { ["--restart-policy", "Never", "--restart-rules", RestartOn42], 1, "failed" },
        { ["--restart-policy", "Never", "--restart-rules", RestartUnless3], 3, "failed" },
        { ["--restart-policy", "Never", "--restart-rules", RestartUnless3], 4, "restarting" },
        { ["--restart-policy", "Never", "--restart-rules", RestartUnless3], 0, "succeeded" },
    };

    [BlackBoxTheory]
    [MemberData(nameof(Verdicts))]
    public void A_failure_is_restarting_exactly_when_the_policy_or_a_rule_restarts_it(string[] flags, int exitCode, string state)
    {
        string dir = NewControlDir();

        var result = Step(dir, "up", flags, exitCode).WaitForExit(HangGuard);

        result.ExitCode.Should().Be(exitCode, "the container exits with the command's code: the kubelet decides on it\n{0}", result);
        Steps.Status(dir, "up")!.State.Should().Be(state, "{0}", result);
        File.Exists(Steps.PathOf(dir, "up", "exitcode")).Should().Be(state != "restarting",
            "a restarting step has not finished: no exitcode, so no dependant reads it as failed");
        Steps.IsLockHeld(Steps.PathOf(dir, "up", "lock")).Should().BeFalse("its emissary is gone");
        AssertNoStackTrace(result);
    }

    [BlackBoxFact]
    public void A_dependant_waits_through_its_upstreams_restarts_and_then_runs()
    {
        // The issue's Job: restartPolicy OnFailure, the first step fails twice, then succeeds. Before,
        // the dependant was skipped with 123 at the first failure (and restarted by the kubelet).
        string dir = NewControlDir();
        var dependant = Step(dir, "deploy", ["--after", "build", "--restart-policy", "OnFailure"], 0);
        Steps.WaitForStatus(dir, "deploy", s => s.State == "waiting", "deploy to wait");

        for (int run = 0; run < 2; run++)
        {
            var failed = Step(dir, "build", ["--restart-policy", "OnFailure"], 1).WaitForExit(HangGuard);
            failed.ExitCode.Should().Be(1, "{0}", failed);
            Steps.Status(dir, "build")!.State.Should().Be("restarting");
            Restarts(dir, "build").Should().Be(run, "the restarts are counted in the control directory");
            var table = RunEmissary("status", "--control-dir", dir);
            table.StdoutLines.Should().Contain(l => l.StartsWith("build ", StringComparison.Ordinal) && l.Contains(" restarting") && !l.Contains("crashed"),
                "a restarting step's emissary is gone on purpose\n{0}", table);
            Thread.Sleep(StillWaiting);
            dependant.HasExited.Should().BeFalse("deploy keeps waiting through build's restart\n{0}", dependant.Describe());
        }
        var succeeded = Step(dir, "build", ["--restart-policy", "OnFailure"], 0).WaitForExit(HangGuard);

        succeeded.ExitCode.Should().Be(0, "{0}", succeeded);
        Restarts(dir, "build").Should().Be(2, "the third run of the container");
        var result = dependant.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(0, "deploy runs once build succeeded\n{0}", result);
        result.StdoutLines.Should().Contain("ran deploy");
        Steps.Status(dir, "deploy")!.State.Should().Be("succeeded");
    }

    [BlackBoxFact]
    public void Retries_inside_the_container_come_before_the_kubelets_restart()
    {
        // --retries 1: two attempts in this container; only when both failed is the container restarted.
        string dir = NewControlDir();

        var result = StartEmissary("run", "--name", "up", "--control-dir", dir, "--retries", "1", "--retry-delay", "10ms",
            "--restart-policy", "OnFailure", "--", "/bin/sh", "-c", "echo attempt; exit 1").WaitForExit(HangGuard);

        result.ExitCode.Should().Be(1, "{0}", result);
        result.StdoutLines.Count(l => l == "attempt").Should().Be(2, "{0}", result);
        Steps.Status(dir, "up")!.State.Should().Be("restarting");
    }

    [BlackBoxFact]
    public void Only_a_failure_no_restart_follows_releases_the_dependants_as_failed()
    {
        // restartPolicyRules restart on 42 only: 42 keeps the dependant waiting, 1 skips it.
        string dir = NewControlDir();
        var dependant = Step(dir, "deploy", ["--after", "build"], 0);
        Steps.WaitForStatus(dir, "deploy", s => s.State == "waiting", "deploy to wait");

        Step(dir, "build", ["--restart-rules", RestartOn42], 42).WaitForExit(HangGuard).ExitCode.Should().Be(42);
        Thread.Sleep(StillWaiting);
        dependant.HasExited.Should().BeFalse("a failure that is restarted releases nobody\n{0}", dependant.Describe());
        Step(dir, "build", ["--restart-rules", RestartOn42], 1).WaitForExit(HangGuard).ExitCode.Should().Be(1);

        var result = dependant.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(123, "the final failure skips the dependant\n{0}", result);
        result.StdoutLines.Should().NotContain("ran deploy");
        Steps.Status(dir, "build")!.State.Should().Be("failed");
        Restarts(dir, "build").Should().Be(1);
    }

    [BlackBoxFact]
    public void After_every_container_restarted_in_place_stale_records_read_as_not_yet_run()
    {
        // KEP-5532: "setup" succeeded, then "main" failed with a RestartAllContainers rule. The
        // kubelet restarts every container; the emptyDir keeps setup's old record (exitcode 0).
        string dir = NewControlDir();
        Step(dir, "setup", [], 0).WaitForExit(HangGuard).ExitCode.Should().Be(0);
        Step(dir, "main", ["--after", "setup", "--restart-rules", RestartPodOn9], 9).WaitForExit(HangGuard).ExitCode.Should().Be(9);
        Steps.Status(dir, "main")!.State.Should().Be("restarting");
        File.Exists(Path.Combine(dir, ".incarnation")).Should().BeTrue("main's exit starts a new incarnation of the pod");

        // The new incarnation: main's container starts before setup's.
        var main = Step(dir, "main", ["--after", "setup", "--restart-rules", RestartPodOn9], 0);
        Thread.Sleep(StillWaiting);
        main.HasExited.Should().BeFalse("setup's record is from before the restart: not yet run\n{0}", main.Describe());
        Restarts(dir, "main").Should().Be(0, "a new incarnation, not a restart of main's own container");

        var setup = Step(dir, "setup", [], 0).WaitForExit(HangGuard);
        setup.ExitCode.Should().Be(0, "{0}", setup);
        var result = main.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(0, "main runs after setup ran again\n{0}", result);
        result.StdoutLines.Should().Contain("ran main");
        StatusJson(dir, "main").GetProperty("incarnation").GetString().Should()
            .Be(File.ReadAllText(Path.Combine(dir, ".incarnation")).Trim(), "records carry the incarnation they belong to");
    }

    [BlackBoxTheory]
    [InlineData("--restart-policy", "Sometimes", "--restart-policy: 'Sometimes' is not a restart policy (Never, OnFailure or Always)")]
    [InlineData("--restart-rules", "{", "--restart-rules: not JSON")]
    [InlineData("--restart-rules", "[{\"action\":\"Explode\",\"exitCodes\":{\"operator\":\"In\",\"values\":[1]}}]", "--restart-rules: rule 0: action 'Explode' is not Restart or RestartAllContainers")]
    [InlineData("--restart-rules", "[{\"action\":\"Restart\",\"exitCodes\":{\"operator\":\"In\",\"values\":[\"1\"]}}]", "--restart-rules: rule 0: exit codes are integers")]
    public void Bad_restart_flags_are_one_line_and_exit_125(string flag, string value, string message)
    {
        var result = RunEmissary("run", flag, value, "--", "true");

        result.ExitCode.Should().Be(125, "{0}", result);
        result.Stderr.Should().Contain(message);
        AssertOneEmissaryErrorLine(result);
    }

    // ---- what a neighbour can do with forged records ----

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "setpriv")]
    public void A_forged_restarting_record_only_delays_a_dependant_until_its_wait_timeout()
    {
        // Another uid plants DIR/build with a restarting status: the dependant cannot be made to
        // run (nor to be skipped); it waits, and --wait-timeout ends the wait.
        string dir = NewControlDir();
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x3FF); // 01777, as emissary makes it
        var plant = Run("setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c",
            $"mkdir {dir}/build && printf '%s' '{{\"name\":\"build\",\"state\":\"restarting\",\"exitCode\":1,\"restarts\":2147483647}}' > {dir}/build/status.json");
        plant.ExitCode.Should().Be(0, "{0}", plant);

        var result = StartEmissary("run", "--name", "deploy", "--control-dir", dir, "--after", "build", "--wait-timeout", "500ms",
            "--", "/bin/sh", "-c", "echo ran deploy").WaitForExit(HangGuard);

        result.ExitCode.Should().Be(125, "the wait ends on its timeout\n{0}", result);
        result.StdoutLines.Should().NotContain("ran deploy");
        result.Stderr.Should().Contain("gave up after waiting");
    }

    [BlackBoxTheory(Needs = Needs.Root)]
    [Trait("Needs", "setpriv")]
    [InlineData("mkfifo {0}")]
    [InlineData("ln -s /dev/zero {0}")]
    [InlineData("head -c 100000 /dev/zero | tr '\\0' a > {0}")]
    [InlineData("printf 'not hex\\n' > {0}")]
    public void A_planted_incarnation_that_is_no_id_is_ignored_without_blocking(string plant)
    {
        // DIR/.incarnation is in the shared root: any uid can plant something there. A FIFO, a link
        // to an endless device, a huge or a malformed file is "no incarnation": the hand-off works.
        string dir = NewControlDir();
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x3FF);
        Step(dir, "build", [], 0).WaitForExit(HangGuard).ExitCode.Should().Be(0);
        var planted = Run("setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c",
            string.Format(System.Globalization.CultureInfo.InvariantCulture, plant, Path.Combine(dir, ".incarnation")));
        planted.ExitCode.Should().Be(0, "{0}", planted);

        var result = Step(dir, "deploy", ["--after", "build", "--wait-timeout", "5s"], 0).WaitForExit(HangGuard);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran deploy");
    }

    // ---- the container's stop signal, as PID 1 ----

    [BlackBoxFact(Needs = Needs.Root)]
    [Trait("Needs", "unshare")]
    public void As_pid_1_the_stop_signal_is_forwarded_as_it_came_then_the_group_is_killed_after_the_grace()
    {
        // lifecycle.stopSignal: USR1 (rewrite passes it as --stop-signal). The child takes USR1 and
        // goes on; before, emissary forwarded it and waited forever for a child that would not stop.
        var unshare = Start("unshare", new[] { "--pid", "--fork", "--mount-proc", EmissaryPath, "run", "--stop-signal", "USR1", "--grace", "500ms",
            "--", TestChildPath, "signals", "60" });
        int pid = 0;
        Steps.WaitUntil(() => (ProcTable.ChildrenOf(unshare.Pid) is [var only] && (pid = only.Pid) > 0) || unshare.HasExited, "emissary as PID 1");
        unshare.WaitForLine("ready");

        Libc.Kill(pid, 10).Should().BeTrue();
        unshare.WaitForLine("got USR1");
        var result = unshare.WaitForExit(HangGuard);

        result.ExitCode.Should().Be(137, "SIGKILL after the grace\n{0}", result);
        result.Stderr.Should().Contain("sending SIGKILL");
        AssertNoStackTrace(result);
    }
}
