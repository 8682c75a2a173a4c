using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>Extracting a pod's step graph: fields, annotations, roles, commands, proxies; and the run arguments built from it.</summary>
public sealed class PodGraphTests
{
    private static readonly string EveryField = Pod("""
            - name: fetch
              image: alpine:3.20
              command: [git, clone]
              args: [https://example.com/repo]
              workingDir: /src
              env:
              - {name: A, value: "1"}
              - {name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: k}}}
              - {name: EMPTY}
            - name: build
              image: golang:1.23
              command: [make]
              waitForTermination: [fetch]
              timeout: 1m30s
              retries: 2
              retryDelay: 500ms
              onError: continue
              waitForStart: true
              runOnUpstreamFailure: true
              resultFromStdout: digest
              grace: 5s
            - name: db
              image: postgres:17
              command: [postgres]
              sidecar: true
              stopSignal: SIGINT
        """);

    [Fact]
    public void Every_container_field_becomes_a_setting_of_its_step()
    {
        PodGraph graph = Graph(EveryField);

        graph.Steps.Select(s => s.Name).Should().Equal("fetch", "build", "db");
        StepSpec fetch = graph.Find("fetch")!;
        fetch.Image.Should().Be("alpine:3.20");
        fetch.Command.Should().Equal("git", "clone", "https://example.com/repo");
        fetch.WorkingDir.Should().Be("/src");
        fetch.Env.Should().Equal(new EnvVar("A", "1"), new EnvVar("EMPTY", ""));
        fetch.EnvValueFrom.Should().Equal("TOKEN");
        fetch.Role.Should().Be(StepRole.Step);
        fetch.Path.Should().Be("spec.containers[0]");

        StepSpec build = graph.Find("build")!;
        build.Gates.Should().Equal("fetch");
        build.Timeout.Should().Be(TimeSpan.FromSeconds(90));
        build.Retries.Should().Be(2);
        build.RetryDelay.Should().Be(TimeSpan.FromMilliseconds(500));
        build.OnError.Should().Be(OnErrorPolicy.Continue);
        build.WaitForStart.Should().BeTrue();
        build.RunOnUpstreamFailure.Should().BeTrue();
        build.ResultFromStdout.Should().Be("digest");
        build.Grace.Should().Be(TimeSpan.FromSeconds(5));

        StepSpec db = graph.Find("db")!;
        db.Role.Should().Be(StepRole.Sidecar);
        db.StopSignal.Should().Be(2);
        db.Timeout.Should().BeNull();
        db.OnError.Should().BeNull();
    }

    [Fact]
    public void Annotations_declare_the_same_settings()
    {
        PodGraph graph = Graph(Pod("""
                - {name: fetch, image: a, command: [a]}
                - {name: lint, image: a, command: [a]}
                - {name: build, image: a, command: [a]}
                - {name: db, image: a, command: [a]}
            """, """
                emissary.dev/build.waitForTermination: "lint, fetch"
                emissary.dev/build.timeout: "30s"
                emissary.dev/build.retries: "3"
                emissary.dev/build.retryDelay: "2s"
                emissary.dev/build.onError: "stopAndFail"
                emissary.dev/build.waitForStart: "true"
                emissary.dev/build.runOnUpstreamFailure: "true"
                emissary.dev/build.resultFromStdout: "out"
                emissary.dev/build.grace: "1s"
                emissary.dev/db.sidecar: "true"
                emissary.dev/db.stopSignal: "USR1"
                other.io/ignored: "x"
            """));

        StepSpec build = graph.Find("build")!;
        build.Gates.Should().Equal(["fetch", "lint"], "gates are listed in the pod's container order");
        build.Timeout.Should().Be(TimeSpan.FromSeconds(30));
        build.Retries.Should().Be(3);
        build.RetryDelay.Should().Be(TimeSpan.FromSeconds(2));
        build.OnError.Should().Be(OnErrorPolicy.StopAndFail);
        build.WaitForStart.Should().BeTrue();
        build.RunOnUpstreamFailure.Should().BeTrue();
        build.ResultFromStdout.Should().Be("out");
        build.Grace.Should().Be(TimeSpan.FromSeconds(1));
        graph.Find("db")!.Role.Should().Be(StepRole.Sidecar);
        graph.Find("db")!.StopSignal.Should().Be(10);
    }

