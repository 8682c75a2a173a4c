using System.Text.Json;
using System.Text.Json.Nodes;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// <c>kubectl emissary</c> against a live pod: the pod runs under <c>emissary local --engine
/// podman</c> (containers named POD-CONTAINER), and the kubectl test double maps
/// <c>kubectl exec POD -c C -- ARGS</c> to <c>podman exec POD-C ARGS</c> and answers
/// <c>kubectl get pod</c> with the pod as <c>emissary rewrite</c> wires it plus the status the
/// kubelet would report. status and signal run for real, and so do the debug verbs on a step paused
/// at its breakpoint (the second test).
/// </summary>
public sealed partial class LocalTests
{
    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void Kubectl_emissary_shows_a_live_pods_graph_signals_a_step_in_its_container_and_runs_debug_there()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string name = $"kp-{Token[..8]}";
        string dir = TempDir("kubectl");
        string pod = Manifest($$$"""
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "{{{name}}}"},
             "spec": {"restartPolicy": "Never", "containers": [
               {"name": "first", "image": "busybox:1.36", "command": ["sh", "-c", "echo started; sleep 3600"]},
               {"name": "second", "image": "busybox:1.36", "waitForTermination": ["first"], "command": ["sh", "-c", "echo never"]}]}}
            """, "pod.json");
        using IDisposable podRemoval = RemovesPod(name);
        RunningProcess local = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, pod, "--plain", "--grace", "2s");
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(local.Stderr.Contains("] first: running") && local.Stderr.Contains("] second: waiting")) && DateTime.UtcNow < deadline && !local.HasExited)
            Thread.Sleep(50);
        local.Stderr.Should().Contain("] second: waiting", "{0}", local.Describe());

        // What `kubectl get pod -o json` prints: the rewritten spec and the kubelet's report.
        ProcessResult rewritten = Run(ToolsPath, "rewrite", pod);
        rewritten.ExitCode.Should().Be(0, "{0}", rewritten);
        JsonNode live = JsonNode.Parse(rewritten.Stdout)!;
        live["metadata"]!["namespace"] = "team";
        string now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        live["status"] = JsonNode.Parse("""
            {"phase": "Running",
             "initContainerStatuses": [{"name": "emissary-init", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
             "containerStatuses": [{"name": "first", "state": {"running": {"startedAt": "NOW"}}}, {"name": "second", "state": {"running": {"startedAt": "NOW"}}}]}
            """.Replace("NOW", now));
        string podJson = Path.Combine(dir, "live.json");
        File.WriteAllText(podJson, live.ToJsonString());
        string log = Path.Combine(dir, "calls.log");
        var env = new Dictionary<string, string> { ["KUBECTL"] = KubectlPluginTests.Double, ["KUBECTL_DOUBLE_POD"] = podJson, ["KUBECTL_DOUBLE_LOG"] = log };
        string plugin = KubectlPluginTests.PluginLink(dir);

        ProcessResult table = Start(plugin, ["status", name, "-n", "team", "--context=kind"], env).WaitForExit();
        table.ExitCode.Should().Be(0, "{0}", table);
        table.Stderr.Should().BeEmpty();
        table.StdoutLines[0].Should().Be($"pod team/{name}: Running, 2 steps");
        table.StdoutLines[1].Should().MatchRegex(@"^STEP\s+STATE\s+EXIT\s+START\s+DURATION\s+AFTER\s+DETAIL$");
        table.StdoutLines[2].Should().MatchRegex(@"^first\s+running\s+-\s+\+0ms\s+\S+\s+-\s*$", "first's row comes from its own emissary\n{0}", table);
        table.StdoutLines[3].Should().MatchRegex(@"^second\s+waiting\s+-\s+-\s+-\s+first\s+waiting for step 'first'$", "{0}", table);

        ProcessResult json = Start(plugin, ["-o", "json", "status", name], env).WaitForExit();
        json.ExitCode.Should().Be(0, "{0}", json);
        using (JsonDocument rows = JsonDocument.Parse(json.Stdout))
        {
            rows.RootElement.EnumerateArray().Select(r => (r.GetProperty("step").GetString(), r.GetProperty("state").GetString()))
                .Should().Equal(("first", "running"), ("second", "waiting"));
        }

        string[] actions = ["continue", "fail", "rerun", "pause", "env"];
        foreach (string action in actions)
            Start(plugin, ["debug", action, name, "second", "--kubeconfig", "/tmp/kc", .. action == "env" ? new[] { "--values" } : []], env).WaitForExit();

        ProcessResult signal = Start(plugin, ["signal", name, "first", "TERM", "--namespace", "team"], env).WaitForExit();
        signal.ExitCode.Should().Be(0, "emissary signal ran in first's container\n{0}", signal);
        ProcessResult ended = local.WaitForExit(TimeSpan.FromSeconds(60));
        ended.StdoutLines.Should().Contain(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^  first\s+\|.*\| exit 143 Error"), "the TERM reached first's command\n{0}", ended);
        ended.StdoutLines.Should().NotContain("second | never");

        string bin = "/var/run/emissary-bin/emissary";
        string[] calls = File.ReadAllLines(log);
        calls.Should().Contain($"--namespace=team|--context=kind|get|pod|{name}|-o|json");
        calls.Should().Contain($"--namespace=team|--context=kind|exec|{name}|-c|first|--|{bin}|status|--json");
        calls.Should().Contain($"--namespace=team|--context=kind|exec|{name}|-c|second|--|{bin}|status|--json");
        foreach (string action in actions)
            calls.Should().Contain($"--kubeconfig=/tmp/kc|exec|{name}|-c|second|--|{bin}|debug|{action}{(action == "env" ? "|--values" : "")}|second");
        calls.Should().Contain($"--namespace=team|exec|{name}|-c|first|--|{bin}|signal|first|TERM");
    }

    /// <summary>
    /// The debug verbs for real: a step declared with <c>breakpoint: on-failure</c> fails and
    /// pauses in its podman container; <c>kubectl emissary status</c> shows it paused, <c>debug
    /// env</c> prints its command there, <c>debug continue</c> lets it go on with its recorded
    /// failure, and its dependant is then skipped.
    /// </summary>
    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void Kubectl_emissary_debug_acts_on_a_step_paused_in_its_container()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string name = $"kd-{Token[..8]}";
        string dir = TempDir("kubectl");
        string pod = Manifest($$$"""
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "{{{name}}}"},
             "spec": {"restartPolicy": "Never", "containers": [
               {"name": "first", "image": "busybox:1.36", "breakpoint": "on-failure", "command": ["sh", "-c", "echo started; exit 3"]},
               {"name": "second", "image": "busybox:1.36", "waitForTermination": ["first"], "command": ["sh", "-c", "echo never"]}]}}
            """, "pod.json");
        using IDisposable podRemoval = RemovesPod(name);
        RunningProcess local = StartEmissary("local", "--engine", "podman", "--image", images.Emissary, pod, "--plain", "--grace", "2s");
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!local.Stderr.Contains("] first: paused") && DateTime.UtcNow < deadline && !local.HasExited)
            Thread.Sleep(50);
        local.Stderr.Should().Contain("] first: paused", "{0}", local.Describe());

        ProcessResult rewritten = Run(ToolsPath, "rewrite", pod);
        rewritten.ExitCode.Should().Be(0, "{0}", rewritten);
        JsonNode live = JsonNode.Parse(rewritten.Stdout)!;
        string now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        live["status"] = JsonNode.Parse("""
            {"phase": "Running",
             "containerStatuses": [{"name": "first", "state": {"running": {"startedAt": "NOW"}}}, {"name": "second", "state": {"running": {"startedAt": "NOW"}}}]}
            """.Replace("NOW", now));
        string podJson = Path.Combine(dir, "live.json");
        File.WriteAllText(podJson, live.ToJsonString());
        var env = new Dictionary<string, string> { ["KUBECTL"] = KubectlPluginTests.Double, ["KUBECTL_DOUBLE_POD"] = podJson, ["KUBECTL_DOUBLE_LOG"] = Path.Combine(dir, "calls.log") };
        string plugin = KubectlPluginTests.PluginLink(dir);

        ProcessResult table = Start(plugin, ["status", name], env).WaitForExit();
        table.ExitCode.Should().Be(0, "{0}", table);
        table.StdoutLines.Should().Contain(l => l.StartsWith("first ", StringComparison.Ordinal) && l.Contains("paused"), "first paused at its breakpoint\n{0}", table);

        ProcessResult envNames = Start(plugin, ["debug", "env", name, "first"], env).WaitForExit();
        envNames.ExitCode.Should().Be(0, "{0}", envNames);
        envNames.Stdout.Should().Contain("echo started; exit 3", "debug env printed the paused step's command from its container\n{0}", envNames);

        ProcessResult resumed = Start(plugin, ["debug", "continue", name, "first"], env).WaitForExit();
        resumed.ExitCode.Should().Be(0, "{0}", resumed);
        ProcessResult ended = local.WaitForExit(TimeSpan.FromSeconds(60));
        ended.StdoutLines.Should().Contain(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^  first\s+\|.*\| exit 3 "), "continue kept first's recorded failure\n{0}", ended);
        ended.StdoutLines.Should().NotContain("second | never");
    }
}
