using Emissary.Control;
using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// The breakpoints of a pod's steps (issue #27): the container field <c>breakpoint</c>, the per-step
/// annotation <c>emissary.dev/STEP.breakpoint</c>, the pod annotation <c>emissary.dev/breakpoint</c>,
/// and the <c>--breakpoint</c> flag each becomes (and is read back from, so rewriting is idempotent).
/// </summary>
public sealed class BreakpointFieldTests
{
    private const string Steps = """
            - {name: fetch, image: a, command: [a]}
            - {name: build, image: a, command: [make], waitForTermination: [fetch]}
            - {name: test, image: a, command: [t], waitForTermination: [build]}
        """;

    private static IReadOnlyList<string> BreakpointFlags(string rewritten, string step)
    {
        IReadOnlyList<string> command = CommandOf(rewritten, step);
        int end = command.ToList().IndexOf("--");
        return command.Take(end).Select((arg, i) => (arg, i)).Where(p => p.arg == "--breakpoint").Select(p => command[p.i + 1]).ToArray();
    }

    [Fact]
    public void The_field_a_list_or_a_joined_scalar_becomes_one_canonical_breakpoint_flag()
    {
        string rewritten = Rewrite(Pod("""
                - {name: fetch, image: a, command: [a], breakpoint: on-failure}
                - {name: build, image: a, command: [make], breakpoint: [on-failure, before]}
                - {name: test, image: a, command: [t], breakpoint: "after+before,after"}
                - {name: lint, image: a, command: [l]}
            """));

        BreakpointFlags(rewritten, "fetch").Should().Equal("on-failure");
        BreakpointFlags(rewritten, "build").Should().Equal("before,on-failure");
        BreakpointFlags(rewritten, "test").Should().Equal("before,after");
        BreakpointFlags(rewritten, "lint").Should().BeEmpty("no breakpoint, no flag");
        rewritten.Should().NotContain("breakpoint:", "the field is taken out of the container as the other emissary fields are");
    }

    [Fact]
    public void The_pod_annotation_gives_several_steps_their_kinds_joined_by_plus()
    {
        string rewritten = Rewrite(Pod(Steps, """
                emissary.dev/breakpoint: "build=on-failure+before, test=after"
            """));

        BreakpointFlags(rewritten, "build").Should().Equal("before,on-failure");
        BreakpointFlags(rewritten, "test").Should().Equal("after");
        BreakpointFlags(rewritten, "fetch").Should().BeEmpty();
    }

    [Fact]
    public void The_step_annotation_and_the_field_agree_as_any_setting_must()
    {
        PodGraph graph = Graph(Pod("""
                - {name: fetch, image: a, command: [a], breakpoint: "before,on-failure"}
                - {name: build, image: a, command: [make]}
            """, """
                emissary.dev/fetch.breakpoint: "on-failure+before"
                emissary.dev/build.breakpoint: "after"
            """));

        graph.Find("fetch")!.Breakpoints.Should().Be(PausePoint.Before | PausePoint.OnFailure, "the same set, written another way");
        graph.Find("build")!.Breakpoints.Should().Be(PausePoint.After);
        Errors(Pod("""
                - {name: fetch, image: a, command: [a], breakpoint: before}
            """, """
                emissary.dev/breakpoint: "fetch=after"
            """)).Should().ContainSingle().Which.Should().Contain("disagrees with annotation \"emissary.dev/breakpoint\"");
    }

    [Fact]
    public void Rewriting_a_rewritten_pod_keeps_its_breakpoints_and_an_annotation_edited_since_wins()
    {
        string once = Rewrite(Pod(Steps, """
                emissary.dev/breakpoint: "build=on-failure+before"
            """));
        Rewrite(once).Should().Be(once, "the --breakpoint flag is read back as the field it came from");

        // kubectl annotate on a wired pod's template, then rewrite again: the annotation wins over the old flag
        string edited = once.Replace("emissary.dev/breakpoint: \"build=on-failure+before\"", "emissary.dev/breakpoint: \"build=after\"", StringComparison.Ordinal);
        edited.Should().NotBe(once);
        BreakpointFlags(Rewrite(edited), "build").Should().Equal("after");
    }

    [Fact]
    public void Repeated_breakpoint_flags_of_a_rewritten_command_add_up_as_in_run()
    {
        string wired = Pod("""
                - name: build
                  image: a
                  command: [/var/run/emissary-bin/emissary, run, --name, build, --breakpoint, before, --breakpoint, on-failure, --, make]
            """);
        Graph(wired).Find("build")!.Breakpoints.Should().Be(PausePoint.Before | PausePoint.OnFailure);
    }

    [Theory]
    [InlineData("emissary.dev/breakpoint: \"build=sometimes\"", "\"sometimes\" is not a list of breakpoints")]
    [InlineData("emissary.dev/breakpoint: \"build=\"", "\"\" is not a list of breakpoints")]
    [InlineData("emissary.dev/breakpoint: \"build\"", "\"build\" is not STEP=KINDS")]
    [InlineData("emissary.dev/breakpoint: \"biuld=before\"", "unknown container \"biuld\" (did you mean \"build\"?)")]
    [InlineData("emissary.dev/breakpoint: \"build=before,build=after\"", "\"build\" is given twice: join its kinds with '+'")]
    [InlineData("emissary.dev/breakpoint: \"build=before\"\n    emissary.dev/build.breakpoint: \"before\"", "also given by annotation")]
    [InlineData("emissary.dev/build.breakpoint: \"before\"\n    emissary.dev/breakpoint: \"build=before\"", "also given by annotation")]
    [InlineData("emissary.dev/build.breakpoint: \"before,later\"", "\"before,later\" is not a list of breakpoints")]
    [InlineData("emissary.dev/breakpionts: \"build=before\"", "did you mean \"emissary.dev/breakpoint\"")]
    public void A_bad_breakpoint_annotation_is_one_error_line_at_its_path(string annotations, string expected)
    {
        IReadOnlyList<string> errors = Errors(Pod(Steps, "    " + annotations));

        errors.Should().ContainSingle().Which.Should().Contain("metadata.annotations").And.Contain(expected);
    }

    [Fact]
    public void A_bad_field_is_an_error_at_the_container()
    {
        Errors(Pod("""
                - {name: build, image: a, command: [make], breakpoint: [before, never]}
            """)).Should().ContainSingle().Which.Should().Contain("spec.containers[0].breakpoint").And.Contain("\"before,never\" is not a list of breakpoints");
    }
}