    [Fact]
    public void A_field_and_an_annotation_that_agree_are_fine()
    {
        PodGraph graph = Graph(Pod("""
                - {name: a, image: a, command: [a]}
                - {name: b, image: a, command: [a]}
                - {name: c, image: a, command: [a], waitForTermination: [b, a], timeout: 60s, sidecar: false}
            """, """
                emissary.dev/c.waitForTermination: "a,b"
                emissary.dev/c.timeout: "1m"
                emissary.dev/c.sidecar: "FALSE"
            """));

        graph.Find("c")!.Gates.Should().Equal("a", "b");
        graph.Find("c")!.Timeout.Should().Be(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void Container_names_with_dots_are_split_from_the_field_at_the_last_dot()
    {
        PodGraph graph = Graph(Pod("""
                - {name: api.v2, image: a, command: [a]}
                - {name: web, image: a, command: [a]}
            """, """
                emissary.dev/api.v2.waitForTermination: "web"
            """));

        graph.Find("api.v2")!.Gates.Should().Equal("web");
    }

    [Fact]
    public void Gates_are_deduplicated()
    {
        PodGraph graph = Graph(Pod("""
                - {name: a, image: a, command: [a]}
                - {name: b, image: a, command: [a], waitForTermination: [a, a]}
            """));

        graph.Find("b")!.Gates.Should().Equal("a");
    }

    [Fact]
    public void A_comma_list_is_accepted_in_the_field_too()
    {
        PodGraph graph = Graph(Pod("""
                - {name: a, image: a, command: [a]}
                - {name: b, image: a, command: [a]}
                - {name: c, image: a, command: [a], waitForTermination: "a, b"}
            """));

        graph.Find("c")!.Gates.Should().Equal("a", "b");
    }

    [Fact]
    public void A_container_without_command_runs_its_image_entrypoint_with_its_args_or_else_the_image_cmd()
    {
        EntrypointIndex index = EntrypointIndex.Parse("""
            tool:1: {entrypoint: [/tool, --verbose], cmd: [serve, $(PORT)]}
            alpine: {cmd: [/bin/sh]}
            """, "ep.yaml");
        PodGraph graph = Graph(Pod("""
                - {name: a, image: "tool:1"}
                - {name: b, image: "tool:1", args: [check, "$(HOME)"]}
                - {name: c, image: "alpine:3.20"}
                - {name: d, image: "alpine:3.20", args: [echo, hi]}
                - {name: e, image: "unknown:1", args: [x]}
                - {name: f, image: "tool:1", command: [own], args: [x]}
            """), new PodGraphOptions { Entrypoints = index });

        graph.Find("a")!.Command.Should().Equal(["/tool", "--verbose", "serve", "$$(PORT)"],
            "text from the image is escaped so that Kubernetes' $(VAR) expansion leaves it alone");
        graph.Find("b")!.Command.Should().Equal("/tool", "--verbose", "check", "$(HOME)");
        graph.Find("c")!.Command.Should().Equal("/bin/sh");
        graph.Find("d")!.Command.Should().Equal("echo", "hi");
        graph.Find("e")!.Command.Should().BeNull("the image is not in the index");
        graph.Find("f")!.Command.Should().Equal("own", "x");
    }

    [Fact]
    public void Without_an_index_the_command_of_a_container_without_command_is_unknown()
    {
        Graph(Pod("""
                - {name: a, image: alpine, args: [x]}
            """)).Find("a")!.Command.Should().BeNull();
    }

    [Theory]
    [InlineData("labels", "sidecar.istio.io/inject: \"true\"", "Istio")]
    [InlineData("annotations", "sidecar.istio.io/inject: \"true\"", "Istio")]
    [InlineData("annotations", "sidecar.istio.io/inject: \"false\"", "None")]
    [InlineData("annotations", "linkerd.io/inject: enabled", "Linkerd")]
    [InlineData("annotations", "linkerd.io/inject: disabled", "None")]
    [InlineData("annotations", "emissary.dev/proxy: istio", "Istio")]
    [InlineData("annotations", "emissary.dev/proxy: Linkerd", "Linkerd")]
    [InlineData("annotations", "{emissary.dev/proxy: none, sidecar.istio.io/inject: \"true\"}", "None")]
    [InlineData("annotations", "{emissary.dev/proxy: linkerd, sidecar.istio.io/inject: \"true\"}", "Linkerd")]
    public void The_injected_proxy_is_detected_from_the_pod_metadata(string map, string entry, string expected)
    {
        ProxyKind proxy = Enum.Parse<ProxyKind>(expected);
        string entries = entry.StartsWith('{') ? " " + entry : "\n    " + entry;
        string text = $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  {map}:{entries}\nspec:\n  containers:\n  - {{name: a, image: a, command: [a]}}\n  - {{name: s, image: a, command: [a], sidecar: true}}\n";

        PodGraph graph = Graph(text);

        graph.Proxy.Should().Be(proxy);
        graph.Find("a")!.Proxy.Should().Be(proxy);
        graph.Find("s")!.Proxy.Should().Be(ProxyKind.None, "sidecars neither wait for the proxy nor stop it");
    }

    [Fact]
    public void The_proxy_of_a_workload_is_read_from_its_pod_template_not_from_the_workload()
    {
        PodGraph graph = Graph("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: d
              labels: {sidecar.istio.io/inject: "true"}
            spec:
              template:
                metadata:
                  annotations: {linkerd.io/inject: enabled}
                spec:
                  containers: [{name: a, image: a, command: [a]}]
            """);

        graph.Proxy.Should().Be(ProxyKind.Linkerd);
    }

    [Theory]
    [InlineData(false, null, false)]
    [InlineData(true, null, true)]
    [InlineData(false, "true", true)]
    [InlineData(true, "false", false)]
    public void Native_sidecars_come_from_the_option_unless_the_pod_says(bool option, string? annotation, bool native)
    {
        string text = Pod("""
                - {name: a, image: a, command: [a]}
            """, annotation is null ? null : $"    emissary.dev/native-sidecars: \"{annotation}\"\n");

        Graph(text, new PodGraphOptions { NativeSidecars = option }).NativeSidecars.Should().Be(native);
    }

    [Theory]
    [InlineData(1, 4096)]
    [InlineData(3, 4096)]
    [InlineData(4, 3072)]
    [InlineData(5, 2457)]
    [InlineData(7, 1755)]
    public void The_termination_budget_shares_the_pods_12_KiB_between_the_wrapped_containers(int containers, int budget)
    {
        string text = Pod(string.Concat(Enumerable.Range(0, containers).Select(i => $"    - {{name: c{i}, image: a, command: [a]}}\n")));

        Graph(text).TerminationBudget.Should().Be(budget);
    }

    [Fact]
    public void Run_arguments_follow_a_fixed_order_in_canonical_form()
    {
        PodGraph graph = Graph(EveryField);

        EmissaryRun.RunArguments(graph.Find("fetch")!, graph).Should().Equal("--name", "fetch", "--termination-budget", "4096", "--restart-policy", "Always");
        EmissaryRun.RunArguments(graph.Find("build")!, graph).Should().Equal(
            "--name", "build", "--after", "fetch", "--wait-start", "--run-on-upstream-failure",
            "--grace", "5s", "--timeout", "1m30s", "--retries", "2", "--retry-delay", "500ms", "--on-error", "continue",
            "--result-from-stdout", "digest", "--termination-budget", "4096", "--restart-policy", "Always");
        EmissaryRun.RunArguments(graph.Find("db")!, graph).Should().Equal(
            "--name", "db", "--sidecar-of", "fetch,build", "--stop-signal", "INT", "--termination-budget", "4096");
    }

    [Fact]
    public void Native_sidecars_are_not_told_whose_sidecars_they_are()
    {
        PodGraph graph = Graph(EveryField, new PodGraphOptions { NativeSidecars = true });

        EmissaryRun.RunArguments(graph.Find("db")!, graph).Should().Equal("--name", "db", "--stop-signal", "INT", "--termination-budget", "4096");
    }

    [Fact]
    public void Every_step_waits_for_the_proxy_and_only_the_final_steps_tell_it_to_quit()
    {
        PodGraph graph = Graph(Pod("""
                - {name: query, image: a, command: [a]}
                - {name: send, image: a, command: [a], waitForTermination: [query]}
                - {name: cache, image: a, command: [a], sidecar: true}
            """, "    sidecar.istio.io/inject: \"true\"\n"));

        EmissaryRun.RunArguments(graph.Find("query")!, graph).Should().Equal("--name", "query", "--wait-proxy", "istio", "--termination-budget", "4096", "--restart-policy", "Always");
        EmissaryRun.RunArguments(graph.Find("send")!, graph).Should().Equal(
            "--name", "send", "--after", "query", "--wait-proxy", "istio", "--quit", "istio", "--termination-budget", "4096", "--restart-policy", "Always");
        // send waits for query alone, so it is over only once query is: the cache watches send.
        EmissaryRun.RunArguments(graph.Find("cache")!, graph).Should().Equal("--name", "cache", "--sidecar-of", "send", "--termination-budget", "4096");
        graph.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Steps_that_can_end_last_in_parallel_with_a_proxy_are_warned_about()
    {
        PodGraph graph = Graph(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b]}
                - {name: c, image: x, command: [c]}
            """, "    emissary.dev/proxy: linkerd\n"));

        graph.Steps.Where(graph.IsFinal).Select(s => s.Name).Should().Equal("a", "b", "c");
        EmissaryRun.RunArguments(graph.Find("b")!, graph).Should().Contain("--quit");
        graph.Warnings.Select(w => w.ToString()).Should().Equal(
            "pod/p: spec.containers: steps \"a\", \"b\" and \"c\" can end last, in parallel, and each tells the linkerd proxy to quit when it ends, which cuts the network of the others still running: make one wait for the others (waitForTermination)");
    }

    [Fact]
    public void The_wrapped_command_is_the_binary_run_the_arguments_and_the_original_command()
    {
        PodGraph graph = Graph(EveryField);

        EmissaryRun.WrappedCommand(graph.Find("fetch")!, graph).Should().Equal(
            "/var/run/emissary-bin/emissary", "run", "--name", "fetch", "--termination-budget", "4096", "--restart-policy", "Always", "--", "git", "clone", "https://example.com/repo");
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(0.25, "250ms")]
    [InlineData(0.0005, "0.5ms")]
    [InlineData(1.5, "1.5s")]
    [InlineData(30, "30s")]
    [InlineData(90, "1m30s")]
    [InlineData(3600, "1h")]
    [InlineData(3605, "1h5s")]
    [InlineData(5400, "1h30m")]
    [InlineData(90061.5, "25h1m1.5s")]
    public void Durations_are_written_the_Go_way_and_read_back_the_same(double seconds, string text)
    {
        Emissary.Cli.RunArguments.FormatDuration(TimeSpan.FromSeconds(seconds)).Should().Be(text);
        Emissary.Foundation.Duration.TryParse(text, out TimeSpan back).Should().BeTrue();
        back.Should().Be(TimeSpan.FromSeconds(seconds));
    }

    [Fact]
    public void A_rewritten_command_is_read_back_into_the_same_settings()
    {
        PodGraph original = Graph(EveryField);
        string rewritten = Rewrite(EveryField);

        PodGraph again = Graph(rewritten);

        again.Steps.Should().HaveCount(3);
        foreach (StepSpec step in original.Steps)
        {
            StepSpec back = again.Find(step.Name)!;
            back.Should().BeEquivalentTo(step, o => o.Excluding(s => s.Node).Excluding(s => s.CommandNodes));
            EmissaryRun.RunArguments(back, again).Should().Equal(EmissaryRun.RunArguments(step, original));
        }
    }

    [Fact]
    public void Flags_of_a_rewritten_command_that_no_field_describes_are_kept()
    {
        PodGraph graph = Graph(Pod("""
                - name: a
                  image: x
                  command: [/var/run/emissary-bin/emissary, run, --name, a, --wait-file, /tmp/go, --single-child, "--post-file=/tmp/done", --timeout, 10s, --termination-budget, "4096", --, sh, -c]
                  args: [echo hi]
            """));

        StepSpec a = graph.Find("a")!;
        a.ExtraRunArguments.Should().Equal("--wait-file", "/tmp/go", "--single-child", "--post-file=/tmp/done");
        a.Timeout.Should().Be(TimeSpan.FromSeconds(10));
        a.Command.Should().Equal(["sh", "-c", "echo hi"], "args added to a rewritten command still come after it");
        EmissaryRun.RunArguments(a, graph).Should().Equal(
            "--name", "a", "--timeout", "10s", "--wait-file", "/tmp/go", "--single-child", "--post-file=/tmp/done", "--termination-budget", "4096", "--restart-policy", "Always");
    }

    [Fact]
    public void In_a_rewritten_pod_an_annotation_overrides_the_flags_of_the_command()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b], timeout: 10s, sidecar: true}
            """));
        string edited = rewritten.Replace("metadata:\n  name: p\n", "metadata:\n  name: p\n  annotations:\n    emissary.dev/b.timeout: \"20s\"\n    emissary.dev/b.sidecar: \"false\"\n");

        PodGraph graph = Graph(edited);

        graph.Find("b")!.Timeout.Should().Be(TimeSpan.FromSeconds(20));
        graph.Find("b")!.Role.Should().Be(StepRole.Step);
    }
}
