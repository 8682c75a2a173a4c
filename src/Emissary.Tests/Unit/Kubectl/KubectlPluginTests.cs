using Emissary.Foundation;
using Emissary.Tools.Kubectl;

namespace Emissary.Tests.Unit.Kubectl;

/// <summary>
/// The kubectl plugin's core with a fake kubectl: its command line, the pod it reads from
/// <c>kubectl get pod -o json</c>, the kubectl calls it makes, and the step graph it renders
/// from canned <c>emissary status --json</c> outputs.
/// </summary>
public sealed class KubectlPluginTests
{
    private const string Bin = "/var/run/emissary-bin/emissary";

    private static readonly DateTimeOffset Now = new(2026, 1, 1, 10, 0, 10, TimeSpan.Zero);

    // ---- the command line ----

    [Theory]
    [InlineData(new[] { "status", "web", "-n", "shop" }, "--namespace=shop")]
    [InlineData(new[] { "-nshop", "status", "web" }, "--namespace=shop")]
    [InlineData(new[] { "status", "-n=shop", "web" }, "--namespace=shop")]
    [InlineData(new[] { "status", "web", "--namespace=shop", "--context", "kind", "--kubeconfig=/k" }, "--namespace=shop,--context=kind,--kubeconfig=/k")]
    [InlineData(new[] { "--kubeconfig", "/k", "--namespace", "shop", "status", "web" }, "--kubeconfig=/k,--namespace=shop")]
    public void Kubectl_flags_anywhere_on_the_line_are_passed_on_in_the_order_given(string[] args, string flags)
    {
        PluginRequest request = PluginArguments.Parse(args);

        request.Verb.Should().Be(PluginVerb.Status);
        request.Pod.Should().Be("web");
        request.KubectlFlags.Should().Equal(flags.Split(','));
        KubectlCalls.GetPod(request).Should().Equal([.. flags.Split(','), "get", "pod", "web", "-o", "json"]);
    }

