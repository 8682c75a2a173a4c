using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text.Json;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Step ordering through the control directory (issue #3): the per-step files, --after and the
/// other gates, skipping on upstream failure, crash detection through the lifetime lock, and how
/// fast a step starts after its upstream finished.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class OrderingTests(ITestOutputHelper output) : BlackBoxTest
{
    /// <summary>Long enough to be sure a gate did not open by mistake; not a synchronisation point.</summary>
    private static readonly TimeSpan StillWaiting = TimeSpan.FromMilliseconds(400);

    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    /// <summary>Starts <c>emissary run --name NAME --control-dir DIR [flags] -- CMD...</c>.</summary>
    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    /// <summary>A step whose command prints `ran NAME` and exits with <paramref name="exitCode"/>.</summary>
    private RunningProcess Echo(string dir, string name, string[] flags, int exitCode = 0) =>
        Step(dir, name, flags, "/bin/sh", "-c", $"echo ran {name}; exit {exitCode}");

    private static void AssertNotRun(ProcessResult result) =>
        result.StdoutLines.Should().NotContain(l => l.StartsWith("ran ", StringComparison.Ordinal), "the command must not run\n{0}", result);

    private static void AssertStillWaiting(RunningProcess step, string dir, string name)
    {
        Thread.Sleep(StillWaiting);
        step.HasExited.Should().BeFalse("step '{0}' must still wait\n{1}", name, step.Describe());
        Steps.Status(dir, name)!.State.Should().Be("waiting");
        File.Exists(Steps.PathOf(dir, name, "exitcode")).Should().BeFalse();
    }

    private bool IsFifo(string path) => Run("/bin/sh", "-c", "test -p \"$0\"", path).ExitCode == 0;

    // ---- the control directory ----

    [BlackBoxFact]
    public void Status_shows_a_step_directory_its_step_never_registered_in_as_pending_not_crashed()
    {
        // The per-step layout: the kubelet makes DIR/NAME (a volume's mount point) before the step's
        // container starts, so an empty step directory is a step that has not started yet.
        string dir = NewControlDir();
        Step(dir, "build", [], TestChildPath, "exit", "0").WaitForExit().ExitCode.Should().Be(0);
        Directory.CreateDirectory(Path.Combine(dir, "deploy"));

        var table = RunEmissary("status", "--control-dir", dir);
        var json = RunEmissary("status", "--json", "--control-dir", dir);

        table.ExitCode.Should().Be(0, "{0}", table);
        table.StdoutLines.Should().Contain(l => l.StartsWith("deploy ", StringComparison.Ordinal) && l.Contains(" pending ") && !l.Contains("crashed"), "{0}", table);
        table.StdoutLines.Should().Contain(l => l.StartsWith("build ", StringComparison.Ordinal) && l.Contains(" succeeded "));
        json.Stdout.Should().Contain("\"state\": \"pending\"").And.NotContain("\"crashed\"");
    }

    [BlackBoxFact]
    public void Status_shows_the_text_of_a_hostile_status_json_escaped_never_raw()
    {
        // status.json is written by its step's container, which another container need not trust:
        // a terminal escape, a newline that forges a row and a right-to-left override in its text.
        string dir = NewControlDir();
        Step(dir, "build", [], TestChildPath, "exit", "0").WaitForExit().ExitCode.Should().Be(0);
        string forged = Path.Combine(dir, "evil");
        Directory.CreateDirectory(forged);
        File.WriteAllText(Path.Combine(forged, "status.json"),
            "{\"name\":\"build\\u001b]2;pwned\\u0007\",\"state\":\"failed\",\"exitCode\":1,"
            + "\"reason\":\"Error\\u001b[2J\",\"message\":\"boom\\nbuild  succeeded  0  forged\\u202etxt.exe\"}");

        var table = RunEmissary("status", "--control-dir", dir);

        table.ExitCode.Should().Be(0, "{0}", table);
        table.Stdout.Should().NotContain("\u001b").And.NotContain("\u0007").And.NotContain("\u202e");
        table.StdoutLines.Count(l => l.StartsWith("build", StringComparison.Ordinal)).Should().Be(1, "neither the claimed name nor a newline in a message may forge a row\n{0}", table);
        table.StdoutLines.Should().ContainSingle(l => l.StartsWith("evil ", StringComparison.Ordinal) && l.Contains("Error\\x1b[2J"), "the row is named by the step's directory\n{0}", table);
        table.Stdout.Should().Contain("Error\\x1b[2J").And.Contain("boom\\nbuild").And.Contain("\\u202etxt.exe");
    }

    [BlackBoxFact]
    public void A_finished_step_leaves_lock_status_exitcode_and_signal_fifo_in_its_own_directory()
    {
        string dir = NewControlDir();

        var result = Step(dir, "build", [], TestChildPath, "exit", "0").WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        string stepDir = Path.Combine(dir, "build");
        File.Exists(Path.Combine(stepDir, "lock")).Should().BeTrue();
        IsFifo(Path.Combine(stepDir, "signal")).Should().BeTrue("DIR/NAME/signal is a FIFO");
        File.ReadAllText(Path.Combine(stepDir, "exitcode")).Should().Be("0\n", "decimal + newline");
        ((int)new DirectoryInfo(stepDir).UnixFileMode).Should().Be(0x1ED, "a step directory is mode 0755: only its own step writes its record");
        ((int)File.GetUnixFileMode(Path.Combine(stepDir, "signal"))).Should().Be(0x192, "the signal FIFO is 0622: anyone may write a request, only the step reads");
        ((int)new DirectoryInfo(dir).UnixFileMode).Should().Be(0x3FF, "the control directory emissary created is mode 01777");
        File.GetUnixFileMode(Path.Combine(stepDir, "status.json")).Should().HaveFlag(UnixFileMode.OtherRead);
        File.GetUnixFileMode(Path.Combine(stepDir, "exitcode")).Should().HaveFlag(UnixFileMode.OtherRead);

        var status = Steps.Status(dir, "build")!;
        status.Name.Should().Be("build");
        status.State.Should().Be("succeeded");
        status.ExitCode.Should().Be(0);
        status.Reason.Should().Be("Completed");
        status.Pid.Should().NotBeNull();
        status.WaitingSince.Should().NotBeNull();
        status.StartedAt.Should().NotBeNull();
        status.FinishedAt.Should().NotBeNull();
        status.StartedAt!.Value.Should().BeOnOrAfter(status.WaitingSince!.Value);
        status.FinishedAt!.Value.Should().BeOnOrAfter(status.StartedAt.Value);
        status.ContinueOnError.Should().BeFalse();
        Directory.GetFiles(stepDir, ".*").Should().BeEmpty("no temp files are left behind by the atomic writes");
    }

    [BlackBoxFact]
    public void While_the_command_runs_the_status_says_running_with_the_childs_pid_and_the_lock_is_held()
    {
        string dir = NewControlDir();
        var step = Step(dir, "build", [], TestChildPath, "signals", "30");
        step.WaitForLine("ready");

        var status = Steps.WaitForStatus(dir, "build", s => s.State == "running", "state running");
        status.Pid.Should().NotBeNull();
        ProcTable.Stat(status.Pid!.Value).Should().NotBeNull("the pid is that of the live command");
        ProcTable.Stat(status.Pid.Value)!.Value.ParentPid.Should().Be(step.Pid, "status.json's pid is the child's, whose parent is emissary");
        status.StartedAt.Should().NotBeNull();
        File.Exists(Steps.PathOf(dir, "build", "exitcode")).Should().BeFalse("exitcode means finished");
        Steps.IsLockHeld(Steps.PathOf(dir, "build", "lock")).Should().BeTrue("the lock is held for the emissary's life");

        step.Signal(Libc.SIGTERM);
        var result = step.WaitForExit();

        result.ExitCode.Should().Be(0, "testchild exits 0 on TERM\n{0}", result);
        Steps.IsLockHeld(Steps.PathOf(dir, "build", "lock")).Should().BeFalse("the kernel released the lock when emissary exited");
    }

    [BlackBoxFact]
    public void A_second_emissary_for_a_live_step_is_refused()
    {
        string dir = NewControlDir();
        var first = Step(dir, "build", [], TestChildPath, "signals", "30");
        first.WaitForLine("ready");

        var second = Step(dir, "build", [], TestChildPath, "exit", "0").WaitForExit();

        second.ExitCode.Should().Be(125, "{0}", second);
        AssertOneEmissaryErrorLine(second);
        second.Stderr.Should().Contain("build");
        first.Signal(Libc.SIGTERM);
        first.WaitForExit().ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Name_and_control_directory_can_come_from_the_environment()
    {
        string dir = NewControlDir();
        var env = new Dictionary<string, string> { ["EMISSARY_NAME"] = "fetch", ["EMISSARY_CONTROL_DIR"] = dir };

        var result = Start(EmissaryPath, ["run", "--", TestChildPath, "exit", "0"], env).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        File.ReadAllText(Steps.PathOf(dir, "fetch", "exitcode")).Should().Be("0\n");
        Steps.Status(dir, "fetch")!.State.Should().Be("succeeded");
    }

    [BlackBoxFact]
    public void After_can_come_from_the_environment()
    {
        string dir = NewControlDir();
        var env = new Dictionary<string, string> { ["EMISSARY_AFTER"] = "a,b" };
        var c = Start(EmissaryPath, ["run", "--name", "c", "--control-dir", dir, "--", "/bin/sh", "-c", "echo ran c"], env);
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "c waiting");

        Echo(dir, "a", []).WaitForExit().ExitCode.Should().Be(0);
        AssertStillWaiting(c, dir, "c");
        Echo(dir, "b", []).WaitForExit().ExitCode.Should().Be(0);

        var result = c.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran c");
    }

    // ---- --after ----

    [BlackBoxFact]
    public void A_downstream_step_started_first_waits_for_its_upstream_and_runs_after_it()
    {
        string dir = NewControlDir();
        var b = Echo(dir, "b", ["--after", "a"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        AssertStillWaiting(b, dir, "b"); // a has not started yet: that is not a failure

        var a = Echo(dir, "a", []).WaitForExit();
        var result = b.WaitForExit();

        a.ExitCode.Should().Be(0, "{0}", a);
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
        var sa = Steps.Status(dir, "a")!;
        var sb = Steps.Status(dir, "b")!;
        sb.State.Should().Be("succeeded");
        sb.StartedAt!.Value.Should().BeOnOrAfter(sa.FinishedAt!.Value, "b starts only after a finished");
    }

    [BlackBoxFact]
    public void A_downstream_step_waits_while_its_upstream_is_waiting_itself()
    {
        string dir = NewControlDir();
        var a = Echo(dir, "a", ["--wait-start"]);
        Steps.WaitForStatus(dir, "a", s => s.State == "waiting", "a waiting");
        var b = Echo(dir, "b", ["--after", "a"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        AssertStillWaiting(b, dir, "b");

        Steps.WriteAtomically(Path.Combine(dir, ".start.a"), "");

        a.WaitForExit().ExitCode.Should().Be(0);
        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void Starting_after_the_upstream_finished_runs_at_once()
    {
        string dir = NewControlDir();
        Echo(dir, "a", []).WaitForExit().ExitCode.Should().Be(0);

        var result = Echo(dir, "b", ["--after", "a"]).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxTheory]
    [InlineData("comma list")]
    [InlineData("repeated flag")]
    public void Several_after_steps_must_all_finish(string form)
    {
        string dir = NewControlDir();
        string[] flags = form == "comma list" ? ["--after", "a,b"] : ["--after", "a", "--after", "b"];
        var c = Echo(dir, "c", flags);
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "c waiting");

        Echo(dir, "b", []).WaitForExit().ExitCode.Should().Be(0);
        AssertStillWaiting(c, dir, "c");
        Echo(dir, "a", []).WaitForExit().ExitCode.Should().Be(0);

        var result = c.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran c");
    }

    [BlackBoxFact]
    public void A_failed_upstream_skips_the_step_with_123_and_the_whole_chain_below_it()
    {
        string dir = NewControlDir();
        var c = Echo(dir, "c", ["--after", "b"]);
        var b = Echo(dir, "b", ["--after", "a"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "c waiting");

        var a = Echo(dir, "a", [], exitCode: 3).WaitForExit();
        var rb = b.WaitForExit();
        var rc = c.WaitForExit();

        a.ExitCode.Should().Be(3, "{0}", a);
        Steps.Status(dir, "a")!.State.Should().Be("failed");
        File.ReadAllText(Steps.PathOf(dir, "a", "exitcode")).Should().Be("3\n");

        foreach (var (name, result, upstream) in new[] { ("b", rb, "a"), ("c", rc, "b") })
        {
            result.ExitCode.Should().Be(123, "{0}", result);
            AssertNotRun(result);
            AssertNoStackTrace(result);
            var status = Steps.Status(dir, name)!;
            status.State.Should().Be("skipped");
            status.ExitCode.Should().Be(123);
            status.StartedAt.Should().BeNull("the command never started");
            status.Message.Should().Contain($"'{upstream}'", "the message names the upstream step");
            File.ReadAllText(Steps.PathOf(dir, name, "exitcode")).Should().Be("123\n", "a skipped step writes its own markers");
        }
    }

    [BlackBoxFact]
    public void A_step_whose_upstream_already_failed_is_skipped_without_running_even_if_its_command_does_not_exist()
    {
        string dir = NewControlDir();
        Echo(dir, "a", [], exitCode: 1).WaitForExit();

        var result = Step(dir, "b", ["--after", "a"], "/no/such/command").WaitForExit();

        result.ExitCode.Should().Be(123, "skipped, not 127\n{0}", result);
        Steps.Status(dir, "b")!.State.Should().Be("skipped");
    }

    [BlackBoxFact]
    public void Run_on_upstream_failure_runs_the_step_anyway()
    {
        string dir = NewControlDir();
        var b = Echo(dir, "b", ["--after", "a", "--run-on-upstream-failure"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        Echo(dir, "a", [], exitCode: 2).WaitForExit().ExitCode.Should().Be(2);
        var result = b.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
        Steps.Status(dir, "b")!.State.Should().Be("succeeded");
    }

    [BlackBoxFact]
    public void Run_on_upstream_failure_also_runs_after_a_skipped_upstream()
    {
        string dir = NewControlDir();
        Echo(dir, "a", [], exitCode: 1).WaitForExit();
        Echo(dir, "b", ["--after", "a"]).WaitForExit().ExitCode.Should().Be(123);

        var result = Echo(dir, "cleanup", ["--after", "b", "--run-on-upstream-failure"]).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran cleanup");
    }

    [BlackBoxFact]
    public void On_error_continue_lets_dependants_run()
    {
        string dir = NewControlDir();
        var b = Echo(dir, "b", ["--after", "a"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        var a = Echo(dir, "a", ["--on-error", "continue"], exitCode: 3).WaitForExit();
        var result = b.WaitForExit();

        a.ExitCode.Should().Be(0, "--on-error continue exits 0\n{0}", a);
        var status = Steps.Status(dir, "a")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(3);
        status.ContinueOnError.Should().BeTrue();
        File.ReadAllText(Steps.PathOf(dir, "a", "exitcode")).Should().Be("3\n", "the markers record the real exit code");
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    // ---- --wait-file / --wait-content ----

    [BlackBoxFact]
    public void Wait_file_runs_once_the_file_appears()
    {
        string dir = NewControlDir();
        string ready = Path.Combine(TempDir("files"), "ready");
        var b = Echo(dir, "b", ["--wait-file", ready]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        AssertStillWaiting(b, dir, "b");

        Steps.WriteAtomically(ready, "");

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void Wait_file_works_without_a_name_and_for_a_directory_that_does_not_exist_yet()
    {
        string files = TempDir("files");
        string ready = Path.Combine(files, "x", "y", "ready");
        var b = StartEmissary("run", "--wait-file", ready, "--", "/bin/sh", "-c", "echo ran b");
        Thread.Sleep(StillWaiting);
        b.HasExited.Should().BeFalse("{0}", b.Describe());

        Directory.CreateDirectory(Path.Combine(files, "x"));
        Directory.CreateDirectory(Path.Combine(files, "x", "y"));
        File.WriteAllText(ready, "");

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void Wait_file_err_skips_the_step()
    {
        string dir = NewControlDir();
        string ready = Path.Combine(TempDir("files"), "ready");
        var b = Echo(dir, "b", ["--wait-file", ready]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        Steps.WriteAtomically(ready + ".err", "1\n");

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(123, "{0}", result);
        AssertNotRun(result);
        var status = Steps.Status(dir, "b")!;
        status.State.Should().Be("skipped");
        status.Message.Should().Contain(ready);
    }

    [BlackBoxFact]
    public void Wait_content_waits_until_the_file_is_not_empty()
    {
        string dir = NewControlDir();
        string ready = Path.Combine(TempDir("files"), "ready");
        var b = Echo(dir, "b", ["--wait-file", ready, "--wait-content"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        File.WriteAllText(ready, "");
        AssertStillWaiting(b, dir, "b");
        File.AppendAllText(ready, "digest\n"); // written in place, not renamed

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void Wait_content_without_wait_file_is_a_usage_error()
    {
        var result = RunEmissary("run", "--wait-content", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    // ---- --wait-fifo ----

    [BlackBoxFact]
    public void Wait_fifo_creates_the_fifo_and_runs_once_something_writes_to_it()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "go");
        var b = Echo(dir, "b", ["--wait-fifo", fifo]);
        Steps.WaitUntil(() => File.Exists(fifo), "the FIFO to be created");
        IsFifo(fifo).Should().BeTrue();
        AssertStillWaiting(b, dir, "b");

        Run("/bin/sh", "-c", "echo go > \"$0\"", fifo).ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void Wait_fifo_uses_an_existing_fifo()
    {
        string fifo = Path.Combine(TempDir("fifo"), "go");
        Run("/bin/sh", "-c", "mkfifo \"$0\"", fifo).ExitCode.Should().Be(0);
        var b = StartEmissary("run", "--wait-fifo", fifo, "--", "/bin/sh", "-c", "echo ran b");
        Thread.Sleep(StillWaiting);
        b.HasExited.Should().BeFalse("{0}", b.Describe());

        Run("/bin/sh", "-c", "printf x > \"$0\"", fifo).ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    // ---- --wait-start ----

    [BlackBoxFact]
    public void Wait_start_runs_when_the_start_marker_appears()
    {
        string dir = NewControlDir();
        var d = Echo(dir, "deploy", ["--wait-start"]);
        Steps.WaitForStatus(dir, "deploy", s => s.State == "waiting", "deploy waiting");
        AssertStillWaiting(d, dir, "deploy");

        Steps.WriteAtomically(Path.Combine(dir, ".start.deploy"), "");

        var result = d.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran deploy");
        Steps.Status(dir, "deploy")!.State.Should().Be("succeeded");
    }

    [BlackBoxFact]
    public void Wait_start_is_skipped_by_the_skip_marker_and_so_are_its_dependants()
    {
        string dir = NewControlDir();
        var d = Echo(dir, "deploy", ["--wait-start"]);
        var v = Echo(dir, "verify", ["--after", "deploy"]);
        Steps.WaitForStatus(dir, "deploy", s => s.State == "waiting", "deploy waiting");
        Steps.WaitForStatus(dir, "verify", s => s.State == "waiting", "verify waiting");

        Steps.WriteAtomically(Path.Combine(dir, ".skip.deploy"), "");

        var rd = d.WaitForExit();
        var rv = v.WaitForExit();
        rd.ExitCode.Should().Be(123, "{0}", rd);
        AssertNotRun(rd);
        Steps.Status(dir, "deploy")!.State.Should().Be("skipped");
        File.ReadAllText(Steps.PathOf(dir, "deploy", "exitcode")).Should().Be("123\n");
        rv.ExitCode.Should().Be(123, "{0}", rv);
        AssertNotRun(rv);
        Steps.Status(dir, "verify")!.State.Should().Be("skipped");
    }

    [BlackBoxFact]
    public void Wait_start_without_a_name_is_a_usage_error()
    {
        var result = RunEmissary("run", "--wait-start", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("--name");
    }

    // ---- --wait-timeout ----

    [BlackBoxFact]
    public void Wait_timeout_fails_the_step_with_125()
    {
        string dir = NewControlDir();

        var result = Echo(dir, "b", ["--after", "never", "--wait-timeout", "300ms"]).WaitForExit();

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertNotRun(result);
        AssertNoStackTrace(result);
        result.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290));
        var status = Steps.Status(dir, "b")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(125);
        status.Message.Should().Contain("never", "the message says what was still pending");
        File.ReadAllText(Steps.PathOf(dir, "b", "exitcode")).Should().Be("125\n");
    }

    [BlackBoxFact]
    public void A_step_after_one_that_gave_up_waiting_is_skipped()
    {
        string dir = NewControlDir();
        Echo(dir, "a", ["--wait-start", "--wait-timeout", "100ms"]).WaitForExit().ExitCode.Should().Be(125);

        var result = Echo(dir, "b", ["--after", "a"]).WaitForExit();

        result.ExitCode.Should().Be(123, "{0}", result);
        AssertNotRun(result);
    }

    // ---- crashes: the lifetime lock ----

    [BlackBoxFact]
    public void An_upstream_killed_while_running_fails_its_waiting_dependants()
    {
        string dir = NewControlDir();
        var a = Step(dir, "a", [], TestChildPath, "signals", "30");
        a.WaitForLine("ready");
        int child = Steps.WaitForStatus(dir, "a", s => s.State == "running", "a running").Pid!.Value;
        var b = Echo(dir, "b", ["--after", "a"]);
        var c = Echo(dir, "c", ["--after", "b"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "c waiting");
        AssertStillWaiting(b, dir, "b"); // b has seen a running and watches its lock

        try
        {
            a.Signal(Libc.SIGKILL);
            TimeSpan took = Steps.TimeUntilExit(b, TimeSpan.FromSeconds(30));
            output.WriteLine($"b ended {took.TotalMilliseconds:F1} ms after a's emissary was SIGKILLed");

            // Without noticing the dead upstream (its lock is released) b would wait forever: the
            // hang guard fails the test then.
            var result = b.WaitForExit(TimeSpan.FromSeconds(30));
            result.ExitCode.Should().Be(123, "{0}", result);
            AssertNotRun(result);
            var status = Steps.Status(dir, "b")!;
            status.State.Should().Be("skipped");
            status.Message.Should().Contain("'a'", "the message names the dead step").And.Contain("died");

            var rc = c.WaitForExit();
            rc.ExitCode.Should().Be(123, "the chain below stops too\n{0}", rc);
            Steps.Status(dir, "a")!.State.Should().Be("running", "nobody writes a dead step's markers for it");
        }
        finally
        {
            // a's command outlived its SIGKILLed emissary.
            Libc.Kill(child, Libc.SIGKILL);
            a.WaitForExit();
        }
    }

    [BlackBoxFact]
    public void An_upstream_killed_while_waiting_fails_its_waiting_dependants()
    {
        string dir = NewControlDir();
        var a = Echo(dir, "a", ["--after", "never"]);
        Steps.WaitForStatus(dir, "a", s => s.State == "waiting", "a waiting");
        var b = Echo(dir, "b", ["--after", "a"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        AssertStillWaiting(b, dir, "b");

        a.Signal(Libc.SIGKILL);
        TimeSpan took = Steps.TimeUntilExit(b, TimeSpan.FromSeconds(30));
        output.WriteLine($"b ended {took.TotalMilliseconds:F1} ms after a's emissary was SIGKILLed");

        var result = b.WaitForExit(TimeSpan.FromSeconds(30)); // b waits forever unless it notices
        result.ExitCode.Should().Be(123, "{0}", result);
        AssertNotRun(result);
        Steps.Status(dir, "b")!.Message.Should().Contain("'a'").And.Contain("died");
        a.WaitForExit().ExitCode.Should().Be(128 + Libc.SIGKILL);
    }

    [BlackBoxFact]
    public void A_step_started_after_its_upstream_died_fails_at_once()
    {
        string dir = NewControlDir();
        var a = Echo(dir, "a", ["--wait-start"]);
        Steps.WaitForStatus(dir, "a", s => s.State == "waiting", "a waiting");
        a.Signal(Libc.SIGKILL);
        a.WaitForExit();

        var result = Echo(dir, "b", ["--after", "a"]).WaitForExit();

        result.ExitCode.Should().Be(123, "{0}", result);
        AssertNotRun(result);
        Steps.Status(dir, "b")!.Message.Should().Contain("'a'");
    }

    // ---- SIGTERM while waiting ----

    [BlackBoxTheory]
    [InlineData(15, 143)]
    [InlineData(2, 130)]
    public void A_terminating_signal_while_waiting_ends_the_wait_at_once_with_failure_markers(int signal, int expected)
    {
        string dir = NewControlDir();
        var b = Echo(dir, "b", ["--after", "never"]);
        var c = Echo(dir, "c", ["--after", "b"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "c waiting");

        b.Signal(signal);
        // --after never: b ends only because of the signal (else the hang guard fails the test).
        var result = b.WaitForExit(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(expected, "{0}", result);
        AssertNotRun(result);
        AssertNoStackTrace(result);
        var status = Steps.Status(dir, "b")!;
        status.State.Should().Be("failed");
        status.ExitCode.Should().Be(expected);
        File.ReadAllText(Steps.PathOf(dir, "b", "exitcode")).Should().Be($"{expected}\n");

        var rc = c.WaitForExit();
        rc.ExitCode.Should().Be(123, "{0}", rc);
        AssertNotRun(rc);
    }

    [BlackBoxFact]
    public void A_TERM_request_through_the_signal_fifo_while_waiting_ends_the_wait_with_143()
    {
        // What `emissary signal b TERM` does: write the signal number to DIR/b/signal.
        string dir = NewControlDir();
        var b = Echo(dir, "b", ["--after", "never"]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        Run("/bin/sh", "-c", "echo 15 > \"$0\"", Steps.PathOf(dir, "b", "signal")).ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(143, "{0}", result);
        AssertNotRun(result);
        Steps.Status(dir, "b")!.State.Should().Be("failed");
    }

    [BlackBoxFact]
    public void A_nameless_step_waits_for_a_control_directory_that_does_not_exist_yet()
    {
        string dir = NewControlDir(); // not created yet: the upstream's emissary creates it
        var b = StartEmissary("run", "--control-dir", dir, "--after", "a", "--", "/bin/sh", "-c", "echo ran b");
        Thread.Sleep(StillWaiting);
        b.HasExited.Should().BeFalse("{0}", b.Describe());

        Echo(dir, "a", []).WaitForExit().ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    // ---- --post-file ----

    [BlackBoxFact]
    public void Post_file_is_written_empty_on_success()
    {
        string post = Path.Combine(TempDir("post"), "step-0");

        var result = RunEmissary("run", "--post-file", post, "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(0, "{0}", result);
        File.Exists(post).Should().BeTrue();
        new FileInfo(post).Length.Should().Be(0);
        File.Exists(post + ".err").Should().BeFalse();
    }

    [BlackBoxFact]
    public void Post_file_err_holds_the_exit_code_on_failure_and_skips_a_wait_file_dependant()
    {
        string dir = NewControlDir();
        string post = Path.Combine(TempDir("post"), "step-0");
        var b = Echo(dir, "b", ["--wait-file", post]);
        Steps.WaitForStatus(dir, "b", s => s.State == "waiting", "b waiting");

        var a = RunEmissary("run", "--post-file", post, "--", TestChildPath, "exit", "3");
        var rb = b.WaitForExit();

        a.ExitCode.Should().Be(3, "{0}", a);
        File.Exists(post).Should().BeFalse();
        File.ReadAllText(post + ".err").Trim().Should().Be("3");
        rb.ExitCode.Should().Be(123, "{0}", rb);
        AssertNotRun(rb);
    }

    [BlackBoxFact]
    public void A_skipped_step_writes_its_post_file_err_so_a_wait_file_chain_stops_too()
    {
        string dir = NewControlDir();
        string post = Path.Combine(TempDir("post"), "step-1");
        Echo(dir, "a", [], exitCode: 1).WaitForExit();

        var result = Echo(dir, "b", ["--after", "a", "--post-file", post]).WaitForExit();

        result.ExitCode.Should().Be(123, "{0}", result);
        File.Exists(post).Should().BeFalse();
        File.ReadAllText(post + ".err").Trim().Should().Be("123");
    }

    [BlackBoxFact]
    public void A_wait_timeout_writes_the_post_file_err()
    {
        string post = Path.Combine(TempDir("post"), "step-1");
        string never = Path.Combine(TempDir("files"), "never");

        var result = RunEmissary("run", "--wait-file", never, "--wait-timeout", "100ms", "--post-file", post, "--", "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(125, "{0}", result);
        File.ReadAllText(post + ".err").Trim().Should().Be("125");
    }

    [BlackBoxFact]
    public void A_wait_file_dependant_runs_after_a_post_file_success()
    {
        string post = Path.Combine(TempDir("post"), "step-0");
        var b = StartEmissary("run", "--wait-file", post, "--", "/bin/sh", "-c", "echo ran b");

        RunEmissary("run", "--post-file", post, "--", TestChildPath, "exit", "0").ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    // ---- event-driven ----

    [BlackBoxFact]
    public void A_chain_of_ten_steps_starts_each_step_within_milliseconds_of_its_upstream()
    {
        const int count = 10;
        string dir = NewControlDir();
        var steps = new RunningProcess[count];
        // All started together in reverse order, each after the previous one; s0 last.
        for (int i = count - 1; i >= 1; i--)
            steps[i] = Step(dir, $"s{i}", ["--after", $"s{i - 1}"], TestChildPath, "exit", "0");
        for (int i = count - 1; i >= 1; i--)
            Steps.WaitForStatus(dir, $"s{i}", s => s.State == "waiting", $"s{i} waiting");
        steps[0] = Step(dir, "s0", [], TestChildPath, "exit", "0");

        for (int i = 0; i < count; i++)
        {
            var result = steps[i].WaitForExit();
            result.ExitCode.Should().Be(0, "{0}", result);
        }

        var gaps = new List<double>();
        for (int i = 1; i < count; i++)
        {
            var up = Steps.Status(dir, $"s{i - 1}")!;
            var down = Steps.Status(dir, $"s{i}")!;
            double gap = (down.StartedAt!.Value - up.FinishedAt!.Value).TotalMilliseconds;
            gaps.Add(gap);
            output.WriteLine($"s{i - 1} finished {StepStatusJson.Format(up.FinishedAt.Value)} → s{i} started {StepStatusJson.Format(down.StartedAt.Value)}: {gap:F0} ms");
        }
        output.WriteLine($"max gap {gaps.Max():F0} ms, mean {gaps.Average():F1} ms (status.json times have millisecond precision)");

        gaps.Should().OnlyContain(g => g >= 0, "a step never starts before its upstream finished");
        gaps.Should().OnlyContain(g => g < 200, "gates are event-driven: a step starts within a few ms of its upstream finishing");
    }
}

/// <summary>DIR/NAME/status.json as a reader in another container sees it.</summary>
[SupportedOSPlatform("linux")]
internal sealed record StepStatusJson(
    string Name, string State, int? Pid, DateTimeOffset? WaitingSince, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int? ExitCode, string? Reason, string? Message, bool ContinueOnError, string Raw)
{
    public static StepStatusJson Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        string? Str(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        int? Int(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
        DateTimeOffset? Time(string name) => Str(name) is { } t
            ? DateTimeOffset.Parse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal)
            : null;
        return new StepStatusJson(
            Str("name") ?? throw new XunitException($"status.json without name: {json}"),
            Str("state") ?? throw new XunitException($"status.json without state: {json}"),
            Int("pid"), Time("waitingSince"), Time("startedAt"), Time("finishedAt"), Int("exitCode"), Str("reason"), Str("message"),
            root.TryGetProperty("continueOnError", out var c) && c.ValueKind == JsonValueKind.True,
            json);
    }

    public static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    public override string ToString() => Raw;
}

/// <summary>Reading and writing a control directory the way other containers (and `emissary start`) do.</summary>
[SupportedOSPlatform("linux")]
internal static partial class Steps
{
    public static string PathOf(string dir, string name, string file) => Path.Combine(dir, name, file);

    /// <summary>The parsed status.json, or null when there is none (yet).</summary>
    public static StepStatusJson? Status(string dir, string name)
    {
        string path = PathOf(dir, name, "status.json");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        try
        {
            return StepStatusJson.Parse(text);
        }
        catch (JsonException e)
        {
            throw new XunitException($"{path} is not valid JSON (it must be written atomically): {e.Message}\n{text}");
        }
    }

    /// <summary>Polls status.json (this is the test, not a gate) until <paramref name="until"/> holds.</summary>
    public static StepStatusJson WaitForStatus(string dir, string name, Func<StepStatusJson, bool> until, string description, TimeSpan? timeout = null)
    {
        StepStatusJson? last = null;
        WaitUntil(() => (last = Status(dir, name)) is { } s && until(s), $"{description} (last status.json: {last?.Raw ?? "none"})", timeout);
        return last!;
    }

    public static void WaitUntil(Func<bool> condition, string description, TimeSpan? timeout = null)
    {
        // Without a timeout of the test's own this is a hang guard, so it is scaled under qemu-user
        // (in CI, two producers started at once had not made their rendezvous within 10 s there).
        var limit = timeout ?? RunningProcess.DefaultLineTimeout;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
                throw new XunitException($"timed out after {limit.TotalSeconds} s waiting for {description}");
            Thread.Sleep(5);
        }
    }

    /// <summary>How long until the process exits, measured from the call, polling every millisecond.</summary>
    public static TimeSpan TimeUntilExit(RunningProcess process, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            if (clock.Elapsed > timeout)
                return clock.Elapsed;
            Thread.Sleep(1);
        }
        return clock.Elapsed;
    }

    /// <summary>Temp file in the same directory, then rename: what `emissary start` and friends do.</summary>
    public static void WriteAtomically(string path, string contents)
    {
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.test-{Guid.NewGuid():N}");
        File.WriteAllText(temp, contents);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Whether some process holds an flock on <paramref name="path"/>: a LOCK_SH|LOCK_NB probe on a
    /// fresh open file description fails with EWOULDBLOCK exactly then.
    /// </summary>
    public static bool IsLockHeld(string path)
    {
        int fd = NativeMethods.Open(path, 0x80000 /* O_RDONLY|O_CLOEXEC */, 0);
        if (fd < 0)
            throw new XunitException($"cannot open {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (NativeMethods.Flock(fd, 1 | 4 /* LOCK_SH|LOCK_NB */) == 0)
                return false;
            int errno = Marshal.GetLastPInvokeError();
            return errno == 11 /* EWOULDBLOCK */ ? true : throw new XunitException($"flock {path}: errno {errno}");
        }
        finally
        {
            NativeMethods.Close(fd);
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

        [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
        public static extern int Flock(int fd, int operation);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int fd);
    }
}
