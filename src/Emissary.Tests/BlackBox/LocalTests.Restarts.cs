namespace Emissary.Tests.BlackBox;

/// <summary>
/// Issue #28 item 5: `emissary local` (process engine) plays the kubelet's part for restarts. A step whose
/// restartPolicy (the pod's, or its own) or restartPolicyRules restart it is started again after a back-off
/// while its dependants keep waiting; the cap (--max-restarts) ends a step that always fails.
/// </summary>
public sealed partial class LocalTests
{
    /// <summary>
    /// A pod whose step `first` fails once (no marker yet: it makes it) and then succeeds, and whose `second`
    /// waits for it; each appends a line to DIR/NAME each time it runs. `first` exits <paramref name="firstExit"/>
    /// on its first run and <paramref name="laterExit"/> on every later one.
    /// </summary>
    private string FlakyPod(string dir, string podPolicy, string containerExtra = "", int firstExit = 3, int laterExit = 0) => Manifest($$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: flaky}
        spec:
          restartPolicy: {{podPolicy}}
          containers:
          - name: first
            image: busybox
            {{containerExtra}}
            command: [sh, -c, 'echo run >> {{dir}}/first; if [ -e {{dir}}/marker ]; then exit {{laterExit}}; fi; touch {{dir}}/marker; exit {{firstExit}}']
          - name: second
            image: busybox
            waitForTermination: [first]
            command: [sh, -c, 'echo run >> {{dir}}/second']
        """);

    private static int Runs(string dir, string step) =>
        File.Exists(Path.Combine(dir, step)) ? File.ReadAllLines(Path.Combine(dir, step)).Length : 0;

    [BlackBoxFact]
    public void Under_OnFailure_a_step_that_fails_once_is_restarted_and_its_dependant_runs_once_with_no_123()
    {
        string dir = TempDir("runs");
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        var result = RunEmissary("local", FlakyPod(dir, "OnFailure"), "--events", events, "--plain");

        result.ExitCode.Should().Be(0, "local restarts first as the kubelet would, and it then succeeds\n{0}", result);
        AssertNoStackTrace(result);
        Runs(dir, "first").Should().Be(2);
        Runs(dir, "second").Should().Be(1, "the dependant waits through the restart and runs once");
        List<Event> log = ReadEvents(events);
        log.Should().Contain(e => e.Step == "first" && e.State == "restarting" && e.ExitCode == 3);
        Final(log, "first").State.Should().Be("succeeded");
        Final(log, "second").State.Should().Be("succeeded");
        log.Should().NotContain(e => e.State == "skipped" || e.ExitCode == 123, "no 123 anywhere");
        string restarting = log.Single(e => e.Step == "first" && e.State == "restarting").Time.ToString("O");
        log.Where(e => e.Step == "second" && e.State == "running").Should().ContainSingle()
            .Which.Time.Should().BeAfter(log.Single(e => e.Step == "first" && e.State == "restarting").Time, "second started after first's restart ({0})", restarting);
        result.StderrLines.Should().Contain(l => l.Contains("first: restarting") && l.Contains("(attempt 2)"), "the progress says which attempt comes\n{0}", result);
        result.StdoutLines.Should().Contain(l => l.Contains("↻ restarted"), "the timeline's legend has the restart mark\n{0}", result);
        result.StdoutLines.Should().Contain(l => l.StartsWith("  first ") && l.Contains('↻') && l.Contains("restarted 1×"), "{0}", result);
    }

    [BlackBoxFact]
    public void Under_Never_the_same_pod_fails_once_and_its_dependant_is_skipped()
    {
        string dir = TempDir("runs");
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        var result = RunEmissary("local", FlakyPod(dir, "Never"), "--events", events, "--plain");

        result.ExitCode.Should().Be(3, "{0}", result);
        AssertNoStackTrace(result);
        Runs(dir, "first").Should().Be(1);
        Runs(dir, "second").Should().Be(0);
        List<Event> log = ReadEvents(events);
        log.Should().NotContain(e => e.State == "restarting");
        Final(log, "second").State.Should().Be("skipped");
    }

    [BlackBoxFact]
    public void A_container_restartPolicyRules_entry_restarts_its_step_in_a_Never_pod()
    {
        string dir = TempDir("runs");

        var result = RunEmissary("local", FlakyPod(dir, "Never", containerExtra: "restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]", firstExit: 42), "--plain");

        result.ExitCode.Should().Be(0, "{0}", result);
        Runs(dir, "first").Should().Be(2);
        Runs(dir, "second").Should().Be(1);
    }

    /// <summary>
    /// KEP-5532 locally: `work` exits 42 once, which its RestartAllContainers rule answers by
    /// restarting every container: `setup` (finished) and `work` run again under a new pod
    /// incarnation, and `publish` (waiting for work) is stopped, started again, and runs once,
    /// after the second run of `work`.
    /// </summary>
    [BlackBoxFact]
    public void A_RestartAllContainers_rule_restarts_every_step_and_the_dependant_runs_once_after_the_new_run()
    {
        string dir = TempDir("runs");
        string events = Path.Combine(TempDir("ev"), "events.jsonl");
        string pod = Manifest($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: podrestart}
            spec:
              restartPolicy: Never
              containers:
              - name: setup
                image: busybox
                command: [sh, -c, 'echo run >> {{dir}}/setup']
              - name: work
                image: busybox
                waitForTermination: [setup]
                restartPolicyRules:
                - action: RestartAllContainers
                  exitCodes: {operator: In, values: [42]}
                command: [sh, -c, 'echo run >> {{dir}}/work; if [ -e {{dir}}/marker ]; then exit 0; fi; touch {{dir}}/marker; exit 42']
              - name: publish
                image: busybox
                waitForTermination: [work]
                command: [sh, -c, 'echo run >> {{dir}}/publish']
            """);

        var result = RunEmissary("local", pod, "--events", events, "--plain");

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertNoStackTrace(result);
        Runs(dir, "setup").Should().Be(2, "every container runs again, a finished one too\n{0}", result);
        Runs(dir, "work").Should().Be(2, "{0}", result);
        Runs(dir, "publish").Should().Be(1, "the dependant waited through the pod's restart\n{0}", result);
        result.StderrLines.Should().ContainSingle(l => l.Contains("work: exit 42 restarts every step (RestartAllContainers)"), "{0}", result);
        List<Event> log = ReadEvents(events);
        // Each step ends once per incarnation of the pod: setup succeeded twice, publish was stopped while it waited.
        log.Where(e => e.Step == "setup" && IsFinal(e)).Select(e => e.State).Should().Equal("succeeded", "succeeded");
        log.Where(e => e.Step == "work" && IsFinal(e)).Select(e => e.State).Should().Equal("succeeded");
        log.Where(e => e.Step == "publish" && IsFinal(e)).Select(e => (e.State, e.ExitCode)).Should().Equal(("failed", 143), ("succeeded", 0));
        Event restarted = log.Single(e => e.Step == "work" && e.State == "restarting");
        restarted.ExitCode.Should().Be(42);
        log.Where(e => e.Step == "setup" && e.State == "running").Should().HaveCount(2, "{0}", string.Join("\n", log));
        log.Last(e => e.Step == "setup" && e.State == "running").Time.Should().BeAfter(restarted.Time, "setup ran again after the restart");
        log.Where(e => e.Step == "publish" && e.State == "running").Should().ContainSingle()
            .Which.Time.Should().BeAfter(log.Last(e => e.Step == "work" && e.State == "running").Time, "publish ran after the second run of work");
        result.StdoutLines.Should().Contain(l => l.StartsWith("  setup ") && l.Contains("restarted 1×"), "the timeline marks every step's restart\n{0}", result);
    }

    /// <summary>
    /// A step that ignores SIGTERM while the pod restarts is killed after --grace, and local waits
    /// for that without spinning: its own CPU time over a one-second grace stays far below a second.
    /// </summary>
    [BlackBoxFact]
    public void During_a_pod_restart_a_step_that_ignores_SIGTERM_is_killed_after_the_grace_without_a_busy_wait()
    {
        string dir = TempDir("runs");
        string pod = Manifest($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: stubborn}
            spec:
              restartPolicy: Never
              containers:
              - name: stubborn
                image: busybox
                command: [sh, -c, 'echo run >> {{dir}}/stubborn; if [ -e {{dir}}/marker ]; then exit 0; fi; trap "" TERM; while :; do sleep 0.05; done']
              - name: work
                image: busybox
                restartPolicyRules:
                - action: RestartAllContainers
                  exitCodes: {operator: In, values: [42]}
                command: [sh, -c, 'echo run >> {{dir}}/work; sleep 0.2; if [ -e {{dir}}/marker ]; then exit 0; fi; touch {{dir}}/marker; exit 42']
            """);

        // bash's `time` reports the CPU of emissary local and of everything it waited for.
        var result = Run("/bin/bash", "-c", $"TIMEFORMAT='cpu %U %S'; time {ToolsPath} local {pod} --plain --grace 1s");

        result.ExitCode.Should().Be(0, "{0}", result);
        Runs(dir, "stubborn").Should().Be(2, "it was killed and started again\n{0}", result);
        Runs(dir, "work").Should().Be(2);
        string cpu = result.StderrLines.Single(l => l.StartsWith("cpu "));
        double seconds = cpu.Split(' ').Skip(1).Sum(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture));
        seconds.Should().BeLessThan(0.5, "waiting out the grace must not be a busy loop ({0})\n{1}", cpu, result);
    }

    [BlackBoxFact]
    public void A_step_that_always_fails_under_OnFailure_stops_after_the_cap_with_one_line_and_its_dependant_is_skipped()
    {
        string dir = TempDir("runs");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var result = RunEmissary("local", FlakyPod(dir, "OnFailure", laterExit: 4), "--max-restarts", "2", "--plain");

        result.ExitCode.Should().Be(4, "the last run's failure is final\n{0}", result);
        AssertNoStackTrace(result);
        Runs(dir, "first").Should().Be(3, "one run and 2 restarts");
        Runs(dir, "second").Should().Be(0);
        result.StderrLines.Should().ContainSingle(l => l.Contains("--max-restarts")).Which.Should()
            .Be("first: failed after 2 restarts (--max-restarts 2): left failed; the kubelet would go on restarting it");
        clock.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(300), "back-off 100 ms then 200 ms");
    }

    [BlackBoxFact]
    public void A_bad_max_restarts_is_a_usage_error_in_one_line()
    {
        var result = RunEmissary("local", FlakyPod(TempDir("runs"), "OnFailure"), "--max-restarts", "-1");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertNoStackTrace(result);
        result.StderrLines.Should().ContainSingle().Which.Should().Be("emissary: --max-restarts: '-1' is not a whole number from 0 to 100");
    }

    [BlackBoxFact]
    public void Ctrl_c_during_a_back_off_cancels_the_pending_restart_and_ends_at_once()
    {
        string dir = TempDir("runs");
        var local = StartEmissary("local", FlakyPod(dir, "OnFailure", laterExit: 4), "--max-restarts", "100", "--plain");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Runs(dir, "first") < 4 && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        Runs(dir, "first").Should().BeGreaterThanOrEqualTo(4, "local restarts the step (back-off 100, 200, 400 ms)");

        // The 4th run ends within milliseconds; its restart waits 800 ms: the signal comes in that back-off.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        local.Signal(SIGINT);
        var result = local.WaitForExit(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(130, "{0}", result);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2), "nothing waits for the back-off to end");
        int runs = Runs(dir, "first");
        Thread.Sleep(1000);
        Runs(dir, "first").Should().Be(runs, "no restart after the pod was stopped");
        Runs(dir, "second").Should().Be(0);
    }
}