    [Fact]
    public void Debug_takes_an_action_pod_and_step_and_hands_other_flags_to_emissary_debug()
    {
        PluginRequest request = PluginArguments.Parse(["debug", "env", "--values", "web", "-n", "shop", "build", "--timeout=5s"]);

        request.Verb.Should().Be(PluginVerb.Debug);
        (request.DebugAction, request.Pod, request.Step).Should().Be(("env", "web", "build"));
        request.DebugFlags.Should().Equal("--values");
        request.KubectlFlags.Should().Equal("--namespace=shop");
        request.Timeout.Should().Be(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Signal_takes_pod_step_and_a_signal_it_knows()
    {
        PluginRequest request = PluginArguments.Parse(["signal", "web", "build", "SIGUSR1"]);
        (request.Verb, request.Pod, request.Step, request.Signal).Should().Be((PluginVerb.Signal, "web", "build", "SIGUSR1"));
    }

    [Theory]
    [InlineData(new string[0], "no command given")]
    [InlineData(new[] { "stauts", "web" }, "unknown command 'stauts' (did you mean 'status'?)")]
    [InlineData(new[] { "status" }, "missing argument (usage: kubectl emissary status POD)")]
    [InlineData(new[] { "status", "web", "extra" }, "unexpected argument 'extra'")]
    [InlineData(new[] { "status", "web", "--contxt=kind" }, "status: unknown option '--contxt' (did you mean '--context'?)")]
    [InlineData(new[] { "status", "web", "-n" }, "option -n needs a value")]
    [InlineData(new[] { "status", "web", "--namespace=" }, "option --namespace has an empty value")]
    [InlineData(new[] { "status", "web", "--timeout", "soon" }, "--timeout: 'soon' is not a duration")]
    [InlineData(new[] { "status", "web", "-o", "yaml" }, "-o: 'yaml' is not an output format")]
    [InlineData(new[] { "debug" }, "debug: which action?")]
    [InlineData(new[] { "debug", "resume", "web", "build" }, "debug: unknown action 'resume'")]
    [InlineData(new[] { "debug", "continue", "web" }, "missing argument (usage: kubectl emissary debug continue POD STEP)")]
    [InlineData(new[] { "debug", "continue", "web", "../x" }, "step name '../x' is not valid")]
    [InlineData(new[] { "signal", "web", "build", "TREM" }, "signal: unknown signal 'TREM'")]
    [InlineData(new[] { "signal", "web", "build", "TERM", "-o", "json" }, "signal: -o json is for status only")]
    public void Bad_usage_is_one_clear_message(string[] args, string message)
    {
        Action parse = () => PluginArguments.Parse(args);
        parse.Should().Throw<UsageException>().Which.Message.Should().Contain(message);
    }

    [Fact]
    public void Help_and_version_need_no_pod()
    {
        PluginArguments.Parse(["--help"]).Verb.Should().Be(PluginVerb.Help);
        PluginArguments.Parse(["status", "-h"]).Verb.Should().Be(PluginVerb.Help);
        PluginArguments.Parse(["version"]).Verb.Should().Be(PluginVerb.Version);
        KubectlPlugin.StartedAsPlugin("/home/me/.krew/bin/kubectl-emissary").Should().BeTrue();
        KubectlPlugin.StartedAsPlugin("/usr/local/bin/emissary-tools").Should().BeFalse();
    }

    // ---- the pod ----

    /// <summary>A pod as `rewrite` and the webhook wire it, with the kubelet's report, plus containers that are not steps.</summary>
    private static string Pod(string fetch = """{"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:02Z"}}""",
        string build = """{"running": {"startedAt": "2026-01-01T10:00:02Z"}}""") => """
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {
           "initContainers": [
             {"name": "emissary-init", "image": "e", "args": ["init", "/var/run/emissary-bin/"]},
             {"name": "proxy", "image": "p", "restartPolicy": "Always", "command": ["BIN", "run", "--name", "proxy", "--sidecar-of", "test,build", "--", "envoy"]}],
           "containers": [
             {"name": "test", "image": "t", "command": ["BIN"], "args": ["run", "--name=test", "--after", "build", "--control-dir", "/ctl", "--", "go", "test"]},
             {"name": "build", "image": "b", "command": ["BIN", "run", "--after=fetch", "--", "make"], "env": [{"name": "EMISSARY_NAME", "value": "build"}]},
             {"name": "fetch", "image": "f", "command": ["BIN", "run", "--name", "fetch", "--", "git", "clone"]},
             {"name": "plain", "image": "x", "command": ["BIN", "run", "--", "tini-like"]},
             {"name": "other", "image": "x", "command": ["/bin/emissary-like", "run", "--name", "other"]}]},
         "status": {"phase": "Running",
           "initContainerStatuses": [{"name": "emissary-init", "state": {"terminated": {"exitCode": 0}}}, {"name": "proxy", "state": {"running": {"startedAt": "2026-01-01T10:00:00Z"}}}],
           "containerStatuses": [
             {"name": "fetch", "state": FETCH},
             {"name": "build", "state": BUILD},
             {"name": "test", "state": {"running": {"startedAt": "2026-01-01T10:00:00Z"}}}]}}
        """.Replace("BIN", Bin).Replace("FETCH", fetch).Replace("BUILD", build);

    [Fact]
    public void A_container_is_a_step_when_it_runs_emissary_run_with_a_name_and_its_binary_gates_and_control_dir_are_read()
    {
        PodSteps pod = PodSteps.Parse(Pod());

        (pod.Name, pod.Namespace, pod.Phase).Should().Be(("web", "shop", "Running"));
        pod.Steps.Select(s => s.Step).Should().Equal("proxy", "test", "build", "fetch");
        pod.Find("proxy")!.SidecarOf.Should().Equal("test", "build");
        pod.Find("test")!.Should().Match<PodStep>(s => s.ControlDirectory == "/ctl" && s.Upstreams.SequenceEqual(new[] { "build" }) && s.Binary == Bin);
        pod.Find("build")!.Upstreams.Should().Equal("fetch");
        pod.Find("build")!.Report.Phase.Should().Be(ContainerPhase.Running);
        pod.Find("fetch")!.Report.Should().Match<ContainerReport>(r => r.Phase == ContainerPhase.Terminated && r.ExitCode == 0);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"kind": "Service", "metadata": {}}""")]
    [InlineData("""{"kind": "Pod"}""")]
    [InlineData("not json")]
    public void What_is_not_a_pod_is_refused(string json)
    {
        Action parse = () => PodSteps.Parse(json);
        parse.Should().Throw<FormatException>();
    }

    // ---- the graph ----

    private const string BuildStatus = """
        [{"name": "build", "state": "running", "pid": 7, "waitingSince": "2026-01-01T10:00:02Z", "startedAt": "2026-01-01T10:00:02.5Z"},
         {"name": "fetch", "state": "pending"}]
        """;

    private const string TestStatus = """[{"name": "test", "state": "waiting", "waitingSince": "2026-01-01T10:00:00Z", "waitingFor": ["step 'build'"]}, {"name": "build", "state": "running"}]""";

    private const string ProxyStatus = """[{"name": "proxy", "state": "running", "startedAt": "2026-01-01T10:00:00Z", "usage": {"attempts": 3}}]""";

    [Fact]
    public void Status_runs_emissary_status_in_each_running_step_container_and_renders_the_graph_upstreams_first()
    {
        var kubectl = new FakeKubectl(Pod(), exec => Container(exec) switch
        {
            "build" => new KubectlOutput(0, Utf8(BuildStatus), ""),
            "test" => new KubectlOutput(0, Utf8(TestStatus), ""),
            _ => new KubectlOutput(0, Utf8(ProxyStatus), ""),
        });
        var output = new List<string>();
        var warnings = new List<string>();

        int code = new KubectlPlugin(kubectl, output.Add, warnings.Add).Run(PluginArguments.Parse(["status", "web", "-n", "shop"]));

        code.Should().Be(0);
        warnings.Should().BeEmpty();
        kubectl.Calls.Should().BeEquivalentTo(new string[][]
        {
            ["--namespace=shop", "get", "pod", "web", "-o", "json"],
            ["--namespace=shop", "exec", "web", "-c", "proxy", "--", Bin, "status", "--json"],
            ["--namespace=shop", "exec", "web", "-c", "test", "--", Bin, "status", "--json", "--control-dir", "/ctl"],
            ["--namespace=shop", "exec", "web", "-c", "build", "--", Bin, "status", "--json"],
        }, o => o.WithStrictOrdering());
        PodSteps pod = PodSteps.Parse(Pod());
        string text = StatusGraph.Render(pod, Rows(kubectl), Now);
        text.Should().Be("""
            pod shop/web: Running, 4 steps
            STEP   STATE      EXIT  START  DURATION  AFTER                  DETAIL
            proxy  running    -     +0ms   10s       sidecar of test,build  attempt 3
            fetch  succeeded  0     +0ms   2s        -
            build  running    -     +2.5s  7.5s      fetch
            test   waiting    -     -      -         build                  waiting for step 'build'

            """.Replace("\r", ""));
    }

    private static IReadOnlyList<StepRow> Rows(FakeKubectl kubectl)
    {
        PodSteps pod = PodSteps.Parse(Pod());
        return pod.Steps.Select(s => s.Report.Phase == ContainerPhase.Running
            ? StatusGraph.FromStatusOutput(s, kubectl.Answer(["-c", s.Container]).Text, out _)!
            : StatusGraph.FromContainer(s)).ToArray();
    }

    [Fact]
    public void An_ended_step_comes_from_its_termination_message_and_a_waiting_container_is_pending()
    {
        string fetch = """{"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:01Z", "message": "{\"name\":\"fetch\",\"exitCode\":2,\"reason\":\"Error\",\"startedAt\":\"2026-01-01T10:00:00.250Z\",\"finishedAt\":\"2026-01-01T10:00:01Z\",\"usage\":{\"attempts\":2}}"}}""";
        PodSteps pod = PodSteps.Parse(Pod(fetch, """{"waiting": {"reason": "ContainerCreating"}}"""));

        StepRow ended = StatusGraph.FromContainer(pod.Find("fetch")!);
        ended.Should().Match<StepRow>(r => r.State == "failed" && r.ExitCode == 2 && r.Reason == "Error" && r.Attempts == 2 && r.Detail == "on-error continue");
        ended.StartedAt.Should().Be(new DateTimeOffset(2026, 1, 1, 10, 0, 0, 250, TimeSpan.Zero));
        StatusGraph.FromContainer(pod.Find("build")!).Should().Match<StepRow>(r => r.State == "pending" && r.Detail == "ContainerCreating");

        string skipped = """{"terminated": {"exitCode": 123, "reason": "Error"}}""";
        StatusGraph.FromContainer(PodSteps.Parse(Pod(skipped)).Find("fetch")!).State.Should().Be("skipped");
    }

    [Fact]
    public void Text_from_a_container_is_shown_escaped_and_cannot_forge_rows()
    {
        PodStep build = PodSteps.Parse(Pod()).Find("build")!;
        string hostile = """[{"name": "build", "state": "running\u001b[2J", "message": "ok\nfetch  succeeded"}]""";

        StepRow row = StatusGraph.FromStatusOutput(build, hostile, out string? problem)!;
        string text = StatusGraph.Render(PodSteps.Parse(Pod()), [row], Now);

        problem.Should().BeNull();
        text.Should().Contain(@"running\x1b[2J").And.Contain(@"ok\nfetch  succeeded");
        text.Split('\n').Should().HaveCount(4, "heading, columns, one row, and the final newline");
    }

    [Theory]
    [InlineData("", "emissary status --json printed no JSON")]
    [InlineData("{}", "printed no list")]
    [InlineData("""[{"name": "fetch", "state": "running"}]""", "its control directory has no record of step 'build'")]
    [InlineData("""[{"name": "build"}]""", "no record of step 'build'")]
    public void A_status_output_without_the_steps_record_says_why(string output, string problem)
    {
        StatusGraph.FromStatusOutput(PodSteps.Parse(Pod()).Find("build")!, output, out string? why).Should().BeNull();
        why.Should().Contain(problem);
    }

    [Fact]
    public void A_container_whose_status_cannot_be_read_is_a_warning_and_its_containers_state()
    {
        var kubectl = new FakeKubectl(Pod(), _ => new KubectlOutput(1, [], "error: unable to upgrade connection: container not found (\"build\")"));
        var output = new List<string>();
        var warnings = new List<string>();

        new KubectlPlugin(kubectl, output.Add, warnings.Add).Run(PluginArguments.Parse(["status", "web", "-o", "json"])).Should().Be(0);

        warnings.Should().Contain("step 'build': cannot read its status in container 'build': unable to upgrade connection: container not found (\"build\")");
        output.Should().ContainSingle().Which.Should().Contain("\"state\": \"running\"").And.Contain("status unknown: unable to upgrade");
    }

    [Fact]
    public void Graph_order_puts_upstreams_first_and_survives_a_cycle_and_unknown_upstreams()
    {
        StepRow Row(string name, params string[] after) => new() { Step = new PodStep { Container = name, Step = name, Binary = Bin, Upstreams = after }, State = "waiting" };

        StatusGraph.InGraphOrder([Row("c", "b"), Row("b", "a", "elsewhere"), Row("a")]).Select(r => r.Step.Step).Should().Equal("a", "b", "c");
        StatusGraph.InGraphOrder([Row("x", "y"), Row("y", "x"), Row("z")]).Select(r => r.Step.Step).Should().Equal("z", "x", "y");
    }

    // ---- debug and signal ----

    [Fact]
    public void Debug_and_signal_run_emissary_in_the_steps_container_with_its_control_dir_and_exit_as_it_did()
    {
        var kubectl = new FakeKubectl(Pod(), _ => throw new InvalidOperationException("no capture"), passThroughCode: 1);
        var plugin = new KubectlPlugin(kubectl, _ => { }, _ => { });

        plugin.Run(PluginArguments.Parse(["debug", "env", "web", "test", "--values", "--context=kind"])).Should().Be(1, "the exit code of emissary debug, through kubectl exec");
        plugin.Run(PluginArguments.Parse(["signal", "web", "proxy", "USR1"])).Should().Be(1);

        kubectl.PassedThrough.Should().BeEquivalentTo(new string[][]
        {
            ["--context=kind", "exec", "web", "-c", "test", "--", Bin, "debug", "env", "--values", "--control-dir", "/ctl", "test"],
            ["exec", "web", "-c", "proxy", "--", Bin, "signal", "proxy", "USR1"],
        }, o => o.WithStrictOrdering());
    }

    [Theory]
    [InlineData("debug continue web fetch", PluginExitCodes.NotRunning, "step 'fetch': container 'fetch' is not running, it has ended (exit code 0)")]
    [InlineData("signal web lint TERM", PluginExitCodes.UnknownStep, "pod web has no step 'lint'; its steps: proxy, test, build, fetch")]
    [InlineData("signal web biuld TERM", PluginExitCodes.UnknownStep, "(did you mean 'build'?)")]
    public void A_step_that_is_not_there_or_not_running_is_refused_before_any_exec(string line, int code, string message)
    {
        var kubectl = new FakeKubectl(Pod(), _ => throw new InvalidOperationException("no exec"));
        Action run = () => new KubectlPlugin(kubectl, _ => { }, _ => { }).Run(PluginArguments.Parse(line.Split(' ')));

        run.Should().Throw<PluginException>().Where(e => e.ExitCode == code).Which.Message.Should().Contain(message);
        kubectl.PassedThrough.Should().BeEmpty();
    }

    [Fact]
    public void Kubectl_failing_timing_out_or_printing_no_pod_is_one_line_with_a_documented_code()
    {
        PluginException Fails(KubectlOutput get)
        {
            var kubectl = new FakeKubectl(get);
            Action run = () => new KubectlPlugin(kubectl, _ => { }, _ => { }).Run(PluginArguments.Parse(["status", "web"]));
            return run.Should().Throw<PluginException>().Which;
        }

        Fails(new KubectlOutput(1, [], "Error from server (Forbidden): pods \"web\" is forbidden\n"))
            .Should().Match<PluginException>(e => e.ExitCode == PluginExitCodes.KubectlFailed && e.Message == "kubectl get pod web: Error from server (Forbidden): pods \"web\" is forbidden");
        Fails(new KubectlOutput(137, [], "") { TimedOut = true }).ExitCode.Should().Be(ExitCodes.TimedOut);
        Fails(new KubectlOutput(137, [], "") { TooLarge = true }).ExitCode.Should().Be(PluginExitCodes.KubectlFailed);
        Fails(new KubectlOutput(0, Utf8("[]"), "")).Message.Should().Contain("not a pod");
        Fails(new KubectlOutput(0, Utf8("""{"kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "a", "command": ["sleep"]}]}}"""), ""))
            .Should().Match<PluginException>(e => e.ExitCode == PluginExitCodes.UnknownStep && e.Message.Contains("has no emissary steps"));
    }

    private static string Container(string[] exec) => exec[Array.IndexOf(exec, "-c") + 1];

    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    /// <summary>kubectl answering get pod with a pod, exec with what the test says; every call recorded.</summary>
    private sealed class FakeKubectl(KubectlOutput get, Func<string[], KubectlOutput>? exec = null, int passThroughCode = 0) : IKubectl
    {
        public FakeKubectl(string podJson, Func<string[], KubectlOutput> exec, int passThroughCode = 0)
            : this(new KubectlOutput(0, Utf8(podJson), ""), exec, passThroughCode)
        {
        }

        public List<string[]> Calls { get; } = [];

        public List<string[]> PassedThrough { get; } = [];

        public KubectlOutput Answer(string[] call) => call.Contains("get") ? get : exec!(call);

        public IReadOnlyList<KubectlOutput> Capture(IReadOnlyList<IReadOnlyList<string>> calls, int stdoutLimit)
        {
            Calls.AddRange(calls.Select(c => c.ToArray()));
            return calls.Select(c => Answer(c.ToArray())).ToArray();
        }

        public int PassThrough(IReadOnlyList<string> args)
        {
            PassedThrough.Add(args.ToArray());
            return passThroughCode;
        }
    }
}
