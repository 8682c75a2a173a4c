using Emissary.Foundation;
using Emissary.Tools.Local;
using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.Unit.Local;

/// <summary>
/// What `emissary local --engine podman` plays (<see cref="PodmanPod.Prepare"/>): the pod as
/// `rewrite --as-pod` writes it, plus restartPolicy Never, volume names unique to the run, no
/// mesh proxy flags, and the images to check.
/// </summary>
public sealed class PodmanPodTests
{
    private const string Job = """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: integration-test
        spec:
          template:
            spec:
              restartPolicy: OnFailure
              initContainers:
                - name: setup
                  image: alpine:3
                  command: [sh, -c, "true"]
              containers:
                - name: db
                  image: busybox:1.36
                  sidecar: true
                  command: [sh, -c, "sleep 100"]
                - name: migrate
                  image: busybox:1.36
                  command: [sh, -c, "echo migrating"]
                - name: test
                  image: registry.example/test:2
                  waitForTermination: [migrate]
                  command: [sh, -c, "echo testing"]
        """;

    private static (PodmanPlan? Plan, List<ManifestError> Errors) Prepare(string text, string image = "localhost/emissary:dev", string runId = "ab12cd34", bool breakOnFailure = false)
    {
        ManifestSet set = ManifestSet.Read(text, ManifestSet.StandardInput);
        ManifestObject pod = set.Documents.SelectMany(d => d.Objects).Single(o => o.HasPod);
        var errors = new List<ManifestError>();
        var settings = new RewriteSettings { Image = image };
        PodGraph graph = PodGraph.Extract(pod, settings.GraphOptions, errors)!;
        errors.Should().BeEmpty();
        return (PodmanPod.Prepare(set, pod, graph, settings, runId, errors, breakOnFailure), errors);
    }

    private static YamlMappingNode Spec(PodmanPlan plan)
    {
        var root = (YamlMappingNode)ManifestSet.Read(plan.Yaml, "plan").Documents.Single().Root;
        root.GetText("kind").Should().Be("Pod", "podman kube play 4.3 runs Pods, not Jobs");
        return (YamlMappingNode)root.Get("spec")!;
    }

    private static IEnumerable<YamlMappingNode> Items(YamlMappingNode mapping, string key) =>
        ((YamlSequenceNode)mapping.Get(key)!).Children.Cast<YamlMappingNode>();

    [Fact]
    public void With_debug_every_steps_emissary_run_breaks_on_failure_and_only_then()
    {
        (PodmanPlan? debug, _) = Prepare(Job, breakOnFailure: true);
        (PodmanPlan? plain, _) = Prepare(Job);

        foreach (YamlMappingNode container in Items(Spec(debug!), "containers"))
        {
            string[] command = ((YamlSequenceNode)container.Get("command")!).Children.Cast<YamlScalarNode>().Select(c => c.Value!).ToArray();
            command[..4].Should().Equal([EmissaryRun.Binary, "run", "--breakpoint", "on-failure"], "the flag, not an env var the step's command would inherit");
        }
        Items(Spec(debug!), "containers").Should().NotBeEmpty();
        plain!.Yaml.Should().NotContain("--breakpoint");
        Items(Spec(debug!), "initContainers").First().ToString().Should().NotContain("--breakpoint", "emissary-init is no step");
    }

    [Fact]
    public void A_job_becomes_the_pod_rewrite_as_pod_writes_named_after_the_job()
    {
        (PodmanPlan? plan, _) = Prepare(Job);

        plan!.PodName.Should().Be("integration-test");
        YamlMappingNode spec = Spec(plan);
        Items(spec, "initContainers").First().GetText("name").Should().Be(EmissaryRun.InitContainerName);
        Items(spec, "initContainers").First().GetText("image").Should().Be("localhost/emissary:dev");
        foreach (YamlMappingNode container in Items(spec, "containers"))
        {
            ((YamlScalarNode)((YamlSequenceNode)container.Get("command")!).Children[0]).Value.Should().Be(EmissaryRun.Binary);
        }
        plan.Steps.Should().Equal(
            ("db", "integration-test-db", true),
            ("migrate", "integration-test-migrate", false),
            ("test", "integration-test-test", false));
    }

    [Fact]
    public void Every_step_runs_once_whatever_the_restart_policy_said()
    {
        (PodmanPlan? plan, _) = Prepare(Job);

        Spec(plan!).GetText("restartPolicy").Should().Be("Never");
        plan!.Notes.Should().ContainSingle().Which.Should().Contain("restartPolicy OnFailure -> Never");
    }

