using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>`emissary rewrite|local` exec emissary-tools; the signal state must survive that exec untouched.</summary>
[SupportedOSPlatform("linux")]
public sealed class ExternalToolsTests : BlackBoxTest
{
    [BlackBoxFact]
    public void Steps_run_by_emissary_local_start_with_nothing_blocked_or_ignored()
    {
        string dir = TempDir();
        string pod = Path.Combine(dir, "pod.yaml");
        File.WriteAllText(pod, $$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: masks}
            spec:
              containers:
                - name: probe
                  image: busybox
                  command: [{{TestChildPath}}, status]
                - name: waiter
                  image: busybox
                  command: [sh, -c, "sleep 0.2 & wait; echo waited"]
            """);

        var result = RunEmissary("local", pod, "--plain");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("probe | SigBlk:\t0000000000000000", "the exec of emissary-tools must not pass on the shim's blocked signals\n{0}", result);
        result.StdoutLines.Should().Contain("probe | SigIgn:\t0000000000000000", "the runtime's ignored SIGPIPE must not reach emissary-tools through exec\n{0}", result);
        result.StdoutLines.Should().Contain("waiter | waited", "a blocked SIGCHLD would make `wait` hang\n{0}", result);
    }

    [BlackBoxFact]
    public void A_missing_emissary_tools_is_one_clear_line_and_125()
    {
        string dir = TempDir();
        string lonely = CopyInto(dir, EmissaryPath);

        var result = Run(lonely, "rewrite");

        result.ExitCode.Should().Be(125, "{0}", result);
        result.StderrLines.Should().ContainSingle().Which.Should().StartWith("emissary: 'rewrite' is provided by emissary-tools");
    }
}
