using System.Diagnostics;
using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// The run policy of `emissary run` (issue #3): --timeout/--grace, --on-error, --retries and
/// --retry-delay, and how they show in the exit code and the step's markers.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RunPolicyTests : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    /// <summary>
    /// A shell command that counts its runs in <paramref name="counter"/>, prints `attempt N` and
    /// exits with <paramref name="exitExpression"/> (shell arithmetic over n).
    /// </summary>
    private static string[] Attempt(string counter, string exitExpression) =>
        ["/bin/sh", "-c", "n=$(cat \"$0\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0\"; echo attempt $n; exit $((" + exitExpression + "))", counter];

    private static string[] Attempts(ProcessResult result) =>
        result.StdoutLines.Where(l => l.StartsWith("attempt ", StringComparison.Ordinal)).ToArray();

    // ---- --timeout / --grace ----

    [BlackBoxFact]
    public void A_timeout_stops_the_command_with_TERM_and_exits_124_with_reason_TimeoutExceeded()
    {
        string dir = NewControlDir();

        var result = Step(dir, "slow", ["--timeout", "500ms"], TestChildPath, "signals", "30").WaitForExit();

        result.ExitCode.Should().Be(124, "even though the command itself exited 0 on TERM\n{0}", result);
        result.StdoutLines.Should().Contain("got TERM", "{0}", result);
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(490));
        AssertNoStackTrace(result);
        var status = Steps.Status(dir, "slow")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(124);
        status.Reason.Should().Be("TimeoutExceeded");
        File.ReadAllText(Steps.PathOf(dir, "slow", "exitcode")).Should().Be("124\n");
    }

    [BlackBoxFact]
    public void A_command_that_ends_before_the_timeout_keeps_its_exit_code()
    {
        // Waiting for the hour would trip RunEmissary's hang guard.
        var result = RunEmissary("run", "--timeout", "1h", "--", TestChildPath, "exit", "7");

        result.ExitCode.Should().Be(7, "{0}", result);
    }

    [BlackBoxFact]
    public void The_timeout_TERM_goes_to_the_whole_process_group()
    {
        // The shell ignores TERM (so it waits for both); each testchild catches it.
        const string script = "trap '' TERM; testchild signals 30 & testchild signals 30 & wait";

        // A grace far beyond the hang guard: ending at all shows nobody needed SIGKILL.
        var result = RunEmissary("run", "--timeout", "1s", "--grace", "1h", "--", "/bin/sh", "-c", script);

        result.ExitCode.Should().Be(124, "{0}", result);
        result.StdoutLines.Count(l => l == "ready").Should().Be(2, "{0}", result);
        result.StdoutLines.Count(l => l == "got TERM").Should().Be(2, "both processes of the group get TERM\n{0}", result);
    }

    [BlackBoxFact]
    public void A_command_that_ignores_TERM_is_killed_after_the_grace()
    {
        var emissary = StartEmissary("run", "--timeout", "300ms", "--grace", "700ms", "--", TestChildPath, "ignore-term", "3600");
        emissary.WaitForLine("ready");

        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(124, "{0}", result);
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(950), "SIGKILL only after timeout + grace\n{0}", result);
    }

    [BlackBoxFact]
    public void After_the_grace_the_whole_group_is_killed()
    {
        // Three processes that ignore TERM, all in the command's process group: the harness fails
        // the test if any is left alive.
        const string script = "trap '' TERM; testchild ignore-term 60 & testchild ignore-term 60 & testchild ignore-term 60";

        var emissary = StartEmissary("run", "--timeout", "300ms", "--grace", "500ms", "--", "/bin/sh", "-c", script);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(124, "{0}", result);
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(750));
        Steps.WaitUntil(() => ProcTable.WithToken(Token).Count == 0, "every process of the group to be gone", TimeSpan.FromSeconds(1));
    }

    [BlackBoxFact]
    public void The_group_keeps_its_grace_when_the_leader_exits_on_TERM_first()
    {
        // The leader (sh) dies of TERM at once; its background job cleans up for 1 s, well within
        // the 10 s grace. Contract: "SIGTERM to the process group, then SIGKILL after --grace".
        const string script = "testchild term-cleanup 1 & wait";

        var result = RunEmissary("run", "--timeout", "500ms", "--grace", "10s", "--", "/bin/sh", "-c", script);

        result.ExitCode.Should().Be(124, "{0}", result);
        result.StdoutLines.Should().Contain("cleaning up", "{0}", result);
        result.StdoutLines.Should().Contain("cleaned up", "a group member that handles TERM gets the grace period before SIGKILL\n{0}", result);
    }

    [BlackBoxFact]
    public void The_default_grace_is_10_seconds()
    {
        var emissary = StartEmissary("run", "--timeout", "300ms", "--", TestChildPath, "ignore-term", "3600");
        emissary.WaitForLine("ready");

        // The hang guard (60 s) leaves room for a loaded machine and still tells 10 s from a minute.
        var result = emissary.WaitForExit(TimeSpan.FromSeconds(60));

        result.ExitCode.Should().Be(124, "{0}", result);
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(10), "{0}", result);
        result.Stderr.Should().Contain("still running 10s after being asked to stop: sending SIGKILL", "{0}", result);
    }

    [BlackBoxFact]
    public void Timeout_and_grace_can_come_from_the_environment()
    {
        var env = new Dictionary<string, string> { ["EMISSARY_TIMEOUT"] = "300ms", ["EMISSARY_GRACE"] = "300ms" };

        var result = Start(EmissaryPath, ["run", "--", TestChildPath, "ignore-term", "3600"], env).WaitForExit();

        result.ExitCode.Should().Be(124, "{0}", result);
        result.Stderr.Should().Contain("still running 300ms after being asked to stop", "the grace came from EMISSARY_GRACE\n{0}", result);
    }

    /// <summary>
    /// The usual pod: no <c>EMISSARY_*</c> variable at all (the harness's own marks every process
    /// it starts, so this one runs under <c>env -i</c>). Then no variable is looked up, and the
    /// command line alone decides.
    /// </summary>
    [BlackBoxFact]
    public void Without_any_EMISSARY_variable_the_command_line_alone_decides()
    {
        string dir = NewControlDir();

        var result = Start("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", EmissaryPath, "run", "--name", "plain", "--control-dir", dir,
            "--timeout", "300ms", "--grace", "300ms", "--", TestChildPath, "ignore-term", "3600"]).WaitForExit();

        result.ExitCode.Should().Be(124, "{0}", result);
        result.Stderr.Should().Contain("still running 300ms after being asked to stop", "the grace came from --grace\n{0}", result);
        Steps.Status(dir, "plain")!.State.Should().Be("failed", "the step recorded itself under the name the command line gave");
    }

    [BlackBoxFact]
    public void A_bad_timeout_is_a_usage_error()
    {
        var result = RunEmissary("run", "--timeout", "soon", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    // ---- --on-error ----

    [BlackBoxFact]
    public void On_error_continue_records_the_real_exit_code_and_exits_0()
    {
        string dir = NewControlDir();
        string post = Path.Combine(TempDir("post"), "step");

        var result = Step(dir, "lint", ["--on-error", "continue", "--post-file", post], TestChildPath, "exit", "3").WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        var status = Steps.Status(dir, "lint")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(3);
        status.ContinueOnError.Should().BeTrue();
        status.Reason.Should().Be("Error");
        File.ReadAllText(Steps.PathOf(dir, "lint", "exitcode")).Should().Be("3\n");
        File.Exists(post).Should().BeTrue("the step lets its dependants run, so its post file says so");
    }

    [BlackBoxFact]
    public void On_error_continue_also_covers_a_timeout()
    {
        string dir = NewControlDir();

        var result = Step(dir, "slow", ["--on-error", "continue", "--timeout", "300ms"], TestChildPath, "signals", "30").WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        var status = Steps.Status(dir, "slow")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(124);
        status.Reason.Should().Be("TimeoutExceeded");
        status.ContinueOnError.Should().BeTrue();
    }

    [BlackBoxFact]
    public void On_error_continue_on_success_is_a_plain_success()
    {
        string dir = NewControlDir();

        var result = Step(dir, "lint", ["--on-error", "continue"], TestChildPath, "exit", "0").WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        var status = Steps.Status(dir, "lint")!;
        status.State.Should().Be("succeeded");
        status.ContinueOnError.Should().BeFalse();
    }

    [BlackBoxFact]
    public void On_error_stopAndFail_is_the_default_behaviour()
    {
        string dir = NewControlDir();

        var result = Step(dir, "lint", ["--on-error", "stopAndFail"], TestChildPath, "exit", "3").WaitForExit();

        result.ExitCode.Should().Be(3, "{0}", result);
        Steps.Status(dir, "lint")!.ContinueOnError.Should().BeFalse();
    }

    [BlackBoxFact]
    public void On_error_can_come_from_the_environment()
    {
        var env = new Dictionary<string, string> { ["EMISSARY_ON_ERROR"] = "continue" };

        var result = Start(EmissaryPath, ["run", "--", TestChildPath, "exit", "3"], env).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
    }

    [BlackBoxFact]
    public void An_unknown_on_error_policy_is_a_usage_error()
    {
        var result = RunEmissary("run", "--on-error", "ignore", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    // ---- --retries / --retry-delay ----

    [BlackBoxFact]
    public void A_failing_command_is_retried_until_it_succeeds()
    {
        string dir = NewControlDir();
        string counter = Path.Combine(TempDir("count"), "n");

        var result = Step(dir, "flaky", ["--retries", "5", "--retry-delay", "100ms"], Attempt(counter, "n < 3")).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        Attempts(result).Should().Equal("attempt 1", "attempt 2", "attempt 3");
        var status = Steps.Status(dir, "flaky")!;
        status.State.Should().Be("succeeded");
        status.ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void When_every_attempt_fails_the_exit_code_is_the_last_attempts()
    {
        string dir = NewControlDir();
        string counter = Path.Combine(TempDir("count"), "n");

        var result = Step(dir, "flaky", ["--retries", "2", "--retry-delay", "400ms"], Attempt(counter, "n + 10")).WaitForExit();

        result.ExitCode.Should().Be(13, "the third attempt exits 13\n{0}", result);
        Attempts(result).Should().Equal("attempt 1", "attempt 2", "attempt 3");
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(790), "two retry delays of 400 ms\n{0}", result);
        var status = Steps.Status(dir, "flaky")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(13);
        File.ReadAllText(Steps.PathOf(dir, "flaky", "exitcode")).Should().Be("13\n");
    }

    [BlackBoxFact]
    public void Markers_are_written_only_after_the_last_attempt()
    {
        string dir = NewControlDir();
        string counter = Path.Combine(TempDir("count"), "n");
        string post = Path.Combine(TempDir("post"), "step");
        var emissary = Step(dir, "flaky", ["--retries", "1", "--retry-delay", "5s", "--post-file", post], Attempt(counter, "1"));

        // emissary says so as the delay starts: from here, for 5 s, the first attempt is over and
        // the second has not started.
        emissary.WaitForStderr("retrying in 5s");
        File.Exists(Steps.PathOf(dir, "flaky", "exitcode")).Should().BeFalse("no exitcode between attempts");
        File.Exists(post).Should().BeFalse();
        File.Exists(post + ".err").Should().BeFalse("no post file between attempts");
        (Steps.Status(dir, "flaky")?.State).Should().BeOneOf(["waiting", "running"], "the step is not final between attempts");

        var result = emissary.WaitForExit();
        result.ExitCode.Should().Be(1, "{0}", result);
        Attempts(result).Should().Equal("attempt 1", "attempt 2");
        File.ReadAllText(Steps.PathOf(dir, "flaky", "exitcode")).Should().Be("1\n");
        File.ReadAllText(post + ".err").Trim().Should().Be("1");
    }

    [BlackBoxFact]
    public void TERM_during_the_retry_delay_gives_up_with_143()
    {
        string dir = NewControlDir();
        string counter = Path.Combine(TempDir("count"), "n");
        var emissary = Step(dir, "flaky", ["--retries", "5", "--retry-delay", "30s"], Attempt(counter, "1"));
        // emissary says so just before the delay starts: TERM lands in the delay (or just before
        // it, which gives the same answer).
        emissary.WaitForStderr("retrying in 30s");

        emissary.Signal(Libc.SIGTERM);
        // The hang guard is well below the 30 s delay: passing proves TERM cut the delay short.
        var result = emissary.WaitForExit(TimeSpan.FromSeconds(20));

        result.ExitCode.Should().Be(143, "{0}", result);
        Attempts(result).Should().Equal(["attempt 1"], "no attempt starts after TERM");
        result.Stderr.Should().Contain("SIGTERM received before retrying: giving up", "{0}", result);
        AssertNoStackTrace(result);
        var status = Steps.Status(dir, "flaky")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(143);
        File.ReadAllText(Steps.PathOf(dir, "flaky", "exitcode")).Should().Be("143\n");
    }

    [BlackBoxFact]
    public void TERM_during_an_attempt_that_then_fails_on_its_own_gives_up_with_143()
    {
        // The command survives TERM and exits 1 because of it: a retry was due, but the pod is
        // going away, so this is the same as TERM during the retry delay. testchild prints `ready`
        // once its handlers are set, so the group's TERM cannot slip past it.
        string dir = NewControlDir();
        var emissary = Step(dir, "flaky", ["--retries", "5", "--retry-delay", "30s"],
            "/bin/sh", "-c", "trap 'echo caught; exit 1' TERM; testchild signals 30 & wait");
        emissary.WaitForLine("ready");

        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit(TimeSpan.FromSeconds(20));

        result.ExitCode.Should().Be(143, "{0}", result);
        result.StdoutLines.Should().Contain("caught", "the shell got TERM and exited 1\n{0}", result);
        result.StdoutLines.Count(l => l == "ready").Should().Be(1, "the command was not started again\n{0}", result);
        result.Stderr.Should().Contain("SIGTERM received before retrying: giving up", "{0}", result);
        AssertNoStackTrace(result);
        Steps.Status(dir, "flaky")!.ExitCode.Should().Be(143);
    }

    [BlackBoxFact]
    public void A_command_stopped_by_TERM_is_not_retried()
    {
        // testchild sleep keeps TERM's default action: it dies of the forwarded TERM (143).
        var emissary = StartEmissary("run", "--retries", "3", "--retry-delay", "100ms", "--",
            "/bin/sh", "-c", "echo ready; exec testchild sleep 30");
        emissary.WaitForLine("ready");

        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(143, "{0}", result);
        result.StdoutLines.Count(l => l == "ready").Should().Be(1, "the pod is going away: no retry\n{0}", result);
    }

    [BlackBoxTheory]
    [InlineData("/no/such/command", 127)]
    [InlineData("not-executable", 126)]
    public void A_command_that_cannot_be_started_is_not_retried(string command, int expected)
    {
        string dir = NewControlDir();
        if (command == "not-executable")
        {
            command = Path.Combine(TempDir("bin"), "script");
            File.WriteAllText(command, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(command, (UnixFileMode)0b110_100_100); // 0644
        }

        // Waiting for an hour-long retry delay would trip the hang guard.
        var result = Step(dir, "bad", ["--retries", "3", "--retry-delay", "1h"], command).WaitForExit();

        result.ExitCode.Should().Be(expected, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        var status = Steps.Status(dir, "bad")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(expected);
    }

    [BlackBoxTheory]
    [InlineData("-1")]
    [InlineData("many")]
    public void Bad_retries_are_a_usage_error(string retries)
    {
        var result = RunEmissary("run", "--retries", retries, "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    [BlackBoxFact]
    public void Retries_can_come_from_the_environment()
    {
        string counter = Path.Combine(TempDir("count"), "n");
        var env = new Dictionary<string, string> { ["EMISSARY_RETRIES"] = "1", ["EMISSARY_RETRY_DELAY"] = "50ms" };

        var result = Start(EmissaryPath, ["run", "--", .. Attempt(counter, "n < 2")], env).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        Attempts(result).Should().Equal("attempt 1", "attempt 2");
    }

    [BlackBoxFact]
    public void Retries_and_on_error_continue_combine()
    {
        string dir = NewControlDir();
        string counter = Path.Combine(TempDir("count"), "n");

        var result = Step(dir, "flaky", ["--retries", "1", "--retry-delay", "50ms", "--on-error", "continue"], Attempt(counter, "n + 20")).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        Attempts(result).Should().HaveCount(2);
        var status = Steps.Status(dir, "flaky")!;
        status.ExitCode.Should().Be(22);
        status.ContinueOnError.Should().BeTrue();
    }
}
