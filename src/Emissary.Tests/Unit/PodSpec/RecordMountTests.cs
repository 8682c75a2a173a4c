using System.Text;
using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// Issue #22: a wrapped container mounts its own record and the records it reads, no others, so a
/// pod grows linearly with its containers; what one pod may cost is limited; gate and stream
/// cycles are refused in linear time, by name.
/// </summary>
public sealed class RecordMountTests
{
    /// <summary>The steps whose records container <paramref name="name"/> mounts, "NAME" read-write and "NAME:ro" read-only, in order.</summary>
    private static string[] Records(string rewritten, string name)
    {
        var spec = (YamlMappingNode)ManifestSet.Read(rewritten, "f").Documents.Single().Objects.Single().At("spec")!;
        YamlMappingNode container = new[] { "initContainers", "containers" }
            .SelectMany(key => spec.Get(key) is YamlSequenceNode list ? list.Children.Cast<YamlMappingNode>() : [])
            .Single(c => c.GetText("name") == name);
        return ((YamlSequenceNode)container.Get("volumeMounts")!).Children.Cast<YamlMappingNode>()
            .Where(m => m.GetText("name")!.StartsWith(EmissaryRun.StepVolumePrefix, StringComparison.Ordinal))
            .Select(m => m.GetText("mountPath")!["/var/run/emissary/".Length..] + (m.GetText("readOnly") == "true" ? ":ro" : ""))
            .ToArray();
    }

    private const string Everything = """
            - {name: fetch, image: a, command: [a]}
            - {name: lint, image: a, command: [a]}
            - {name: build, image: a, command: [a], waitForTermination: [fetch]}
            - {name: gen, image: a, command: [a], waitForTermination: [build]}
            - {name: sink, image: a, command: [a], stdinFrom: gen}
            - name: report
              image: a
              command: [echo, "$(steps.fetch.results.digest)"]
              env: [{name: B, value: "$(steps.build.results.x)"}]
              waitForTermination: [gen, sink, lint]
            - {name: db, image: a, command: [a], sidecar: true, waitForTermination: [lint, build]}
        """;

    [Fact]
    public void Each_container_mounts_its_own_record_and_only_the_records_it_reads()
    {
        string rewritten = Rewrite(Pod(Everything));

        Records(rewritten, "fetch").Should().Equal("fetch");
        Records(rewritten, "lint").Should().Equal("lint");
        Records(rewritten, "build").Should().Equal("build", "fetch:ro");
        Records(rewritten, "gen").Should().Equal("gen", "build:ro", "sink:ro"); // the producer waits for its consumer to open the stream
        Records(rewritten, "sink").Should().Equal("sink", "gen:ro");
        // Its gates, and the steps whose results it takes, upstream through others.
        Records(rewritten, "report").Should().Equal("report", "fetch:ro", "lint:ro", "build:ro", "gen:ro", "sink:ro");
        // report waits for three steps and is skipped as soon as one fails: it covers none of them.
        // gen waits for build alone, build for fetch alone: they cover those.
        // The sidecar also waits for lint and build before it starts.
        Records(rewritten, "db").Should().Equal("db", "lint:ro", "build:ro", "gen:ro", "sink:ro", "report:ro");
        CommandOf(rewritten, "db").Should().ContainInOrder("--sidecar-of", "lint,gen,sink,report");
        PodGraph graph = Graph(Pod(Everything));
        graph.Steps.Select(graph.CountRecordsRead).Should().Equal(graph.Steps.Select(s => graph.RecordsReadBy(s).Count), "the limit is checked with the count");
    }

    [Fact]
    public void A_native_sidecar_reads_only_what_it_waits_for_the_kubelet_stops_it()
    {
        string rewritten = Rewrite(Pod(Everything), new RewriteSettings { NativeSidecars = true });

        Records(rewritten, "db").Should().Equal("db", "lint:ro", "build:ro");
        CommandOf(rewritten, "db").Should().NotContain("--sidecar-of");
    }

    [Theory]
    [InlineData("waitForTermination: [a]", "b,c")] // c waits for a alone: c ends after a
    [InlineData("waitForTermination: [a, b]", "a,b,c")] // c is skipped as soon as a or b fails: the other may still run
    [InlineData("waitForTermination: [a, b], runOnUpstreamFailure: true", "c")] // c waits for both whatever their outcome
    [InlineData("waitForTermination: [a], waitForStart: true", "a,b,c")] // `emissary skip c` ends c while a runs
    public void A_sidecar_watches_the_steps_that_no_other_step_is_sure_to_outlast(string third, string watched)
    {
        PodGraph graph = Graph(Pod($$"""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [a]}
                - {name: c, image: x, command: [a], {{third}}}
                - {name: s, image: x, command: [a], sidecar: true}
            """));

        string.Join(",", graph.SidecarOf(graph.Find("s")!)).Should().Be(watched);
    }