    [Fact]
    public void The_volumes_are_named_for_the_run_in_the_volume_list_and_in_every_mount()
    {
        (PodmanPlan? plan, _) = Prepare(Job, runId: "0badcafe");

        plan!.BinVolume.Should().Be("emissary-bin-0badcafe");
        plan.ControlVolume.Should().Be("emissary-control-0badcafe");
        YamlMappingNode spec = Spec(plan);
        Items(spec, "volumes").Select(v => v.GetText("name")).Should().Equal(
            "emissary-bin-0badcafe", "emissary-control-0badcafe", "emissary-step-db-0badcafe", "emissary-step-migrate-0badcafe", "emissary-step-test-0badcafe");
        plan.StepVolumes.Should().Equal(("db", "emissary-step-db-0badcafe"), ("migrate", "emissary-step-migrate-0badcafe"), ("test", "emissary-step-test-0badcafe"));
        var mounts = Items(spec, "initContainers").Concat(Items(spec, "containers"))
            .Where(c => c.Get("volumeMounts") is not null)
            .SelectMany(c => Items(c, "volumeMounts"))
            .Select(m => m.GetText("name"))
            .ToList();
        mounts.Should().NotBeEmpty().And.OnlyContain(name => name!.EndsWith("-0badcafe"));
        plan.Yaml.Should().NotContain("name: emissary-control\n").And.NotContain("name: emissary-bin\n");
    }

    [Fact]
    public void Every_image_is_listed_once_with_the_first_container_that_uses_it()
    {
        (PodmanPlan? plan, _) = Prepare(Job, image: "localhost/emissary:test");

        plan!.Images.Should().Equal(
            ("localhost/emissary:test", "emissary-init"),
            ("alpine:3", "setup"),
            ("busybox:1.36", "db"),
            ("registry.example/test:2", "test"));
        plan.EmissaryImage.Should().Be("localhost/emissary:test");
    }

    [Fact]
    public void A_pod_without_a_name_gets_one()
    {
        (PodmanPlan? plan, _) = Prepare("""
            apiVersion: v1
            kind: Pod
            spec:
              restartPolicy: Never
              containers:
                - name: only
                  image: busybox:1.36
                  command: [sh, -c, "true"]
            """);

        plan!.PodName.Should().Be(PodmanPod.DefaultPodName);
        plan.Yaml.Should().Contain("name: " + PodmanPod.DefaultPodName);
        plan.Notes.Should().BeEmpty("restartPolicy was Never already");
    }

    [Fact]
    public void Steps_neither_wait_for_nor_quit_a_mesh_proxy_that_a_podman_pod_does_not_have()
    {
        (PodmanPlan? plan, _) = Prepare("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: meshed
              annotations:
                sidecar.istio.io/inject: "true"
            spec:
              restartPolicy: Never
              containers:
                - name: first
                  image: busybox:1.36
                  command: [sh, -c, "true"]
                - name: last
                  image: busybox:1.36
                  waitForTermination: [first]
                  command: [sh, -c, "true"]
            """);

        plan!.Yaml.Should().NotContain("--wait-proxy").And.NotContain("--quit");
        plan.Yaml.Should().Contain("--after");
        plan.Notes.Should().ContainSingle(n => n.Contains("istio"));
    }

    [Fact]
    public void Native_sidecars_are_refused_because_kube_play_runs_init_containers_to_their_end()
    {
        Action prepare = () => Prepare("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: native
              annotations:
                emissary.dev/native-sidecars: "true"
            spec:
              containers:
                - name: db
                  image: busybox:1.36
                  sidecar: true
                  command: [sh, -c, "sleep 100"]
                - name: step
                  image: busybox:1.36
                  command: [sh, -c, "true"]
            """);

        prepare.Should().Throw<UsageException>().WithMessage("*native sidecars*emissary.dev/native-sidecars*");
    }

    [Fact]
    public void A_container_without_a_command_gives_the_error_rewrite_gives()
    {
        const string text = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: nocommand
            spec:
              containers:
                - name: app
                  image: example/app:1
            """;

        (PodmanPlan? plan, List<ManifestError> errors) = Prepare(text);

        plan.Should().BeNull();
        errors.Select(e => e.ToString()).Should().Equal(
            ManifestRewriter.Rewrite([(ManifestSet.StandardInput, text)], new RewriteSettings()).Errors);
    }
}
