using System.Diagnostics;
using System.Runtime.Versioning;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Defects found by using emissary as a hostile or careless user would: capture that outlived the
/// console, empty option values, a control directory made again while a step waits, and error
/// lines that misled or split in two.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class DefectTests : BlackBoxTest
{
    /// <summary>No capture file may get anywhere near this once the console is gone (pipes hold 64 KiB each).</summary>
    private const long CaptureBound = 4L * 1024 * 1024;

    [BlackBoxFact]
    public void Stdout_capture_gives_the_command_sigpipe_once_the_consoles_reader_is_gone()
    {
        string file = Path.Combine(TempDir("sigpipe"), "out");

        var result = Run("/bin/bash", "-c",
            "emissary run --stdout-path \"$1\" -- yes | head -n 2; echo \"status ${PIPESTATUS[0]}\"", "bash", file);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal(["y", "y", "status 141"], "yes is killed by SIGPIPE as without capture\n{0}", result);
        long size = new FileInfo(file).Length;
        size.Should().BeGreaterThan(0).And.BeLessThan(CaptureBound, "the command stops when the console goes away");
        File.ReadAllText(file).Should().MatchRegex("^(y\n)+y?$");
    }

    [BlackBoxFact(NotUnderQemu = Qemu.SubreaperWarningInRawOutput)]
    public void Stderr_capture_gives_the_command_sigpipe_once_the_consoles_reader_is_gone()
    {
        string file = Path.Combine(TempDir("sigpipe"), "err");

        var result = Run("/bin/bash", "-c",
            "emissary run --stderr-path \"$1\" -- sh -c 'exec yes >&2' 2>&1 >/dev/null | head -n 2; echo \"status ${PIPESTATUS[0]}\"", "bash", file);

        result.StdoutLines.Should().Equal(["y", "y", "status 141"], "{0}", result);
        new FileInfo(file).Length.Should().BeGreaterThan(0).And.BeLessThan(CaptureBound);
    }

    [BlackBoxTheory]
    [InlineData("--after", "")]
    [InlineData("--wait-file", "")]
    [InlineData("--wait-fifo", "")]
    [InlineData("--control-dir", "")]
    [InlineData("--results-dir", "")]
    [InlineData("--post-file", "")]
    [InlineData("--stdout-path", "")]
    [InlineData("--after=", null)]
    [InlineData("--after=a,,b", null)]
    [InlineData("--log-level", "")]
    public void An_empty_option_value_is_a_usage_error_before_anything_runs(string option, string? value)
    {
        string dir = TempDir("empty");
        string ran = Path.Combine(dir, "ran");
        string[] given = value is null ? [option] : [option, value];

        var result = RunEmissary(["run", .. given, "--", "/bin/sh", "-c", $"touch {ran}"]);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().StartWith($"emissary: {option.Split('=')[0]}", "the line names the option\n{0}", result);
        File.Exists(ran).Should().BeFalse("nothing runs after a usage error");
    }

    [BlackBoxFact]
    public void An_empty_environment_variable_still_means_unset()
    {
        string dir = TempDir("empty");
        string ran = Path.Combine(dir, "ran");

        var result = Start(EmissaryPath, ["run", "--", "/bin/sh", "-c", $"touch {ran}"],
            new Dictionary<string, string> { ["EMISSARY_AFTER"] = "", ["EMISSARY_POST_FILE"] = "" }).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        File.Exists(ran).Should().BeTrue();
    }

    [BlackBoxTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_step_waiting_after_another_follows_a_control_directory_removed_and_made_again(bool named)
    {
        string parent = TempDir("recreate");
        string dir = Path.Combine(parent, "control");
        Directory.CreateDirectory(dir);
        string ran = Path.Combine(parent, "ran");
        string[] name = named ? ["--name", "B"] : [];

        var waiter = StartEmissary(["run", "--log-level", "debug", .. name, "--after", "A", "--control-dir", dir, "--", "/bin/sh", "-c", $"touch {ran}"]);
        WaitForStderr(waiter, "waiting for step 'A'");
        Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        RunEmissary("run", "--name", "A", "--control-dir", dir, "--", "true").ExitCode.Should().Be(0);
        var result = waiter.WaitForExit();

        File.Exists(ran).Should().BeTrue("the waiting step saw A finish in the new directory\n{0}", result);
        if (!named)
        {
            result.ExitCode.Should().Be(0, "{0}", result);
        }
    }

    [BlackBoxFact]
    public void A_fifo_gate_that_cannot_be_set_up_names_the_gate_not_the_control_directory()
    {
        string file = Path.Combine(TempDir("fifo"), "regular");
        File.WriteAllText(file, "");

        var result = RunEmissary("run", "--wait-fifo", file, "--", "true");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().NotContain("cannot record the step").And.Contain(file, "{0}", result);
    }

    [BlackBoxTheory]
    [InlineData("run", "--name", "a\nb", "--", "true")]
    [InlineData("run", "--name", "x\u001b[2Jy", "--", "true")]
    [InlineData("signal", "a\nb", "TERM")]
    [InlineData("run", "--stop-signal", "TE\nRM", "--", "true")]
    [InlineData("run", "--after", "a\r\nb", "--", "true")]
    public void A_user_given_value_holding_control_characters_is_echoed_escaped_on_one_line(params string[] args)
    {
        var result = RunEmissary(args);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.TrimEnd('\n').Should().NotContain("\n").And.NotContain("\r").And.NotContain("\u001b");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_step_that_fills_the_disk_says_so_and_the_step_after_it_says_what_is_known()
    {
        string mount = TempDir("enospc");
        MountTmpfs(mount, "64k");
        try
        {
            string dir = Path.Combine(mount, "control");
            string fill = Path.Combine(mount, "fill");

            // The command waits until its "running" status is on disk before filling it: otherwise
            // it races emissary's write of that status, and the step after it may see "waiting".
            var upstream = RunEmissary("run", "--name", "A", "--control-dir", dir, "--", "/bin/sh", "-c",
                $"until grep -q '\"state\":\"running\"' {dir}/A/status.json; do sleep 0.01; done; cat /dev/zero > {fill} 2>/dev/null; exit 0");

            upstream.ExitCode.Should().Be(125, "{0}", upstream);
            AssertOneEmissaryErrorLine(upstream);
            upstream.Stderr.Should().Contain("no space left on device", "{0}", upstream);

            File.Delete(fill);
            var downstream = RunEmissary("run", "--name", "B", "--after", "A", "--control-dir", dir, "--", "true");

            downstream.ExitCode.Should().Be(123, "{0}", downstream);
            downstream.Stderr.Should().Contain("step 'A' stopped without recording an exit code (its last status: running)")
                .And.Contain("disk full").And.NotContain("killed, e.g.", "{0}", downstream);
        }
        finally
        {
            Unmount(mount);
        }
    }

    [BlackBoxFact]
    public void A_termination_copy_that_cannot_be_written_leaves_the_recorded_outcome_alone()
    {
        // The command plants a directory where the copy of its termination message goes: written
        // after the markers (the dependants are released first), its failure is a warning.
        string dir = Path.Combine(TempDir("ctl"), "emissary");
        var result = RunEmissary("run", "--name", "a", "--control-dir", dir, "--",
            "/bin/sh", "-c", "mkdir \"$EMISSARY_CONTROL_DIR/a/termination.json\"");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().Contain("termination.json not written").And.Contain("the step's outcome is recorded");
        File.ReadAllText(Path.Combine(dir, "a", "exitcode")).Should().Be("0\n");
        Steps.Status(dir, "a")!.State.Should().Be("succeeded");
        AssertNoStackTrace(result);
    }

    private static void WaitForStderr(RunningProcess process, string text)
    {
        var clock = Stopwatch.StartNew();
        while (!process.Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (process.HasExited || clock.Elapsed > RunningProcess.DefaultLineTimeout)
                throw new XunitException($"no '{text}' on stderr of `{process.CommandLine}`\n{process.Describe()}");
            Thread.Sleep(20);
        }
    }

    private void MountTmpfs(string path, string size)
    {
        var result = Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", path);
        result.ExitCode.Should().Be(0, "mounting a tmpfs for the test\n{0}", result);
    }

    private void Unmount(string path)
    {
        if (Run("umount", path).ExitCode != 0)
            Run("umount", "-l", path);
    }
}