    [Fact]
    public void A_pod_rewritten_with_every_record_in_every_container_loses_the_mounts_it_does_not_read_and_stays_put()
    {
        // What an earlier version wrote: b mounts a's and c's records although it reads only a's.
        string old = Pod("""
                - {name: a, image: x, command: [a]}
                - name: b
                  image: x
                  command: [b]
                  waitForTermination: [a]
                  volumeMounts:
                  - {name: src, mountPath: /src}
                  - {name: emissary-step-a, mountPath: /var/run/emissary/a, readOnly: true}
                  - {name: emissary-step-b, mountPath: /var/run/emissary/b}
                  - {name: emissary-step-c, mountPath: /var/run/emissary/c, readOnly: true}
                - {name: c, image: x, command: [c]}
            """);

        string once = Rewrite(old);

        Records(once, "b").Should().Equal("a:ro", "b");
        once.Should().Contain("{name: src, mountPath: /src}", "the user's own mounts stay");
        Rewrite(once).Should().Be(once);
    }

    /// <summary>A Pod of <paramref name="count"/> containers, each waiting for the one before, plus a sidecar.</summary>
    private static string Chain(int count)
    {
        var text = new StringBuilder("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"chain\"},\"spec\":{\"containers\":[{\"name\":\"db\",\"image\":\"x\",\"command\":[\"db\"],\"sidecar\":true}");
        for (int i = 0; i < count - 1; i++)
        {
            text.Append($",{{\"name\":\"s{i}\",\"image\":\"x\",\"command\":[\"echo\",\"{i}\"]{(i > 0 ? $",\"waitForTermination\":[\"s{i - 1}\"]" : "")}}}");
        }
        return text.Append("]}}").ToString();
    }

    [Fact]
    public void The_rewritten_pod_grows_linearly_with_its_containers()
    {
        int small = Encoding.UTF8.GetByteCount(Rewrite(Chain(100)));
        int large = Encoding.UTF8.GetByteCount(Rewrite(Chain(1000)));

        // Every step's record in every container made it 1,000 times larger (x100 for x10 containers).
        ((double)large / small).Should().BeInRange(9, 11);
        CommandOf(Rewrite(Chain(1000)), "db").Should().ContainInOrder(["--sidecar-of", "s998", "--"], "the sidecar watches the last step of the chain, not all 999");
    }

    [Fact]
    public void A_pod_over_the_container_limit_is_one_error_naming_the_limit_and_the_count()
    {
        var settings = new RewriteSettings { Limits = new PodLimits { MaxContainers = 50 } };

        Errors(Chain(51), settings).Should().Equal("pod/chain: spec.containers: 51 containers (init containers included) is more than the limit of 50 per pod");
        Rewrite(Chain(50), settings).Should().NotBeEmpty();
        PodLimits.Default.MaxContainers.Should().Be(1000);
    }

    [Fact]
    public void A_pod_over_the_record_mount_limit_is_one_error_naming_the_limit_and_the_count()
    {
        // A fan-in: "last" reads the 30 others' records; the sidecar watches all 31.
        string pod = Pod(string.Join("\n", Enumerable.Range(0, 30).Select(i => $"    - {{name: s{i}, image: x, command: [a]}}"))
            + "\n    - {name: last, image: x, command: [a], waitForTermination: [" + string.Join(", ", Enumerable.Range(0, 30).Select(i => $"s{i}")) + "]}"
            + "\n    - {name: side, image: x, command: [a], sidecar: true}");
        int mounts = 32 + 30 + 31; // each container's own, last's 30 upstreams, the sidecar's 31 watched steps

        Errors(pod, new RewriteSettings { Limits = new PodLimits { MaxRecordMounts = mounts - 1 } }).Should().Equal(
            $"pod/p: spec: {mounts} step-record mounts (each container's own record and the records it reads: upstreams, stream partners, result sources, observed steps, a sidecar's watched steps) is more than the limit of {mounts - 1} per pod");
        Rewrite(pod, new RewriteSettings { Limits = new PodLimits { MaxRecordMounts = mounts } }).Should().NotBeEmpty();
    }

    [Fact]
    public void A_cancelled_review_stops_with_OperationCanceledException()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Action rewrite = () => ManifestRewriter.Rewrite([(ManifestSet.StandardInput, Chain(10))], new RewriteSettings { Cancellation = cancelled.Token });

        rewrite.Should().Throw<OperationCanceledException>();
    }

    [Fact]
    public void A_cycle_of_streams_is_refused_naming_it_in_the_order_the_bytes_flow()
    {
        Errors(Pod("""
                - {name: x, image: a, command: [a]}
                - {name: a, image: a, command: [a], stdinFrom: c}
                - {name: b, image: a, command: [a], stdinFrom: a}
                - {name: c, image: a, command: [a], stdinFrom: b}
                - {name: d, image: a, command: [a], stdinFrom: e}
                - {name: e, image: a, command: [a], stdinFrom: d}
            """)).Should().Equal(
            "pod/p: spec.containers: streams form a cycle: a -> b -> c -> a (each one's stdout is the next one's stdin: none can start before another has)",
            "pod/p: spec.containers: streams form a cycle: d -> e -> d (each one's stdout is the next one's stdin: none can start before another has)");
    }

    [Fact]
    public void A_step_that_waits_for_the_end_of_a_step_of_its_own_stream_through_another_stream_is_refused()
    {
        // a | b and c | d: b waits for c's end, d waits for a's end; a starts once b opens, which waits for c's end...
        Errors(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [a], stdinFrom: a, waitForTermination: [c]}
                - {name: c, image: x, command: [a]}
                - {name: d, image: x, command: [a], stdinFrom: c, waitForTermination: [a]}
            """)).Should().Equal(
            "pod/p: spec.containers: \"d\" waits for \"a\" to end (waitForTermination); \"a\" and \"b\" are one stream (a | b); \"b\" waits for \"c\" to end (waitForTermination); \"c\" and \"d\" are one stream (c | d): the steps of a stream run at the same time, so none of them can end before all have started");
    }

    [Fact]
    public void A_gate_cycle_thousands_of_steps_long_is_found_without_exhausting_a_small_stack()
    {
        const int count = 20_000;
        string pod = Pod(string.Join("\n", Enumerable.Range(0, count).Select(i => $"    - {{name: s{i}, image: x, command: [a], waitForTermination: [s{(i + 1) % count}]}}")));
        var settings = new RewriteSettings { Limits = new PodLimits { MaxContainers = count, MaxRecordMounts = 10 * count } };
        IReadOnlyList<string>? errors = null;

        // The webhook reviews on pool threads; 256 KiB is less than any of their stacks.
        var thread = new Thread(() => errors = ManifestRewriter.Rewrite([(ManifestSet.StandardInput, pod)], settings).Errors, 256 * 1024);
        thread.Start();
        thread.Join();

        errors.Should().ContainSingle().Which.Should().StartWith("pod/p: spec.containers: cycle: s0 -> s1 -> s2 -> ").And.EndWith(" -> s19999 -> s0");
    }

    [Fact]
    public void At_most_ten_cycles_are_printed_for_one_pod()
    {
        string pod = Pod(string.Join("\n", Enumerable.Range(0, 40).Select(i => $"    - {{name: s{i}, image: x, command: [a], waitForTermination: [s{i ^ 1}]}}")));

        Errors(pod).Should().HaveCount(10).And.AllSatisfy(e => e.Should().MatchRegex(@"^pod/p: spec\.containers: cycle: s(\d+) -> s\d+ -> s\1$"));
    }

    [Fact]
    public void Only_the_first_twenty_unknown_names_of_a_pod_get_a_suggestion_each_a_search_over_every_step()
    {
        string pod = Pod(string.Join("\n", Enumerable.Range(0, 25).Select(i => $"    - {{name: step{i}, image: x, command: [a], waitForTermination: [stepp{(i + 1) % 25}]}}")));

        IReadOnlyList<string> errors = Errors(pod);

        errors.Should().HaveCount(25);
        errors.Take(20).Should().AllSatisfy(e => e.Should().EndWith("(did you mean \"" + e.Split('"')[1].Replace("stepp", "step") + "\"?)"));
        errors.Skip(20).Should().AllSatisfy(e => e.Should().MatchRegex("unknown container \"stepp\\d+\"$"));
    }

    [Fact]
    public void An_error_lists_at_most_ten_upstream_steps()
    {
        string pod = Pod(string.Join("\n", Enumerable.Range(0, 15).Select(i => $"    - {{name: s{i:D2}, image: x, command: [a]{(i > 0 ? $", waitForTermination: [s{i - 1:D2}]" : "")}}}"))
            + "\n    - {name: other, image: x, command: [a]}"
            + "\n    - {name: last, image: x, command: [echo, \"$(steps.other.results.x)\"], waitForTermination: [s14]}");

        Errors(pod).Should().Equal(
            "pod/p: spec.containers[16].command[1]: $(steps.other.results.x): \"other\" is not upstream of \"last\" (its results exist once it has ended): add it to waitForTermination (upstream: s00, s01, s02, s03, s04, s05, s06, s07, s08, s09 and 5 more)");
    }
}
