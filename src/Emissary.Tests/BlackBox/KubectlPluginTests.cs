using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// <c>kubectl emissary</c>: artifacts/emissary-tools started as <c>kubectl-emissary</c> (a link,
/// as krew installs it), with <c>KUBECTL</c> naming the test double Kubectl/kubectl-double.sh.
/// These tests need no pod: the double serves a pod JSON the test writes and misbehaves on
/// <c>exec</c> as a hostile or hung container would. The real pod: LocalTests.Kubectl.cs.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KubectlPluginTests : BlackBoxTest
{
    internal static readonly string Double = Path.Combine(Artifacts.RepoRoot, "src", "Emissary.Tests", "BlackBox", "Kubectl", "kubectl-double.sh");

    /// <summary>A link named kubectl-emissary to artifacts/emissary-tools, in a fresh directory.</summary>
    internal static string PluginLink(string dir)
    {
        string tools = Path.Combine(Artifacts.Directory, "emissary-tools");
        File.Exists(tools).Should().BeTrue("build it with scripts/build.sh");
        string link = Path.Combine(dir, "kubectl-emissary");
        File.CreateSymbolicLink(link, tools);
        return link;
    }

    /// <summary>A pod as kubectl prints it: one running step 'build' after 'fetch', which has ended.</summary>
    private const string PodJson = """
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"containers": [
           {"name": "fetch", "image": "x", "command": ["/var/run/emissary-bin/emissary", "run", "--name", "fetch", "--", "true"]},
           {"name": "build", "image": "x", "command": ["/var/run/emissary-bin/emissary", "run", "--name", "build", "--after", "fetch", "--", "make"]}]},
         "status": {"phase": "Running", "containerStatuses": [
           {"name": "fetch", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:02Z"}}},
           {"name": "build", "state": {"running": {"startedAt": "2026-01-01T10:00:02Z"}}}]}}
        """;

    private (string Plugin, Dictionary<string, string> Env, string Log) Setup(string? exec = null, string? getError = null)
    {
        string dir = TempDir("kubectl");
        string pod = Path.Combine(dir, "pod.json");
        File.WriteAllText(pod, PodJson);
        string log = Path.Combine(dir, "calls.log");
        var env = new Dictionary<string, string>
        {
            ["KUBECTL"] = Double,
            ["KUBECTL_DOUBLE_POD"] = pod,
            ["KUBECTL_DOUBLE_LOG"] = log,
            ["KUBECTL_DOUBLE_PIDS"] = Path.Combine(dir, "pids"),
        };
        if (exec is not null)
            env["KUBECTL_DOUBLE_EXEC"] = exec;
        if (getError is not null)
            env["KUBECTL_DOUBLE_GET_ERROR"] = getError;
        return (PluginLink(dir), env, log);
    }

    private static void AssertOnePluginErrorLine(ProcessResult result)
    {
        AssertNoStackTrace(result);
        result.StderrLines.Should().ContainSingle("{0}", result).Which.Should().StartWith("kubectl-emissary: ", "{0}", result);
    }

    [BlackBoxFact]
    public void A_pod_kubectl_cannot_get_is_one_line_with_kubectls_reason_and_exit_3()
    {
        (string plugin, var env, _) = Setup(getError: "Error from server (NotFound): pods \"web\" not found");

        ProcessResult result = Start(plugin, ["status", "web", "-n", "shop"], env).WaitForExit();

        result.ExitCode.Should().Be(3, "{0}", result);
        AssertOnePluginErrorLine(result);
        result.Stderr.Should().Contain("kubectl get pod web: Error from server (NotFound): pods \"web\" not found");
    }

    [BlackBoxFact]
    public void Kubectl_missing_is_one_line_and_exit_127_and_bad_usage_is_one_line_and_exit_125()
    {
        (string plugin, var env, _) = Setup();
        env["KUBECTL"] = "/nonexistent/kubectl";
        ProcessResult missing = Start(plugin, ["status", "web"], env).WaitForExit();
        missing.ExitCode.Should().Be(127, "{0}", missing);
        AssertOnePluginErrorLine(missing);

        ProcessResult typo = Start(plugin, ["debug", "contnue", "web", "build"], env).WaitForExit();
        typo.ExitCode.Should().Be(125, "{0}", typo);
        AssertOnePluginErrorLine(typo);
        typo.Stderr.Should().Contain("did you mean 'continue'?");
    }

    [BlackBoxFact]
    public void A_step_the_pod_does_not_have_is_exit_2_with_a_guess_and_a_step_that_ended_is_exit_1_and_nothing_is_exec_d()
    {
        (string plugin, var env, string log) = Setup();

        ProcessResult unknown = Start(plugin, ["signal", "web", "biuld", "TERM"], env).WaitForExit();
        unknown.ExitCode.Should().Be(2, "{0}", unknown);
        AssertOnePluginErrorLine(unknown);
        unknown.Stderr.Should().Contain("pod web has no step 'biuld' (did you mean 'build'?)");

        ProcessResult ended = Start(plugin, ["debug", "continue", "web", "fetch"], env).WaitForExit();
        ended.ExitCode.Should().Be(1, "{0}", ended);
        AssertOnePluginErrorLine(ended);
        ended.Stderr.Should().Contain("container 'fetch' is not running, it has ended (exit code 0)");
        File.ReadAllLines(log).Should().NotContain(l => l.Contains("exec"), "nothing is run in a container that is not there");
    }

    [BlackBoxFact]
    public void A_container_that_answers_status_without_end_is_cut_off_and_the_graph_is_still_shown()
    {
        (string plugin, var env, _) = Setup(exec: "flood");

        ProcessResult result = Start(plugin, ["status", "web"], env).WaitForExit(TimeSpan.FromSeconds(20));

        result.ExitCode.Should().Be(0, "{0}", result.Stderr);
        result.StderrLines.Should().ContainSingle().Which.Should()
            .Be("kubectl-emissary: step 'build': cannot read its status in container 'build': it printed more than the plugin reads");
        result.StdoutLines.Should().Contain(l => l.StartsWith("fetch ") && l.Contains("succeeded"), "the ended step comes from the kubelet's report\n{0}", result.Stdout);
        result.StdoutLines.Should().Contain(l => l.StartsWith("build ") && l.Contains("running") && l.Contains("status unknown"), "{0}", result.Stdout);
        ProcTable.WithToken(Token).Should().BeEmpty("the flooding kubectl was killed and reaped");
    }

    [BlackBoxFact]
    public void A_kubectl_exec_that_hangs_ends_at_the_timeout_with_exit_124_and_on_sigterm_with_143_leaving_no_kubectl()
    {
        (string plugin, var env, _) = Setup(exec: "hang");
        string pids = env["KUBECTL_DOUBLE_PIDS"];

        ProcessResult timedOut = Start(plugin, ["signal", "web", "build", "TERM", "--timeout", "1s"], env).WaitForExit(TimeSpan.FromSeconds(20));
        timedOut.ExitCode.Should().Be(124, "{0}", timedOut);
        AssertOnePluginErrorLine(timedOut);
        timedOut.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));

        RunningProcess running = Start(plugin, ["debug", "env", "web", "build"], env);
        WaitUntil(() => File.Exists(pids) && File.ReadAllLines(pids).Length == 2, "the second hanging kubectl started");
        running.Signal(15);
        ProcessResult terminated = running.WaitForExit(TimeSpan.FromSeconds(10));
        terminated.ExitCode.Should().Be(143, "{0}", terminated);
        AssertOnePluginErrorLine(terminated);
        foreach (string pid in File.ReadAllLines(pids))
            ProcTable.Stat(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)).Should().BeNull("kubectl {0} was stopped and reaped", pid);
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Qemu.HangGuard(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, what);
            Thread.Sleep(20);
        }
    }
}
