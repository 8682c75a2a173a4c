using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// `emissary local` (issue #7) against the published binaries, through artifacts/emissary (which
/// execs emissary-tools, same pid) and artifacts/emissary-tools directly: the examples run in the
/// declared order (checked on the --events log), failures skip their dependants, the report,
/// --timeline, --output-dir, env, bad manifests, Ctrl-C as pod deletion (on a pipe and on a
/// terminal), crashed steps; and, where podman can run, --engine podman in real containers.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class LocalTests : BlackBoxTest
{
    private const int SIGINT = 2;

    /// <summary>
    /// Removes podman pod <paramref name="name"/> now (one left by an earlier run killed at its
    /// time-out would fail this one: "name is in use") and when disposed: a test that times out
    /// SIGKILLs `emissary local`, which then cannot remove its pod itself.
    /// </summary>
    private IDisposable RemovesPod(string name)
    {
        Run("podman", "pod", "rm", "--force", "--ignore", "--time", "0", name);
        return new PodRemoval(() => Run("podman", "pod", "rm", "--force", "--ignore", "--time", "0", name));
    }

    private sealed class PodRemoval(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    private static string ToolsPath
    {
        get
        {
            string path = Path.Combine(Artifacts.Directory, "emissary-tools");
            if (!File.Exists(path))
                throw new XunitException($"black-box test binary missing: {path} — build it with scripts/build.sh");
            return path;
        }
    }

    private static string Example(string name) => Path.Combine(Artifacts.RepoRoot, "examples", name);

    private string Manifest(string yaml, string name = "pod.yaml")
    {
        string path = Path.Combine(TempDir("local"), name);
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>One line of --events.</summary>
    private sealed record Event(DateTimeOffset Time, string Step, string State, int? ExitCode, string? Reason, string? Message);

    private static List<Event> ReadEvents(string path)
    {
        var events = new List<Event>();
        foreach (string line in File.ReadAllLines(path).Where(l => l.Length > 0))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            events.Add(new Event(
                DateTimeOffset.Parse(e.GetProperty("time").GetString()!, CultureInfo.InvariantCulture),
                e.GetProperty("step").GetString()!,
                e.GetProperty("state").GetString()!,
                e.TryGetProperty("exitCode", out JsonElement code) ? code.GetInt32() : null,
                e.TryGetProperty("reason", out JsonElement reason) ? reason.GetString() : null,
                e.TryGetProperty("message", out JsonElement message) ? message.GetString() : null));
        }
        return events;
    }

    private static bool IsFinal(Event e) => e.State is "succeeded" or "failed" or "skipped";

    /// <summary>The step's final event (exactly one).</summary>
    private static Event Final(IReadOnlyList<Event> events, string step) =>
        events.Where(e => e.Step == step && IsFinal(e)).Should().ContainSingle($"step {step} ends exactly once").Subject;

    /// <summary>Each step's `running` comes at or after the final event of every step it waits for.</summary>
    private static void AssertDeclaredOrder(IReadOnlyList<Event> events, params (string Step, string[] After)[] graph)
    {
        foreach ((string step, string[] after) in graph)
        {
            Event running = events.Where(e => e.Step == step && e.State == "running").Should().ContainSingle($"step {step} runs once").Subject;
            foreach (string upstream in after)
            {
                Event done = Final(events, upstream);
                running.Time.Should().BeOnOrAfter(done.Time, $"{step} waits for {upstream} ({upstream} ended {done.Time:HH:mm:ss.fff}, {step} ran {running.Time:HH:mm:ss.fff})");
            }
        }
    }

    [BlackBoxFact]
    public void The_tekton_example_runs_in_order_and_reports_results_through_emissary_local()
    {
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        var result = RunEmissary("local", Example("tekton-pipeline.yaml"), "--events", events);

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertNoStackTrace(result);
        List<Event> log = ReadEvents(events);
        AssertDeclaredOrder(log, ("build", ["clone"]), ("publish", ["build"]));
        foreach (string step in new[] { "clone", "build", "publish" })
            Final(log, step).Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0 && e.Reason == "Completed");
        result.StdoutLines.Should().Contain("build | building commit 3f9a2c1", "build reads clone's result through EMISSARY_CONTROL_DIR\n{0}", result);
        result.StdoutLines.Should().Contain("publish | publishing sha256:5e1f");
        result.StdoutLines.Should().Contain("  result clone.commit = 3f9a2c1").And.Contain("  result build.digest = sha256:5e1f");
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  build\s+\|.*\| exit 0 Completed"), "the timeline gives each step's exit code and reason\n{0}", result);
    }

    [BlackBoxFact]
    public void In_the_argo_dag_a_failing_lint_skips_package_while_docs_and_cleanup_still_run()
    {
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        var result = Run(ToolsPath, "local", Example("argo-dag.yaml"), "--events", events);

        result.ExitCode.Should().Be(2, "the pod's outcome is the exit code of the first step that failed\n{0}", result);
        List<Event> log = ReadEvents(events);
        AssertDeclaredOrder(log, ("unit", ["prepare"]), ("lint", ["prepare"]), ("docs", ["prepare"]), ("cleanup", ["package", "docs"]));
        Final(log, "lint").Should().Match<Event>(e => e.State == "failed" && e.ExitCode == 2);
        Event package = Final(log, "package");
        package.Should().Match<Event>(e => e.State == "skipped" && e.ExitCode == 123 && e.Reason == "Skipped");
        package.Message.Should().Be("step 'lint' failed with exit code 2");
        package.Time.Should().BeOnOrAfter(Final(log, "lint").Time);
        log.Should().NotContain(e => e.Step == "package" && e.State == "running", "a skipped step never runs");
        Final(log, "docs").State.Should().Be("succeeded");
        Final(log, "cleanup").State.Should().Be("succeeded", "cleanup has runOnUpstreamFailure");
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  package\s+\|.*\| skipped: step 'lint' failed with exit code 2$"), "{0}", result);
        result.StdoutLines.Should().NotContain("package | packaging");
    }

    [BlackBoxFact]
    public void The_stream_pipeline_runs_its_stages_side_by_side_and_hands_the_count_on_as_a_result()
    {
        string events = Path.Combine(TempDir("ev"), "events.jsonl");
        string svg = Path.Combine(TempDir("svg"), "timeline.svg");

        var result = RunEmissary("local", Example("stream-pipeline.yaml"), "--events", events, "--timeline", svg);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("report | even numbers: 100000", "numbers | evens | count, then $(steps.count.results.total)\n{0}", result);
        List<Event> log = ReadEvents(events);
        DateTimeOffset Started(string step) => log.First(e => e.Step == step && e.State == "running").Time;
        Started("count").Should().BeBefore(Final(log, "numbers").Time, "the stages run at once");
        Started("evens").Should().BeBefore(Final(log, "numbers").Time);
        foreach (string step in new[] { "numbers", "evens", "count" })
            result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, $@"^  {step}\s+\|.*█.*\| exit 0 Completed"), "the timeline shows each stage running\n{0}", result);
        File.ReadAllText(svg).Should().Contain("evens").And.Contain("count");
    }

    [BlackBoxFact]
    public void A_failing_stage_fails_the_pipeline_like_pipefail()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: pf}
            spec:
              containers:
                - {name: gen, image: x, command: [sh, -c, "echo some; exit 3"]}
                - {name: sink, image: x, stdinFrom: gen, command: [cat]}
            """);

        var result = RunEmissary("local", pod, "--plain");

        result.ExitCode.Should().Be(3, "the consumer succeeded, but the producer failed: the pod fails\n{0}", result);
        result.StdoutLines.Should().Contain("sink | some");
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  gen\s+\|.*\| exit 3 Error"), "{0}", result);
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  sink\s+\|.*\| exit 0 Completed"), "{0}", result);
    }

    [BlackBoxFact]
    public void In_the_job_with_a_sidecar_the_sidecar_is_stopped_once_the_steps_are_over()
    {
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        var result = RunEmissary("local", Example("job-sidecar.yaml"), "--events", events);

        result.ExitCode.Should().Be(0, "a sidecar stopped by emissary counts as success\n{0}", result);
        List<Event> log = ReadEvents(events);
        AssertDeclaredOrder(log, ("test", ["migrate"]));
        Event db = Final(log, "db");
        db.Should().Match<Event>(e => e.State == "succeeded" && e.Reason == "Stopped");
        db.Time.Should().BeOnOrAfter(Final(log, "test").Time, "the sidecar is stopped after the last step ended");
    }

    [BlackBoxFact]
    public void The_svg_timeline_is_well_formed_xml_that_names_every_step()
    {
        string svg = Path.Combine(TempDir("svg"), "timeline.svg");

        var result = RunEmissary("local", Example("argo-dag.yaml"), "--timeline", svg);

        result.ExitCode.Should().Be(2, "{0}", result);
        XDocument doc = XDocument.Load(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        doc.Root!.Name.Should().Be(ns + "svg");
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        foreach (string step in new[] { "prepare", "unit", "lint", "package", "docs", "cleanup" })
            texts.Should().Contain(step, $"the timeline names step {step}");
        texts.Should().Contain(t => t.StartsWith("skipped: step 'lint'"));
    }

    [BlackBoxFact]
    public void With_output_dir_each_steps_output_goes_to_its_files_instead_of_the_terminal()
    {
        string dir = Path.Combine(TempDir("out"), "logs");
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: outputs}
            spec:
              containers:
                - name: talker
                  image: busybox
                  command: [sh, -c, "echo to stdout; echo to stderr >&2"]
                - name: quiet
                  image: busybox
                  waitForTermination: [talker]
                  command: ["true"]
            """);

        var result = RunEmissary("local", pod, "--output-dir", dir);

        result.ExitCode.Should().Be(0, "{0}", result);
        File.ReadAllText(Path.Combine(dir, "talker.stdout")).Should().Be("to stdout\n");
        File.ReadAllText(Path.Combine(dir, "talker.stderr")).Should().Be("to stderr\n");
        File.ReadAllText(Path.Combine(dir, "quiet.stdout")).Should().BeEmpty();
        result.StdoutLines.Should().NotContain(l => l.StartsWith("talker | "), "the output is in the files\n{0}", result);
        result.StderrLines.Should().NotContain(l => l.StartsWith("talker | "), "{0}", result);
    }

    [BlackBoxFact]
    public void The_literal_env_of_the_spec_reaches_the_command_and_steps_have_no_stdin()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: env}
            spec:
              containers:
                - name: show
                  image: busybox
                  env:
                    - {name: GREETING, value: "hello from the spec"}
                    - {name: EMPTY, value: ""}
                    - name: SECRET
                      valueFrom: {secretKeyRef: {name: s, key: k}}
                  command: [sh, -c, "echo \"GREETING=$GREETING\"; echo \"EMPTY=[${EMPTY-unset}]\"; echo \"SECRET=${SECRET-unset}\"; cat; echo stdin ended"]
            """);

        var result = Run(ToolsPath, "local", pod);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("show | GREETING=hello from the spec")
            .And.Contain("show | EMPTY=[]")
            .And.Contain("show | SECRET=unset")
            .And.Contain("show | stdin ended");
        result.Stderr.Should().Contain("SECRET come from valueFrom");
    }

    [BlackBoxFact]
    public void A_manifest_can_come_from_stdin()
    {
        var result = Run("/bin/sh", "-c", "exec \"$1\" local - < \"$2\"", "sh", EmissaryPath, Example("tekton-pipeline.yaml"));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("  result build.digest = sha256:5e1f");
    }

    [BlackBoxTheory]
    [InlineData("""
        apiVersion: v1
        kind: Pod
        metadata: {name: build}
        spec:
          containers:
            - name: build
              image: busybox
              command: ["true"]
            - name: test
              image: busybox
              waitForTermination: [biuld]
              command: ["true"]
        """)]
    [InlineData("""
        apiVersion: v1
        kind: Pod
        metadata: {name: nocommand}
        spec:
          containers:
            - name: app
              image: example/app:1
        """)]
    [InlineData("apiVersion: v1\nkind: Pod\nspec: [\n")]
    public void A_bad_manifest_is_exit_1_with_the_error_lines_rewrite_prints(string yaml)
    {
        string pod = Manifest(yaml);

        var local = RunEmissary("local", pod);
        var rewrite = RunEmissary("rewrite", pod);

        rewrite.ExitCode.Should().Be(1, "{0}", rewrite);
        local.ExitCode.Should().Be(1, "{0}", local);
        AssertNoStackTrace(local);
        local.StderrLines.Should().NotBeEmpty().And.Equal(rewrite.StderrLines, "local validates exactly as rewrite does\n{0}", local);
        local.Stdout.Should().BeEmpty("nothing runs\n{0}", local);
    }

    [BlackBoxFact]
    public void Ctrl_c_stops_every_step_like_a_pod_deletion_and_exits_130()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: sleepy}
            spec:
              containers:
                - name: a
                  image: busybox
                  command: [sh, -c, "echo started; sleep 3600"]
                - name: b
                  image: busybox
                  command: [sh, -c, "trap 'echo b stopping; exit 3' TERM; echo started; sleep 3600 & wait"]
                - name: c
                  image: busybox
                  waitForTermination: [a]
                  command: [sh, -c, "echo never"]
            """);
        // A grace (and sleeps) far beyond the hang guard: ending at all shows that SIGTERM ended
        // these steps and nobody waited for the grace.
        var local = StartEmissary("local", pod, "--plain", "--grace", "1h");
        local.WaitForLine("a | started");
        local.WaitForLine("b | started");

        local.Signal(SIGINT); // emissary execs emissary-tools: the same pid
        var result = local.WaitForExit(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(130, "{0}", result);
        result.Stderr.Should().Contain("SIGINT: stopping every step");
        result.StdoutLines.Should().Contain("b | b stopping", "b got SIGTERM\n{0}", result);
        result.StdoutLines.Should().NotContain("c | never");
        // The harness fails the test if any of the steps' processes is still alive.
    }

    [BlackBoxFact]
    public void After_ctrl_c_a_step_that_ignores_sigterm_is_killed_when_the_grace_is_over()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: stubborn}
            spec:
              containers:
                - name: stubborn
                  image: busybox
                  command: [sh, -c, "trap '' TERM; echo started; sleep 3600; echo survived"]
            """);
        var local = Start(ToolsPath, "local", pod, "--plain", "--grace", "1s");
        local.WaitForLine("stubborn | started");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        local.Signal(SIGINT);
        var result = local.WaitForExit(TimeSpan.FromSeconds(30)); // the step sleeps for an hour unless killed

        result.ExitCode.Should().Be(130, "{0}", result);
        clock.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(900), "SIGKILL waits for the grace");
        result.StdoutLines.Should().NotContain("stubborn | survived");
    }

    [BlackBoxFact]
    public void On_a_terminal_ctrl_c_reaches_emissary_local_because_no_step_takes_the_terminal()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: tty}
            spec:
              containers:
                - name: first
                  image: busybox
                  command: [sh, -c, "set -- $$(cat /proc/$$$$/stat); echo \"pgrp=$$5 tpgid=$$8\"; sleep 30"]
                - name: second
                  image: busybox
                  command: [sh, -c, "trap 'echo second stopping; exit 3' TERM; sleep 30 & wait"]
            """);

        // script(1) runs emissary local on a pseudo-terminal; 1.5 s later the terminal gets a ^C.
        var result = Run("/bin/sh", "-c",
            "(sleep 1.5; printf '\\003'; sleep 2) | script -qfec \"$1 local $2 --plain --grace 10s\" /dev/null",
            "sh", EmissaryPath, pod);

        result.ExitCode.Should().Be(130, "script -e returns emissary local's exit code\n{0}", result);
        Match ids = Regex.Match(result.Stdout, @"first \| pgrp=(\d+) tpgid=(\d+)");
        ids.Success.Should().BeTrue("{0}", result);
        ids.Groups[1].Value.Should().NotBe(ids.Groups[2].Value, "a step's process group must not be the terminal's foreground group\n{0}", result);
        result.Stdout.Should().Contain("SIGINT: stopping every step").And.Contain("second | second stopping");
    }

    [BlackBoxFact]
    public void What_a_step_leaves_running_in_the_background_ends_with_the_run_as_it_would_with_its_container()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: daemon}
            spec:
              containers:
                - name: starter
                  image: busybox
                  command: [sh, -c, "sleep 3600 > /dev/null 2>&1 & (sleep 3600 &) ; echo started them"]
                - name: next
                  image: busybox
                  waitForTermination: [starter]
                  command: [sh, -c, "echo next"]
            """);

        // The leftovers sleep for an hour: ending within RunEmissary's hang guard shows nobody waited for them.
        var result = RunEmissary("local", pod);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("next | next");
        result.Stderr.Should().Contain("killed 2 processes that the steps left running");
        // The harness fails the test if either sleep is still alive.
    }

    [BlackBoxFact]
    public void A_step_whose_emissary_is_killed_fails_the_pod_with_its_exit_code()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: crash}
            spec:
              containers:
                - name: victim
                  image: busybox
                  command: [sh, -c, "sleep 0.3; kill -9 $$PPID"]
                - name: after
                  image: busybox
                  waitForTermination: [victim]
                  command: [sh, -c, "echo never"]
            """);

        var result = RunEmissary("local", pod);

        result.ExitCode.Should().Be(137, "{0}", result);
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  victim\s+\|.*\| crashed while \w+ \(exit 137\)$"), "{0}", result);
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  after\s+\|.*\| skipped: step 'victim' stopped without recording an exit code"), "{0}", result);
    }

    [BlackBoxFact]
    public void Native_sidecars_are_stopped_locally_too()
    {
        string pod = Manifest("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: native
              annotations:
                emissary.dev/native-sidecars: "true"
            spec:
              containers:
                - name: db
                  image: busybox
                  sidecar: true
                  command: [sh, -c, "trap 'echo db stopped; exit 0' TERM; while :; do sleep 0.05; done"]
                - name: step
                  image: busybox
                  command: [sh, -c, "sleep 0.2; echo step done"]
            """);

        var result = RunEmissary("local", pod);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  db\s+\|.*\| exit 0 Stopped"), "{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_the_tekton_example_runs_in_real_containers_and_leaves_nothing_behind()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        using IDisposable podRemoval = RemovesPod("pipeline");
        var result = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, Example("tekton-pipeline.yaml"), "--events", events, "--plain")
            .WaitForExit(TimeSpan.FromSeconds(60));

        result.ExitCode.Should().Be(0, "{0}", result);
        List<Event> log = ReadEvents(events);
        AssertDeclaredOrder(log, ("build", ["clone"]), ("publish", ["build"]));
        foreach (string step in new[] { "clone", "build", "publish" })
            Final(log, step).Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0);
        result.StdoutLines.Should().Contain("build | building commit 3f9a2c1", "the logs are printed at the end\n{0}", result);
        result.StdoutLines.Should().Contain("  result clone.commit = 3f9a2c1").And.Contain("  result build.digest = sha256:5e1f");

        string volume = Regex.Match(result.Stderr, @"/volumes/(emissary-control-[0-9a-f]+)/_data").Groups[1].Value;
        volume.Should().NotBeEmpty("the control directory is the volume's\n{0}", result);
        Run("podman", "pod", "exists", "pipeline").ExitCode.Should().Be(1, "the pod is removed at the end");
        Run("podman", "volume", "exists", volume).ExitCode.Should().Be(1, "the control volume is removed at the end");
        Run("podman", "volume", "exists", volume.Replace("emissary-control", "emissary-bin")).ExitCode.Should().Be(1);
        string runId = volume["emissary-control-".Length..];
        Run("podman", "volume", "ls", "--format", "{{.Name}}").StdoutLines.Should().NotContain(v => v.EndsWith("-" + runId), "every step's volume is removed too");
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_steps_of_other_uids_cannot_write_each_others_records_and_are_followed_on_their_own_volumes()
    {
        PodmanImages images = BuildImages();
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        using IDisposable podRemoval = RemovesPod("trust");
        var result = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, Example("trust-uids.yaml"), "--events", events, "--plain")
            .WaitForExit(TimeSpan.FromSeconds(60));

        result.ExitCode.Should().Be(123, "a step was skipped (by another container), the others succeeded\n{0}", result);
        List<Event> log = ReadEvents(events);
        foreach (string step in new[] { "worker", "server", "untrusted" })
            Final(log, step).Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0, "{0}", result);
        Final(log, "optional").Should().Match<Event>(e => e.State == "skipped" && e.ExitCode == 123);
        log.Should().Contain(e => e.Step == "server" && e.State == "running", "each step's states come from its own volume");
        result.StdoutLines.Should().Contain("untrusted | untrusted (uid 1000): cannot write another step's record", "{0}", result);
        result.StderrLines.Where(l => l.StartsWith("untrusted | ", StringComparison.Ordinal) && l.EndsWith("Read-only file system", StringComparison.Ordinal)).Should().HaveCount(5, "{0}", result);
        result.StdoutLines.Should().Contain("server | server (uid 1000): got USR1, stopping", "emissary signal crossed containers through the read-only mount");
        result.StdoutLines.Should().Contain("  result untrusted.forgery = refused").And.Contain("  result worker.started = yes");
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_ctrl_c_stops_the_pod_and_removes_it()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string pod = Manifest($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: sleepy-{{Token[..8]}}}
            spec:
              restartPolicy: Never
              containers:
                - name: a
                  image: busybox:1.36
                  command: [sh, -c, "echo started; sleep 3600"]
                - name: b
                  image: busybox:1.36
                  waitForTermination: [a]
                  command: [sh, -c, "echo never"]
            """);
        var local = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, pod, "--plain", "--grace", "2s");
        // Progress goes to stderr; with podman the logs come at the end.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!local.Stderr.Contains("] a: running") && DateTime.UtcNow < deadline && !local.HasExited)
            Thread.Sleep(50);
        local.Stderr.Should().Contain("] a: running", "{0}", local.Describe());

        local.Signal(SIGINT);
        // a sleeps for an hour: ending within the hang guard shows `podman pod stop -t 2` ended it.
        var result = local.WaitForExit(TimeSpan.FromSeconds(60));

        result.ExitCode.Should().Be(130, "{0}", result);
        result.Stderr.Should().Contain("SIGINT: stopping the pod (podman pod stop -t 2");
        result.StdoutLines.Should().Contain("a | started").And.NotContain("b | never");
        result.StdoutLines.Should().Contain(l => Regex.IsMatch(l, @"^  a\s+\|.*\| exit 143 Error"), "emissary run reports the SIGTERM\n{0}", result);
        Run("podman", "pod", "exists", $"sleepy-{Token[..8]}").ExitCode.Should().Be(1, "the pod is removed after Ctrl-C too");
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_a_missing_image_is_one_line_and_exit_125_before_anything_runs()
    {
        Requirements.Podman();
        var result = RunEmissary("local", "--engine", "podman", "--image", "localhost/emissary:missing-" + Token, Example("tekton-pipeline.yaml"));

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain($"image localhost/emissary:missing-{Token} (container emissary-init) is not in podman's local storage");
        Run("podman", "pod", "exists", "pipeline").ExitCode.Should().Be(1);
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_a_producer_container_streams_1_GiB_byte_exact_into_a_consumer_container_of_another_uid()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        const long bytes = 1L << 30;
        // testchild from the host (a hostPath volume): the step image is busybox only.
        string pod = Manifest($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: gib-{{Token[..8]}}}
            spec:
              restartPolicy: Never
              volumes:
                - name: tc
                  hostPath:
                    path: {{Artifacts.Directory}}
                    type: Directory
              containers:
                - name: producer
                  image: busybox:1.36
                  volumeMounts: [{name: tc, mountPath: /opt/tc, readOnly: true}]
                  command: [/opt/tc/testchild, pattern, "{{bytes}}"]
                - name: consumer
                  image: busybox:1.36
                  securityContext: {runAsUser: 1000}
                  stdinFrom: producer
                  command: [sh, -c, 's=$(sha256sum); printf %s "${s%% *}" > "$EMISSARY_RESULTS/sha256"']
            """);
        var expected = Run("/bin/sh", "-c", $"testchild pattern {bytes} | sha256sum");
        expected.ExitCode.Should().Be(0);

        var result = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, pod, "--plain").WaitForExit(TimeSpan.FromSeconds(180));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain($"  result consumer.sha256 = {expected.Stdout.Split(' ')[0]}", "the consumer read exactly the producer's 1 GiB\n{0}", result);
    }

    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_a_three_stage_pipeline_runs_across_three_containers_side_by_side()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string events = Path.Combine(TempDir("ev"), "events.jsonl");

        using IDisposable podRemoval = RemovesPod("stream");
        var result = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, Example("stream-pipeline.yaml"), "--events", events, "--plain")
            .WaitForExit(TimeSpan.FromSeconds(90));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("report | even numbers: 100000", "numbers | evens | count, then the count as a result in report's arguments\n{0}", result);
        List<Event> log = ReadEvents(events);
        foreach (string step in new[] { "numbers", "evens", "count", "report" })
            Final(log, step).Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0, "{0}", result);
        DateTimeOffset Started(string step) => log.First(e => e.Step == step && e.State == "running").Time;
        Started("count").Should().BeBefore(Final(log, "numbers").Time, "the stages run at once, not one after the other");
        Started("report").Should().BeOnOrAfter(Final(log, "count").Time);
    }

    private sealed record PodmanImages(string Emissary, string Steps);

    private static readonly object ImagesLock = new();
    private static PodmanImages? s_images;

    /// <summary>
    /// The emissary image from Dockerfile.scratch (with this build's artifacts/emissary) and a
    /// FROM scratch step image holding a static busybox, tagged busybox:1.36 so that the examples'
    /// image resolves locally (as scripts/e2e-podman.sh builds them). Built once per test run, by
    /// the first test that needs them (through its harness); the images they replace are removed,
    /// so that runs do not pile up untagged images.
    /// </summary>
    private PodmanImages BuildImages()
    {
        lock (ImagesLock)
        {
            if (s_images is not null)
                return s_images;
            var images = new PodmanImages("localhost/emissary:blackbox", "localhost/emissary-steps:blackbox");
            string[] replaced = [ImageId(images.Emissary), ImageId(images.Steps)];
            var emissary = Run("buildah", "bud", "--isolation", "chroot", "-q", "-f", Path.Combine(Artifacts.RepoRoot, "Dockerfile.scratch"), "-t", images.Emissary, Artifacts.RepoRoot);
            emissary.ExitCode.Should().Be(0, "{0}", emissary);

            string context = TempDir("steps");
            string bin = Path.Combine(context, "root", "bin");
            Directory.CreateDirectory(bin);
            CopyInto(bin, Artifacts.StaticBusybox);
            foreach (string applet in new[] { "sh", "echo", "cat", "sleep", "printf", "true", "false" })
                File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
            File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM scratch\nCOPY root/ /\nENV PATH=/bin\n");
            var steps = Run("buildah", "bud", "--isolation", "chroot", "-q", "-f", Path.Combine(context, "Dockerfile"), "-t", images.Steps, context);
            steps.ExitCode.Should().Be(0, "{0}", steps);
            var tag = Run("podman", "tag", images.Steps, "docker.io/library/busybox:1.36");
            tag.ExitCode.Should().Be(0, "{0}", tag);
            foreach (string old in replaced.Where(id => id.Length > 0 && id != ImageId(images.Emissary) && id != ImageId(images.Steps)))
                Run("podman", "rmi", old); // fails, harmlessly, if something still uses it
            return s_images = images;
        }
    }

    private string ImageId(string image)
    {
        var inspect = Run("podman", "image", "inspect", "--format", "{{.Id}}", image);
        return inspect.ExitCode == 0 ? inspect.Stdout.Trim() : "";
    }
}
