using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary><c>stdinFrom</c> (streams) and <c>$(steps.NAME.results.KEY)</c> (results) in rewrite: flags written, errors with their exact text.</summary>
public sealed class StreamAndResultRewriteTests
{
    [Fact]
    public void StdinFrom_becomes_stdin_from_on_the_consumer_and_stdout_to_on_the_producer()
    {
        string rewritten = Rewrite(Pod("""
                - {name: gen, image: a, command: [gen]}
                - {name: sink, image: a, command: [wc], stdinFrom: gen}
            """));
        CommandOf(rewritten, "gen").Should().ContainInConsecutiveOrder("--stdout-to", "sink");
        CommandOf(rewritten, "sink").Should().ContainInConsecutiveOrder("--stdin-from", "gen");
        CommandOf(rewritten, "gen").Should().NotContain("--stdin-from");
        rewritten.Should().NotContain("stdinFrom:", "the field is removed so that the API server accepts the pod");
        Rewrite(rewritten).Should().Be(rewritten, "rewriting a rewritten pod changes nothing");
    }

    [Fact]
    public void The_annotation_form_and_a_three_stage_pipeline()
    {
        string rewritten = Rewrite(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [b]}
                - {name: c, image: x, command: [c]}
            """, """
                emissary.dev/b.stdinFrom: a
                emissary.dev/c.stdinFrom: b
            """));
        CommandOf(rewritten, "a").Should().ContainInConsecutiveOrder("--stdout-to", "b");
        CommandOf(rewritten, "b").Should().ContainInConsecutiveOrder("--stdin-from", "a").And.ContainInConsecutiveOrder("--stdout-to", "c");
        CommandOf(rewritten, "c").Should().ContainInConsecutiveOrder("--stdin-from", "b");
    }

    [Fact]
    public void Fan_out_an_unknown_producer_itself_and_a_sidecar_are_refused()
    {
        Errors(Pod("""
                - {name: gen, image: a, command: [a]}
                - {name: one, image: a, command: [a], stdinFrom: gen}
                - {name: two, image: a, command: [a], stdinFrom: gen}
                - {name: three, image: a, command: [a], stdinFrom: gem}
                - {name: four, image: a, command: [a], stdinFrom: four}
                - {name: side, image: a, command: [a], sidecar: true}
                - {name: five, image: a, command: [a], stdinFrom: side}
            """)).Should().Equal(
            "pod/p: spec.containers[2].stdinFrom: \"gen\" already streams its stdout to \"one\" (spec.containers[1].stdinFrom): one producer has one consumer (fan-out is not supported: tee inside the producer, or chain the consumers)",
            "pod/p: spec.containers[3].stdinFrom: unknown container \"gem\" (did you mean \"gen\"?)",
            "pod/p: spec.containers[4].stdinFrom: container \"four\" cannot read its own output",
            "pod/p: spec.containers[6].stdinFrom: \"side\" is a sidecar: streams connect steps");
    }

    [Fact]
    public void A_producer_and_consumer_that_wait_for_each_other_or_retry_are_refused()
    {
        Errors(Pod("""
                - {name: gen, image: a, command: [a]}
                - {name: mid, image: a, command: [a], waitForTermination: [gen]}
                - {name: sink, image: a, command: [a], stdinFrom: gen, waitForTermination: [mid]}
            """)).Should().Equal(
            "pod/p: spec.containers: \"sink\" waits for \"gen\" to end (waitForTermination, through \"mid\"); \"gen\" and \"sink\" are one stream (gen | sink): the steps of a stream run at the same time, so none of them can end before all have started");
        Errors(Pod("""
                - {name: gen, image: a, command: [a], retries: 2}
                - {name: sink, image: a, command: [a], stdinFrom: gen}
            """)).Should().Equal(
            "pod/p: spec.containers[1].stdinFrom: \"gen\" has retries: a streamed step runs once (its stream is read once)");
    }

    [Fact]
    public void A_result_reference_must_name_an_upstream_step()
    {
        Errors(Pod("""
                - {name: build, image: a, command: [a]}
                - {name: lint, image: a, command: [a]}
                - name: test
                  image: a
                  command: [sh, -c, "echo $(steps.biuld.results.digest)"]
                  args: ["$(steps.lint.results.x)", "$(steps.build.results.list[0])", "$(steps.test.results.me)"]
                  env: [{name: D, value: "$(steps.build.results.digest)"}, {name: EMISSARY_X, value: "$(steps.nope.results.y)"}]
                  waitForTermination: [build]
            """)).Should().Equal(
            "pod/p: spec.containers[2].command[2]: $(steps.biuld.results.digest): unknown container \"biuld\" (did you mean \"build\"?)",
            "pod/p: spec.containers[2].args[0]: $(steps.lint.results.x): \"lint\" is not upstream of \"test\" (its results exist once it has ended): add it to waitForTermination (upstream: build)",
            "pod/p: spec.containers[2].args[1]: $(steps.build.results.list[0]): array and object results are not supported (a result is one file of bytes)",
            "pod/p: spec.containers[2].args[2]: $(steps.test.results.me): a step cannot read its own results");
    }

    [Fact]
    public void A_result_of_a_step_upstream_through_another_is_accepted_and_left_for_run_to_replace()
    {
        string rewritten = Rewrite(Pod("""
                - {name: build, image: a, command: [a]}
                - {name: lint, image: a, command: [a], waitForTermination: [build]}
                - {name: test, image: a, command: [echo, "$(steps.build.results.digest)"], waitForTermination: [lint]}
            """));
        CommandOf(rewritten, "test").Should().EndWith(["--", "echo", "$(steps.build.results.digest)"]);
    }
}
