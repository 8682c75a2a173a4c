using System.Diagnostics;
using System.Runtime.Versioning;
using Xunit.Abstractions;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Breakpoints on `emissary run` and the `emissary debug` commandlets (issue #27 items 1-2),
/// against the published binary: a paused step stays alive without an exitcode (its dependants
/// keep waiting), is resumed through its control directory, and still ends at once on SIGTERM.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BreakpointTests(ITestOutputHelper output) : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    private RunningProcess Shell(string dir, string name, string[] flags, string script) =>
        Step(dir, name, flags, "/bin/sh", "-c", script);

    private ProcessResult Debug(string dir, params string[] args) => RunEmissary(["debug", .. args, "--control-dir", dir]);

    private static StepStatusJson WaitPaused(string dir, string name) =>
        Steps.WaitForStatus(dir, name, s => s.State == "paused", $"{name} paused");

    private static string Termination(string dir, string name) => File.ReadAllText(Steps.PathOf(dir, name, "termination.json"));

    [BlackBoxFact]
    public void On_failure_pauses_the_failed_step_its_dependant_keeps_waiting_and_continue_lets_the_failure_stand()
    {
        string dir = NewControlDir();
        var a = Shell(dir, "a", ["--breakpoint", "on-failure"], "echo ran a; exit 3");
        var b = Shell(dir, "b", ["--after", "a"], "echo ran b");
        StepStatusJson paused = WaitPaused(dir, "a");
        paused.ExitCode.Should().Be(3, "the recorded outcome is shown while paused");
        paused.Raw.Should().Contain("\"at\":\"on-failure\"").And.Contain("\"since\":");

        Thread.Sleep(300);
        a.HasExited.Should().BeFalse("a paused step keeps its container alive");
        b.HasExited.Should().BeFalse("a paused upstream is not finished for its dependant");
        File.Exists(Steps.PathOf(dir, "a", "exitcode")).Should().BeFalse();
        Steps.Status(dir, "b")!.State.Should().Be("waiting");
        var table = RunEmissary("status", "--control-dir", dir);
        table.StdoutLines.Should().Contain(l => l.StartsWith("a ", StringComparison.Ordinal) && l.Contains(" paused ") && l.Contains("paused on-failure since "), "{0}", table);
        RunEmissary("status", "--json", "--control-dir", dir).Stdout.Should().Contain("\"state\": \"paused\"").And.Contain("\"at\": \"on-failure\"");

        var resume = Debug(dir, "continue", "a");
        resume.ExitCode.Should().Be(0, "{0}", resume);

        var ra = a.WaitForExit();
        ra.ExitCode.Should().Be(3, "continue lets the recorded outcome stand\n{0}", ra);
        b.WaitForExit().ExitCode.Should().Be(123, "its upstream failed");
        Termination(dir, "a").Should().Contain("\"pause\":{\"at\":\"on-failure\",\"resumedBy\":\"continue\"}");
    }

    [BlackBoxFact]
    public void Before_holds_the_command_until_continue_and_env_shows_names_but_values_only_when_asked()
    {
        string dir = NewControlDir();
        var a = Start(EmissaryPath, ["run", "--name", "a", "--control-dir", dir, "--breakpoint", "before", "--", "/bin/sh", "-c", "echo ran a"],
            new Dictionary<string, string> { ["DEBUG_SECRET"] = "hunter2" });
        WaitPaused(dir, "a").Raw.Should().Contain("\"at\":\"before\"");
        Thread.Sleep(200);
        a.StdoutLines.Should().NotContain("ran a", "the command does not start before 'debug continue'");

        var env = Debug(dir, "env", "a");
        env.ExitCode.Should().Be(0, "{0}", env);
        env.Stdout.Should().Contain("command:   /bin/sh -c 'echo ran a'").And.Contain("directory: ")
            .And.Contain("  DEBUG_SECRET\n").And.Contain("  EMISSARY_RESULTS=").And.NotContain("hunter2");
        var values = Debug(dir, "env", "a", "--values");
        values.ExitCode.Should().Be(0, "{0}", values);
        values.Stdout.Should().Contain("DEBUG_SECRET=hunter2");

        Debug(dir, "continue", "a").ExitCode.Should().Be(0);
        var result = a.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran a");
    }

    [BlackBoxFact]
    public void After_then_fail_records_a_success_as_a_failure_with_121()
    {
        string dir = NewControlDir();
        var a = Shell(dir, "a", ["--breakpoint", "after"], "echo ran a");
        WaitPaused(dir, "a").Raw.Should().Contain("\"at\":\"after\"");

        Debug(dir, "fail", "a").ExitCode.Should().Be(0);

        var result = a.WaitForExit();
        result.ExitCode.Should().Be(121, "{0}", result);
        Steps.Status(dir, "a")!.State.Should().Be("failed");
        Termination(dir, "a").Should().Contain("\"resumedBy\":\"fail\"");
    }

    [BlackBoxFact]
    public void Rerun_turns_a_failure_into_a_success_in_place_and_the_dependant_then_runs()
    {
        string dir = NewControlDir();
        string flag = Path.Combine(TempDir("flag"), "fixed");
        var a = Shell(dir, "a", ["--breakpoint", "on-failure"], $"if [ -e {flag} ]; then echo ran a; exit 0; fi; exit 1");
        var b = Shell(dir, "b", ["--after", "a"], "echo ran b");
        WaitPaused(dir, "a");
        File.WriteAllText(flag, ""); // what someone fixed by hand in `kubectl exec`

        Debug(dir, "rerun", "a").ExitCode.Should().Be(0);

        var ra = a.WaitForExit();
        ra.ExitCode.Should().Be(0, "{0}", ra);
        var rb = b.WaitForExit();
        rb.ExitCode.Should().Be(0, "{0}", rb);
        rb.StdoutLines.Should().Contain("ran b");
        Steps.Status(dir, "a")!.Raw.Should().Contain("\"attempts\":2");
        Termination(dir, "a").Should().Contain("\"resumedBy\":\"rerun\"").And.Contain("\"attempts\":2");
    }

    [BlackBoxFact]
    public void Debug_pause_holds_a_running_step_when_its_command_ends()
    {
        string dir = NewControlDir();
        var a = Step(dir, "a", [], TestChildPath, "sleep", "1");
        Steps.WaitForStatus(dir, "a", s => s.State == "running", "a running");

        Debug(dir, "pause", "a").ExitCode.Should().Be(0);

        WaitPaused(dir, "a").Raw.Should().Contain("\"at\":\"after\"");
        Debug(dir, "pause", "a").ExitCode.Should().Be(1, "a paused step cannot be paused again");
        Debug(dir, "continue", "a").ExitCode.Should().Be(0);
        a.WaitForExit().ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void The_timeout_does_not_run_while_paused()
    {
        string dir = NewControlDir();
        var a = Step(dir, "a", ["--timeout", "1s", "--breakpoint", "before"], TestChildPath, "sleep", "0.3");
        WaitPaused(dir, "a");
        Thread.Sleep(1500); // longer than --timeout

        Debug(dir, "continue", "a").ExitCode.Should().Be(0);

        var result = a.WaitForExit();
        result.ExitCode.Should().Be(0, "the pause is not counted against --timeout\n{0}", result);
    }

    /// <summary>
    /// A resumed step ends its container, and the runtime kills what still runs there: the
    /// `kubectl exec` that sent the request would report 137 for a request carried out. The step
    /// records everything first (its dependants go at once), then gives the requester a moment
    /// (the wait itself, and a terminating signal ending it: <c>SleepUnlessTerminatedTests</c>).
    /// </summary>
    [BlackBoxFact]
    public void A_step_resumed_by_a_request_records_at_once_then_waits_a_moment_before_it_exits()
    {
        string dir = NewControlDir();
        var a = Shell(dir, "a", ["--breakpoint", "after"], "true");
        WaitPaused(dir, "a");

        var resume = Debug(dir, "continue", "a");
        resume.ExitCode.Should().Be(0, "{0}", resume);
        Steps.WaitForStatus(dir, "a", s => s.State == "succeeded", "a recorded");
        a.WaitForExit().ExitCode.Should().Be(0);
        // From the exitcode marker (written once the outcome is recorded, before the wait) to the
        // process's end as the runtime saw it reaped: a lower bound, which load only lengthens.
        TimeSpan waited = a.ExitTime - File.GetLastWriteTime(Steps.PathOf(dir, "a", "exitcode"));
        output.WriteLine($"exitcode written {waited.TotalMilliseconds:F1} ms before the step exited");
        waited.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(200), "the step waits 250 ms after recording before it exits");
    }

    [BlackBoxFact]
    public void Sigterm_ends_a_paused_step_at_once_with_143()
    {
        string dir = NewControlDir();
        var a = Shell(dir, "a", ["--breakpoint", "on-failure"], "exit 1");
        WaitPaused(dir, "a");

        var clock = Stopwatch.StartNew();
        a.Signal(15);
        var result = a.WaitForExit();

        result.ExitCode.Should().Be(143, "{0}", result);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "a paused step would otherwise wait for its breakpoint");
        Steps.Status(dir, "a")!.State.Should().Be("failed");
        Termination(dir, "a").Should().Contain("\"resumedBy\":\"SIGTERM\"");
    }

    [BlackBoxFact]
    public void The_breakpoint_timeout_ends_a_pause_as_continue_would()
    {
        string dir = NewControlDir();
        var a = Shell(dir, "a", ["--breakpoint", "on-failure", "--breakpoint-timeout", "500ms"], "exit 2");
        WaitPaused(dir, "a");

        var result = a.WaitForExit();

        result.ExitCode.Should().Be(2, "{0}", result);
        Termination(dir, "a").Should().Contain("\"resumedBy\":\"timeout\"");
    }

    [BlackBoxFact]
    public void Debug_on_a_step_that_is_not_paused_or_does_not_exist_is_one_line_with_its_code()
    {
        string dir = NewControlDir();
        Step(dir, "a", [], TestChildPath, "exit", "0").WaitForExit().ExitCode.Should().Be(0);

        var notPaused = Debug(dir, "continue", "a");
        notPaused.ExitCode.Should().Be(1, "{0}", notPaused);
        AssertOneEmissaryErrorLine(notPaused);
        notPaused.Stderr.Should().Contain("not paused");

        var unknown = Debug(dir, "rerun", "nope");
        unknown.ExitCode.Should().Be(2, "{0}", unknown);
        AssertOneEmissaryErrorLine(unknown);

        var env = Debug(dir, "env", "a");
        env.ExitCode.Should().Be(1, "{0}", env);
        AssertOneEmissaryErrorLine(env);

        var action = Debug(dir, "explode", "a");
        action.ExitCode.Should().Be(125, "{0}", action);
        AssertOneEmissaryErrorLine(action);

        var noName = RunEmissary("run", "--breakpoint", "before", "--", TestChildPath, "exit", "0");
        noName.ExitCode.Should().Be(125, "{0}", noName);
        AssertOneEmissaryErrorLine(noName);
        output.WriteLine(noName.ToString());
    }
}
