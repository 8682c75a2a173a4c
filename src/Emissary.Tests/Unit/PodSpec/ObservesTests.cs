using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// <c>observes: [STEP, ...]</c>: a container whose command reads other steps' records while they
/// run (their files, <c>emissary status</c>, <c>emissary signal</c>) without waiting for them gets
/// those records mounted read-only, and the declaration survives a re-rewrite as <c>--observe</c>.
/// </summary>
public sealed class ObservesTests
{
    /// <summary>The steps whose records container <paramref name="name"/> mounts, "NAME" read-write and "NAME:ro" read-only, in order.</summary>
    private static string[] Records(string rewritten, string name)
    {
        var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
        YamlMappingNode container = ((YamlSequenceNode)spec.Get("containers")!).Children.Cast<YamlMappingNode>().Single(c => c.GetText("name") == name);
        return ((YamlSequenceNode)container.Get("volumeMounts")!).Children.Cast<YamlMappingNode>()
            .Where(m => m.GetText("name")!.StartsWith(EmissaryRun.StepVolumePrefix, StringComparison.Ordinal))
            .Select(m => m.GetText("mountPath")!["/var/run/emissary/".Length..] + (m.GetText("readOnly") == "true" ? ":ro" : ""))
            .ToArray();
    }

    private const string Watching = """
            - {name: server, image: x, command: [s]}
            - {name: worker, image: x, command: [w], waitForStart: true}
            - {name: db, image: x, command: [d], sidecar: true}
            - {name: untrusted, image: x, command: [u], observes: [worker, db, server]}
        """;

    [Fact]
    public void An_observed_record_is_mounted_read_only_and_the_flag_is_written_in_the_pods_order()
    {
        string rewritten = Rewrite(Pod(Watching));

        Records(rewritten, "untrusted").Should().Equal("untrusted", "server:ro", "worker:ro", "db:ro");
        Records(rewritten, "server").Should().Equal(["server"], "observing is one way: the observed step mounts nothing more");
        CommandOf(rewritten, "untrusted").Should().ContainInOrder("--observe", "server", "--observe", "worker", "--observe", "db", "--");
        CommandOf(rewritten, "untrusted").Should().NotContain("--after", "an observed step is not waited for");
    }

    [Fact]
    public void Rewriting_the_rewritten_pod_keeps_the_mounts_and_changes_nothing()
    {
        string once = Rewrite(Pod(Watching));

        Rewrite(once).Should().Be(once);
        Graph(once).Find("untrusted")!.Observes.Should().Equal("server", "worker", "db");
    }

    [Fact]
    public void The_annotation_and_a_comma_list_declare_it_as_the_field_does()
    {
        string containers = """
                - {name: server, image: x, command: [s]}
                - {name: worker, image: x, command: [w]}
                - {name: untrusted, image: x, command: [u]}
            """;

        string byAnnotation = Rewrite(Pod(containers, "    emissary.dev/untrusted.observes: \"worker, server\""));

        Records(byAnnotation, "untrusted").Should().Equal("untrusted", "server:ro", "worker:ro");
        Rewrite(Pod(containers.Replace("command: [u]}", "command: [u], observes: \"worker,server\"}"))).Should().Be(Rewrite(Pod(containers.Replace("command: [u]}", "command: [u], observes: [server, worker]}"))));
    }

    [Fact]
    public void A_step_it_also_waits_for_is_mounted_once()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b], waitForTermination: [a], observes: [a]}
            """));

        Records(rewritten, "b").Should().Equal("b", "a:ro");
        PodGraph graph = Graph(Pod(Watching));
        graph.Steps.Select(graph.CountRecordsRead).Should().Equal(graph.Steps.Select(s => graph.RecordsReadBy(s).Count), "the limit is checked with the count");
    }

    [Fact]
    public void Unknown_names_itself_and_init_containers_are_refused_naming_the_item()
    {
        Errors(Pod("""
                - {name: server, image: x, command: [s]}
                - {name: untrusted, image: x, command: [u], observes: [sever, untrusted, setup]}
            """).Replace("spec:\n", "spec:\n  initContainers: [{name: setup, image: x}]\n")).Should().Equal(
            "pod/p: spec.containers[1].observes[0]: unknown container \"sever\" (did you mean \"server\"?)",
            "pod/p: spec.containers[1].observes[1]: container \"untrusted\" cannot observe itself (its own record is always mounted)",
            "pod/p: spec.containers[1].observes[2]: \"setup\" is an init container: it has no record to observe");
    }

    [Fact]
    public void A_field_and_an_annotation_that_name_other_steps_disagree()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b]}
                - {name: c, image: x, command: [c], observes: [a]}
            """, "    emissary.dev/c.observes: b")).Should().Equal(
            "pod/p: spec.containers[2].observes: [a] disagrees with annotation \"emissary.dev/c.observes\" (\"b\")");
    }

    [Fact]
    public void Observed_records_count_against_the_record_mount_limit()
    {
        string pod = Pod(string.Join("\n", Enumerable.Range(0, 10).Select(i => $"    - {{name: s{i}, image: x, command: [a]}}"))
            + "\n    - {name: watcher, image: x, command: [a], observes: [" + string.Join(", ", Enumerable.Range(0, 10).Select(i => $"s{i}")) + "]}");
        const int mounts = 11 + 10; // each container's own, and the watcher's 10 observed records

        Errors(pod, new RewriteSettings { Limits = new PodLimits { MaxRecordMounts = mounts - 1 } }).Should().Equal(
            $"pod/p: spec: {mounts} step-record mounts (each container's own record and the records it reads: upstreams, stream partners, result sources, observed steps, a sidecar's watched steps) is more than the limit of {mounts - 1} per pod");
        Rewrite(pod, new RewriteSettings { Limits = new PodLimits { MaxRecordMounts = mounts } }).Should().NotBeEmpty();
    }
}
