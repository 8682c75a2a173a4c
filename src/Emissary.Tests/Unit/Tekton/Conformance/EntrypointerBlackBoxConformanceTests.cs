using System.Diagnostics;
using System.Runtime.Versioning;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// The cases of Tekton's pkg/entrypoint/entrypointer_test.go whose fact lives in the real runner,
/// not behind a fake: run against artifacts/entrypoint. Same naming convention as
/// <see cref="EntrypointerConformanceTests"/> (method = Go test function; the case in the comment
/// and the assertion's reason, for a single-case test).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class EntrypointerBlackBoxConformanceTests : BlackBoxTest
{
    private readonly string _root;

    public EntrypointerBlackBoxConformanceTests()
    {
        _root = TempDir("tekton-ent");
        foreach (string dir in new[] { "run/0/status", "downward" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
    }

    /// <summary>
    /// "stopOnCancel is true and want context canceled": once the controller's cancel annotation
    /// reaches /tekton/downward/cancel (non-empty), the running command is killed and the step
    /// records Cancelled, writes out.err and exitCode "killed", and exits 9 (main.go's
    /// os.Exit(SIGKILL)). Tekton's waiter goroutine is our runner's stop condition, so only the real
    /// binary shows it.
    /// </summary>
    [BlackBoxFact]
    public void Test_waitingCancellation()
    {
        string status = Path.Combine(_root, "run", "0", "status");
        var step = Start(Artifacts.Entrypoint,
            ["-post_file", Path.Combine(_root, "run", "0", "out"), "-termination_path", Path.Combine(_root, "termination"),
             "-step_metadata_dir", status, "-entrypoint", "/bin/sh", "--", "-c", "echo started; sleep 20"],
            new Dictionary<string, string> { ["EMISSARY_TEKTON_ROOT"] = _root });
        step.WaitForLine("started");
        var clock = Stopwatch.StartNew();

        File.WriteAllText(Path.Combine(_root, "downward", "cancel"), "cancel");
        var result = step.WaitForExit();

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "the cancel file is looked at every second");
        result.ExitCode.Should().Be(9, result.ToString());
        File.Exists(Path.Combine(_root, "run", "0", "out.err")).Should().BeTrue();
        File.ReadAllText(Path.Combine(status, "exitCode")).Should().Be("killed");
        TektonMessageChecker.CheckFile(Path.Combine(_root, "termination"))["Reason"].Value.Should().Be("Cancelled");
    }
}
