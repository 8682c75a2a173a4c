using System.Runtime.Versioning;
namespace Emissary.Tests.BlackBox;

/// <summary>
/// After a second of supervision emissary unmaps its start-up code (ResidentTrim); everything it
/// does afterwards runs from pages faulted back in. The figure itself is measured by bench.sh.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ResidentTrimTests : BlackBoxTest
{
    [BlackBoxFact]
    public void Signals_and_the_exit_code_still_work_after_the_start_up_code_is_unmapped()
    {
        var emissary = StartEmissary("run", "--", TestChildPath, "signals", "30");
        emissary.WaitForLine("ready");
        Thread.Sleep(TimeSpan.FromSeconds(1.5)); // past ResidentTrim.Delay: the point of the test

        emissary.Signal(10); // USR1
        emissary.WaitForLine("got USR1");
        emissary.Signal(Libc.SIGTERM);
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("got TERM", "{0}", result);
        AssertNoStackTrace(result);
    }

    [BlackBoxFact]
    public void A_step_that_outlives_the_trim_still_records_its_markers()
    {
        string control = Path.Combine(TempDir(), "ctl");
        var emissary = StartEmissary("run", "--control-dir", control, "--name", "slow", "--", TestChildPath, "sleep", "1.5");
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        File.ReadAllText(Path.Combine(control, "slow", "exitcode")).Should().Be("0\n");
        File.ReadAllText(Path.Combine(control, "slow", "status.json")).Should().Contain("\"state\":\"succeeded\"");
    }
}
