using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// The breakpoint annotation end to end (issue #27 item 1): `emissary-tools rewrite` turns
/// <c>emissary.dev/breakpoint</c> into the step's <c>--breakpoint</c> flag, and the rewritten
/// commands, run by the published emissary as a pod would run them, pause where the annotation
/// says and resume on `emissary debug`.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BreakpointRewriteTests : BlackBoxTest
{
    private const string Pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: ci
          annotations:
            emissary.dev/breakpoint: "build=on-failure+before"
        spec:
          restartPolicy: Never
          containers:
          - name: build
            image: busybox:1.36
            command: ["sh", "-c", "[ -e \"$FIXED\" ] && echo built && exit 0; exit 3"]
          - name: test
            image: busybox:1.36
            waitForTermination: [build]
            command: ["sh", "-c", "echo tested"]
        """;

    /// <summary>The container's rewritten command with this machine's binary and control directory in place of the pod's.</summary>
    private static string[] Local(IReadOnlyList<string> command, string dir)
    {
        command[0].Should().Be("/var/run/emissary-bin/emissary");
        command[1].Should().Be("run");
        return ["run", "--control-dir", dir, .. command.Skip(2)];
    }

    [BlackBoxFact]
    public void The_annotated_steps_rewritten_command_pauses_before_and_on_failure_and_a_rerun_lets_its_dependant_run()
    {
        string input = Path.Combine(TempDir("in"), "pod.yaml");
        File.WriteAllText(input, Pod);
        var rewrite = Run(Artifacts.EmissaryTools, "rewrite", input);
        rewrite.ExitCode.Should().Be(0, "{0}", rewrite);
        IReadOnlyList<string> build = Unit.PodSpec.PodSpecTestKit.CommandOf(rewrite.Stdout, "build");
        build.Should().ContainInConsecutiveOrder("--breakpoint", "before,on-failure");
        Unit.PodSpec.PodSpecTestKit.CommandOf(rewrite.Stdout, "test").Should().NotContain("--breakpoint");

        string dir = Path.Combine(TempDir("ctl"), "emissary");
        string fixedFile = Path.Combine(TempDir("fix"), "fixed");
        var env = new Dictionary<string, string> { ["FIXED"] = fixedFile };
        RunningProcess a = Start(EmissaryPath, Local(build, dir), env);
        RunningProcess b = Start(EmissaryPath, Local(Unit.PodSpec.PodSpecTestKit.CommandOf(rewrite.Stdout, "test"), dir), env);

        Steps.WaitForStatus(dir, "build", s => s.State == "paused", "build paused before").Raw.Should().Contain("\"at\":\"before\"");
        RunEmissary("debug", "continue", "build", "--control-dir", dir).ExitCode.Should().Be(0);
        Steps.WaitForStatus(dir, "build", s => s.State == "paused" && s.Raw.Contains("\"at\":\"on-failure\"", StringComparison.Ordinal), "build paused on failure")
            .ExitCode.Should().Be(3);
        b.HasExited.Should().BeFalse("its upstream is paused, not failed");

        File.WriteAllText(fixedFile, "");
        RunEmissary("debug", "rerun", "build", "--control-dir", dir).ExitCode.Should().Be(0);

        var ra = a.WaitForExit();
        ra.ExitCode.Should().Be(0, "{0}", ra);
        var rb = b.WaitForExit();
        rb.ExitCode.Should().Be(0, "{0}", rb);
        rb.StdoutLines.Should().Contain("tested");
    }
}
