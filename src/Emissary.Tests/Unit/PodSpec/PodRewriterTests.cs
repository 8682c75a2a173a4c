using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>What a rewritten manifest looks like: every kind, sidecars, proxies, budget, JSON, pass-through, idempotency.</summary>
public sealed class PodRewriterTests
{
    private static readonly RewriteSettings WithEntrypoints = new()
    {
        Entrypoints = EntrypointIndex.Parse("""
            alpine/git: {entrypoint: [git]}
            redis: {entrypoint: [docker-entrypoint.sh], cmd: [redis-server]}
            """, "ep.yaml"),
    };

    private const string BuildPod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: build
          labels: {app: ci}
        spec:
          restartPolicy: Never
          initContainers:
          - name: setup
            image: busybox
            command: [sh, -c, "echo setup"]
          containers:
          - name: fetch
            image: alpine/git
            args: [clone, https://example.com/repo]
            workingDir: /src
            volumeMounts:
            - {name: src, mountPath: /src}
          - name: build
            image: golang:1.23
            command: ["make"]
            args: ["all"]
            waitForTermination: [fetch]
            timeout: 10m
            resources: {limits: {cpu: "2"}}
          - name: cache
            image: redis:7
            sidecar: true
          volumes:
          - name: src
            emptyDir: {}
        """;

    [Fact]
    public void A_pod_gets_the_volumes_the_init_container_and_every_container_wrapped_in_emissary_run()
    {
        Rewrite(BuildPod, WithEntrypoints).Should().Be(Text("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: build
              labels: {app: ci}
            spec:
              restartPolicy: Never
              initContainers:
              - name: emissary-init
                image: ghcr.io/emissary-dev/emissary:0.1.0
                args:
                - init
                - /var/run/emissary-bin/
                volumeMounts:
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
              - name: setup
                image: busybox
                command: [sh, -c, "echo setup"]
              containers:
              - name: fetch
                image: alpine/git
                command:
                - /var/run/emissary-bin/emissary
                - run
                - --name
                - fetch
                - --termination-budget
                - "4096"
                - --
                - git
                - clone
                - https://example.com/repo
                workingDir: /src
                volumeMounts:
                - {name: src, mountPath: /src}
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
                  readOnly: true
                - name: emissary-control
                  mountPath: /var/run/emissary
                - name: emissary-step-fetch
                  mountPath: /var/run/emissary/fetch
              - name: build
                image: golang:1.23
                command:
                - /var/run/emissary-bin/emissary
                - run
                - --name
                - build
                - --after
                - fetch
                - --timeout
                - "10m"
                - --termination-budget
                - "4096"
                - --
                - "make"
                - "all"
                resources: {limits: {cpu: "2"}}
                volumeMounts:
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
                  readOnly: true
                - name: emissary-control
                  mountPath: /var/run/emissary
                - name: emissary-step-build
                  mountPath: /var/run/emissary/build
                - name: emissary-step-fetch
                  mountPath: /var/run/emissary/fetch
                  readOnly: true
              - name: cache
                image: redis:7
                command:
                - /var/run/emissary-bin/emissary
                - run
                - --name
                - cache
                - --sidecar-of
                - build
                - --termination-budget
                - "4096"
                - --
                - docker-entrypoint.sh
                - redis-server
                volumeMounts:
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
                  readOnly: true
                - name: emissary-control
                  mountPath: /var/run/emissary
                - name: emissary-step-cache
                  mountPath: /var/run/emissary/cache
                - name: emissary-step-build
                  mountPath: /var/run/emissary/build
                  readOnly: true
              volumes:
              - name: src
                emptyDir: {}
              - name: emissary-bin
                emptyDir: {}
              - name: emissary-control
                emptyDir: {medium: Memory}
              - name: emissary-step-fetch
                emptyDir: {medium: Memory, sizeLimit: "64Mi"}
              - name: emissary-step-build
                emptyDir: {medium: Memory, sizeLimit: "64Mi"}
              - name: emissary-step-cache
                emptyDir: {medium: Memory, sizeLimit: "64Mi"}
            """));
    }

    [Fact]
    public void The_image_of_the_init_container_can_be_chosen()
    {
        string rewritten = Rewrite(Pod("    - {name: a, image: x, command: [a]}"), new RewriteSettings { Image = "registry.local/emissary:dev" });

        rewritten.Should().Contain("  - name: emissary-init\n    image: registry.local/emissary:dev\n");
        RewriteSettings.DefaultImage.Should().Be("ghcr.io/emissary-dev/emissary:" + Emissary.Cli.CommandLine.Version);
    }

    public static TheoryData<string, string> Kinds => new()
    {
        { "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t}\ntemplate:\n  metadata: {labels: {a: b}}\n  spec:\n    containers: [{name: a, image: x, command: [a]}]\n", "template.spec" },
        { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: a, image: x, command: [a]}]\n", "spec.template.spec" },
        { "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  serviceName: s\n  template:\n    spec:\n      containers: [{name: a, image: x, command: [a]}]\n", "spec.template.spec" },
        { "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x, command: [a]}]\n", "spec.template.spec" },
        { "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x, command: [a]}]\n", "spec.template.spec" },
        { "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: a, image: x, command: [a]}]\n", "spec.template.spec" },
        { "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{name: a, image: x, command: [a]}]\n", "spec.jobTemplate.spec.template.spec" },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_that_carries_a_pod_is_rewritten_where_its_pod_spec_is(string text, string specPath)
    {
        string rewritten = Rewrite(text);

        ManifestObject manifest = ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single();
        var spec = (YamlMappingNode)manifest.At(specPath)!;
        ((YamlMappingNode)((YamlSequenceNode)spec.Get("initContainers")!).Children[0]).GetText("name").Should().Be("emissary-init");
        var container = (YamlMappingNode)((YamlSequenceNode)spec.Get("containers")!).Children[0];
        // The pod's restartPolicy is passed on where it is not run's default (issue #28); a pod
        // that does not say is Always, as the API server makes it.
        string[] restart = text.Contains("restartPolicy: OnFailure", StringComparison.Ordinal) ? ["--restart-policy", "OnFailure"]
            : text.Contains("restartPolicy: Never", StringComparison.Ordinal) ? [] : ["--restart-policy", "Always"];
        ((YamlSequenceNode)container.Get("command")!).Children.Select(c => ((YamlScalarNode)c).Value).Should().Equal(
            ["/var/run/emissary-bin/emissary", "run", "--name", "a", "--termination-budget", "4096", .. restart, "--", "a"]);
        ((YamlSequenceNode)spec.Get("volumes")!).Children.Select(v => ((YamlMappingNode)v).GetText("name")).Should().Equal("emissary-bin", "emissary-control", "emissary-step-a");
        manifest.Node.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Equal(
            ManifestSet.Read(text, "f").Documents.Single().Objects.Single().Node.Children.Keys.Select(k => ((YamlScalarNode)k).Value),
            "the object's own fields are kept, in order");
    }

    [Fact]
    public void Documents_without_a_pod_pass_through_unchanged()
    {
        string text = Text("""
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              annotations: {emissary.dev/a.timeout: nonsense}
            spec:
              ports:
              - {port: 80, targetPort: 8080}
            ---
            apiVersion: example.com/v1
            kind: Pod
            spec: {containers: [{name: a, waitForTermination: [nobody]}]}
            ---
            just: a mapping
            ---
            - a sequence
            """);

        Rewrite(text).Should().Be(text);
    }

    [Fact]
    public void Fields_it_does_not_know_are_kept_in_their_order()
    {
        string rewritten = Rewrite(Pod("""
                - name: a
                  zeta: 1
                  image: x
                  alpha: {nested: [1, 2]}
                  command: [a]
                  tty: true
                  timeout: 5s
                  ports: [{containerPort: 80}]
            """).Replace("spec:\n", "spec:\n  zz: 1\n  hostNetwork: true\n  aa: {b: c}\n"));

        var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
        spec.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Equal("zz", "hostNetwork", "aa", "initContainers", "containers", "volumes");
        var container = (YamlMappingNode)((YamlSequenceNode)spec.Get("containers")!).Children[0];
        container.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Equal(
            ["name", "zeta", "image", "alpha", "command", "tty", "ports", "volumeMounts"], "the emissary field 'timeout' is removed");
        rewritten.Should().Contain("  alpha: {nested: [1, 2]}\n");
    }

    [Fact]
    public void The_command_goes_where_the_args_were_or_else_after_the_image()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, args: [x], image: alpine, tty: true}
                - {name: b, image: alpine, tty: true}
            """), new RewriteSettings { Entrypoints = EntrypointIndex.Parse("alpine: {entrypoint: [/bin/sh]}", "ep") });

        PodGraph graph = Graph(rewritten);
        graph.Find("a")!.Node!.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Equal("name", "command", "image", "tty", "volumeMounts");
        graph.Find("b")!.Node!.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Equal("name", "image", "command", "tty", "volumeMounts");
        graph.Find("a")!.Command.Should().Equal("/bin/sh", "x");
    }

    [Fact]
    public void Emissary_annotations_are_kept_and_emissary_fields_removed()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b], waitForTermination: [a], retries: 2}
            """, """
                emissary.dev/b.timeout: "1m"
            """));

        rewritten.Should().Contain("    emissary.dev/b.timeout: \"1m\"\n");
        rewritten.Should().NotContain("waitForTermination").And.NotContain("retries:");
        CommandOf(rewritten, "b").Should().Equal(
            "/var/run/emissary-bin/emissary", "run", "--name", "b", "--after", "a", "--timeout", "1m", "--retries", "2", "--termination-budget", "4096", "--restart-policy", "Always", "--", "b");
    }

    [Fact]
    public void Native_sidecars_move_to_the_init_containers_after_the_users_with_restartPolicy_Always()
    {
        string rewritten = Rewrite(BuildPod, WithEntrypoints with { NativeSidecars = true });

        var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
        var inits = ((YamlSequenceNode)spec.Get("initContainers")!).Children.Cast<YamlMappingNode>().ToArray();
        inits.Select(c => c.GetText("name")).Should().Equal("emissary-init", "setup", "cache");
        inits[2].GetText("restartPolicy").Should().Be("Always");
        ((YamlSequenceNode)spec.Get("containers")!).Children.Select(c => ((YamlMappingNode)c).GetText("name")).Should().Equal("fetch", "build");
        CommandOf(rewritten, "cache").Should().Equal(
            "/var/run/emissary-bin/emissary", "run", "--name", "cache", "--termination-budget", "4096", "--", "docker-entrypoint.sh", "redis-server");
        rewritten.Should().Contain("- name: setup\n    image: busybox\n    command: [sh, -c, \"echo setup\"]\n", "the user's init container is left alone");
    }

    [Fact]
    public void The_pod_annotation_asks_for_native_sidecars_too()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: s, image: x, command: [s], sidecar: true}
            """, "    emissary.dev/native-sidecars: \"true\"\n"));

        Graph(rewritten).Find("s")!.InInitContainers.Should().BeTrue();
        Graph(rewritten).NativeSidecars.Should().BeTrue();
    }

    [Fact]
    public void A_native_sidecar_moves_back_among_the_containers_when_the_pod_says_no_more_native_sidecars()
    {
        string native = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: s, image: x, command: [s], sidecar: true}
            """), new RewriteSettings { NativeSidecars = true });
        string edited = native.Replace("  name: p\n", "  name: p\n  annotations:\n    emissary.dev/native-sidecars: \"false\"\n");

        string rewritten = Rewrite(edited);

        PodGraph graph = Graph(rewritten);
        graph.Find("s")!.InInitContainers.Should().BeFalse();
        graph.Find("s")!.Node!.Get("restartPolicy").Should().BeNull();
        CommandOf(rewritten, "s").Should().Contain("--sidecar-of");
    }

    [Fact]
    public void Injected_proxies_are_waited_for_and_told_to_quit_by_the_last_step()
    {
        string rewritten = Rewrite(Pod("""
                - {name: query, image: x, command: [q]}
                - {name: send, image: x, command: [s], waitForTermination: [query]}
            """, "    linkerd.io/inject: enabled\n"));

        CommandOf(rewritten, "query").Should().Equal(
            "/var/run/emissary-bin/emissary", "run", "--name", "query", "--wait-proxy", "linkerd", "--termination-budget", "4096", "--restart-policy", "Always", "--", "q");
        CommandOf(rewritten, "send").Should().Equal(
            "/var/run/emissary-bin/emissary", "run", "--name", "send", "--after", "query", "--wait-proxy", "linkerd", "--quit", "linkerd", "--termination-budget", "4096", "--restart-policy", "Always", "--", "s");
    }

    [Fact]
    public void Every_wrapped_container_gets_its_share_of_the_termination_budget()
    {
        string rewritten = Rewrite(Pod(string.Concat(Enumerable.Range(0, 4).Select(i => $"    - {{name: c{i}, image: x, command: [x]}}\n")) +
            "    - {name: s, image: x, command: [x], sidecar: true}\n"), new RewriteSettings { NativeSidecars = true });

        foreach (string name in new[] { "c0", "c1", "c2", "c3", "s" })
        {
            CommandOf(rewritten, name).Should().ContainInConsecutiveOrder("--termination-budget", "2457");
        }
    }

    [Fact]
    public void Volumes_mounts_and_the_init_container_that_exist_already_are_not_added_twice()
    {
        string text = Pod("""
                - name: a
                  image: x
                  command: [a]
                  volumeMounts: [{name: emissary-control, mountPath: /var/run/emissary}]
            """).Replace("spec:\n", """
            spec:
              initContainers:
              - {name: first, image: x}
              - {name: emissary-init, image: old, resources: {}}
              volumes: [{name: emissary-bin, emptyDir: {medium: Memory}}]

            """);

        string rewritten = Rewrite(text);

        var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
        var inits = ((YamlSequenceNode)spec.Get("initContainers")!).Children.Cast<YamlMappingNode>().ToArray();
        inits.Select(c => c.GetText("name")).Should().Equal(["emissary-init", "first"], "emissary's init container comes first");
        inits[0].GetText("image").Should().Be(RewriteSettings.DefaultImage);
        inits[0].Get("resources").Should().NotBeNull("what the user added to it is kept");
        rewritten.Should().Contain("volumes: [{name: emissary-bin, emptyDir: {medium: Memory}}, {name: emissary-control, emptyDir: {medium: Memory}}, {name: emissary-step-a, emptyDir: {medium: Memory, sizeLimit: \"64Mi\"}}]");
        var mounts = (YamlSequenceNode)Graph(rewritten).Find("a")!.Node!.Get("volumeMounts")!;
        mounts.Children.Select(m => ((YamlMappingNode)m).GetText("name")).Should().Equal("emissary-control", "emissary-bin", "emissary-step-a");
    }

    [Fact]
    public void Each_step_has_its_own_volume_writable_only_in_its_own_container_sidecars_and_native_sidecars_included()
    {
        foreach (bool native in new[] { false, true })
        {
            string rewritten = Rewrite(BuildPod, WithEntrypoints with { NativeSidecars = native });

            var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
            YamlMappingNode[] wrapped = ((YamlSequenceNode)spec.Get("initContainers")!).Children
                .Concat(((YamlSequenceNode)spec.Get("containers")!).Children)
                .Cast<YamlMappingNode>()
                .Where(c => c.GetText("name") is "fetch" or "build" or "cache")
                .ToArray();
            wrapped.Should().HaveCount(3);
            foreach (YamlMappingNode container in wrapped)
            {
                string name = container.GetText("name")!;
                var mounts = ((YamlSequenceNode)container.Get("volumeMounts")!).Children.Cast<YamlMappingNode>().ToArray();
                mounts.Where(m => m.GetText("mountPath") == "/var/run/emissary").Should().ContainSingle()
                    .Which.GetText("readOnly").Should().BeNull("the shared root holds requests, which any container may make");
                // Its own record, and only the records it reads: build waits for fetch; the cache,
                // unless native (stopped by the kubelet), watches build, which ends after fetch.
                string[] reads = name switch
                {
                    "build" => ["fetch"],
                    "cache" when !native => ["build"],
                    _ => [],
                };
                mounts.Where(m => m.GetText("name")!.StartsWith("emissary-step-", StringComparison.Ordinal))
                    .Select(m => m.GetText("mountPath")).Should().BeEquivalentTo(reads.Append(name).Select(s => "/var/run/emissary/" + s), $"the records mounted in {name}");
                foreach (string step in reads.Append(name))
                {
                    YamlMappingNode mount = mounts.Should().ContainSingle(m => m.GetText("mountPath") == "/var/run/emissary/" + step).Subject;
                    mount.GetText("name").Should().Be("emissary-step-" + step);
                    mount.GetText("readOnly").Should().Be(step == name ? null : "true", $"{step}'s record as mounted in {name}");
                }
                Array.FindIndex(mounts, m => m.GetText("mountPath") == "/var/run/emissary").Should()
                    .BeLessThan(Array.FindIndex(mounts, m => m.GetText("mountPath")!.StartsWith("/var/run/emissary/", StringComparison.Ordinal)), "the root is mounted before the step directories in it");
            }
            var setup = ((YamlSequenceNode)spec.Get("initContainers")!).Children.Cast<YamlMappingNode>().Single(c => c.GetText("name") == "setup");
            setup.Get("volumeMounts").Should().BeNull("containers emissary does not wrap get none of its volumes");
            var volumes = ((YamlSequenceNode)spec.Get("volumes")!).Children.Cast<YamlMappingNode>().ToArray();
            foreach (string step in new[] { "fetch", "build", "cache" })
            {
                var emptyDir = (YamlMappingNode)volumes.Single(v => v.GetText("name") == "emissary-step-" + step).Get("emptyDir")!;
                emptyDir.GetText("medium").Should().Be("Memory");
                emptyDir.GetText("sizeLimit").Should().Be(EmissaryRun.StepVolumeSizeLimit);
            }
        }
    }

    [Fact]
    public void A_step_volume_name_is_a_DNS_label_stable_and_distinct_even_for_long_names()
    {
        EmissaryRun.StepVolume("build").Should().Be("emissary-step-build");
        string longName = new string('a', 50) + "-compile";
        string other = new string('a', 50) + "-compilf";
        foreach (string name in new[] { longName, other, "Build_2.x", new string('b', 48) + "-" })
        {
            string volume = EmissaryRun.StepVolume(name);
            volume.Length.Should().BeLessThanOrEqualTo(63);
            volume.Should().MatchRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
            volume.Should().StartWith("emissary-step-");
            EmissaryRun.StepVolume(name).Should().Be(volume, "the same container always gets the same volume");
        }
        EmissaryRun.StepVolume(longName).Should().NotBe(EmissaryRun.StepVolume(other), "names alike once cut short still get their own volumes");
        EmissaryRun.StepVolume(longName).Should().Be("emissary-step-" + new string('a', 40) + "-9290fdff");
    }

    [Fact]
    public void Mounts_from_an_earlier_rewrite_are_recognised_by_name_or_path_and_made_right()
    {
        string text = Pod("""
                - name: a
                  image: x
                  command: [a]
                  volumeMounts:
                  - {name: emissary-step-a, mountPath: /var/run/emissary/a, readOnly: true}
                  - {name: old-b, mountPath: /var/run/emissary/b}
                  waitForTermination: [b]
                - {name: b, image: x, command: [b]}
            """);

        string rewritten = Rewrite(text);

        var mounts = ((YamlSequenceNode)Graph(rewritten).Find("a")!.Node!.Get("volumeMounts")!).Children.Cast<YamlMappingNode>().ToArray();
        mounts.Select(m => (m.GetText("name"), m.GetText("mountPath"), m.GetText("readOnly"))).Should().Equal(
            ("emissary-control", "/var/run/emissary", null),
            ("emissary-step-a", "/var/run/emissary/a", null),
            ("emissary-step-b", "/var/run/emissary/b", "true"),
            ("emissary-bin", "/var/run/emissary-bin", "true"));
        Rewrite(rewritten).Should().Be(rewritten);
    }

    [Fact]
    public void The_volume_of_a_container_that_is_gone_goes_too()
    {
        string once = Rewrite(Pod("    - {name: a, image: x, command: [a]}\n    - {name: b, image: x, command: [b]}\n"));
        var edited = ManifestSet.Read(once, "f");
        var containers = (YamlSequenceNode)edited.Documents.Single().Objects.Single().At("spec.containers")!;
        containers.Children.RemoveAt(1);

        string again = Rewrite(edited.Write());

        again.Should().NotContain("emissary-step-b").And.Contain("emissary-step-a");
    }

    [Fact]
    public void JSON_in_gives_JSON_out_with_literals_kept()
    {
        string json = """
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
             "spec": {"containers": [{"name": "a", "image": "x", "command": ["a"], "ports": [{"containerPort": 80}], "tty": true, "timeout": "3"}],
                      "terminationGracePeriodSeconds": 30, "nodeName": null}}
            """;

        string rewritten = Rewrite(json);

        rewritten.Should().StartWith("{\n  \"apiVersion\": \"v1\",");
        rewritten.Should().Contain("\"containerPort\": 80").And.Contain("\"tty\": true").And.Contain("\"terminationGracePeriodSeconds\": 30").And.Contain("\"nodeName\": null");
        rewritten.Should().Contain("\"readOnly\": true").And.Contain("\"emptyDir\": {}");
        string compact = string.Concat(rewritten.Where(c => !char.IsWhiteSpace(c)));
        compact.Should().Contain("\"--timeout\",\"3s\",").And.Contain("\"--termination-budget\",\"4096\",");
        Rewrite(rewritten).Should().Be(rewritten);
    }

    [Fact]
    public void The_pods_of_a_List_are_rewritten_item_by_item()
    {
        string text = Text("""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: a}
              spec: {containers: [{name: a, image: x, command: [a]}]}
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: c}
            - apiVersion: batch/v1
              kind: Job
              metadata: {name: j}
              spec: {template: {spec: {containers: [{name: b, image: x, command: [b]}]}}}
            """);

        string rewritten = Rewrite(text);

        ManifestObject[] objects = ManifestSet.Read(rewritten, "f").Documents.Single().Objects.ToArray();
        objects.Select(o => o.DisplayName).Should().Equal("pod/a", "configmap/c", "job/j");
        objects[0].At("spec.initContainers").Should().NotBeNull();
        objects[1].Node.Children.Should().HaveCount(3);
        objects[2].At("spec.template.spec.initContainers").Should().NotBeNull();
    }

    public static TheoryData<string, bool> Manifests => new()
    {
        { BuildPod, false },
        { BuildPod, true },
        { Pod("    - {name: a, image: x, command: [a]}\n    - {name: b, image: x, command: [b], waitForTermination: [a], sidecar: false}\n", "    sidecar.istio.io/inject: \"true\"\n    emissary.dev/a.retries: \"2\"\n"), false },
        { Pod("    - {name: s, image: x, command: [s], sidecar: true, stopSignal: INT, grace: 90s}\n    - {name: b, image: x, command: [\"$(X)\", \"3\"], args: [\"--flag\", \"true\"]}\n"), true },
        { Kinds.Select(row => (string)row[0]).Aggregate((a, b) => a + "---\n" + b), false },
        { Pod($"    - {{name: {new string('x', 60)}, image: x, command: [a]}}\n    - {{name: b, image: x, command: [b], waitForTermination: [{new string('x', 60)}]}}\n"), false },
        { "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"command\":[\"a\"],\"retries\":3}]}}}}", false },
    };

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Rewriting_a_rewritten_manifest_changes_nothing(string text, bool nativeSidecars)
    {
        RewriteSettings settings = WithEntrypoints with { NativeSidecars = nativeSidecars };
        string once = Rewrite(text, settings);

        string twice = Rewrite(once, settings);

        twice.Should().Be(once);
        Rewrite(once, new RewriteSettings()).Should().Be(once, "a rewritten pod needs neither the entrypoints nor the native-sidecars option again");
    }

    [Fact]
    public void Values_that_look_like_numbers_or_booleans_stay_strings_in_the_command()
    {
        string rewritten = Rewrite(Pod("    - {name: b, image: x, command: [\"$(X)\", \"3\"], args: [\"--flag\", \"true\"], retries: 3}\n"));

        rewritten.Should().Contain("    - --retries\n    - \"3\"\n").And.Contain("    - \"3\"\n    - \"--flag\"\n    - \"true\"\n");
    }
}
