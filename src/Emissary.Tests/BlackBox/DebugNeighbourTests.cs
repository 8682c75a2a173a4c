using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// A hostile neighbour and the debug requests (issue #27): another container's user (uid 1000,
/// setpriv) writes into a paused root step's signal FIFO (mode 0622, writable by anyone in the
/// pod by design) or tries to read its environment; a neighbour with the step's own uid (the
/// shared-directory layout, where nothing but uids separates steps) puts links, FIFOs and huge
/// files where the step keeps debug.txt and its FIFO. Whatever they do: a real request still gets
/// through, nothing is followed, every wait still ends on SIGTERM, and no value leaks.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "setpriv")]
[SupportedOSPlatform("linux")]
public sealed class DebugNeighbourTests : BlackBoxTest
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    /// <summary>A control directory like a kubelet emptyDir (0777), on a path uid 1000 can walk.</summary>
    private string NewControlDir()
    {
        string root = TempDir("dbg");
        File.SetUnixFileMode(root, (UnixFileMode)0x1ED); // 0755
        string dir = Path.Combine(root, "ctl");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x1FF);
        return dir;
    }

    private RunningProcess PausedStep(string dir, string at, string script, Dictionary<string, string>? env = null)
    {
        RunningProcess step = Start(EmissaryPath, ["run", "--name", "a", "--control-dir", dir, "--breakpoint", at, "--", "/bin/sh", "-c", script], env);
        Steps.WaitForStatus(dir, "a", s => s.State == "paused", "a paused");
        return step;
    }

    private ProcessResult Debug(string dir, params string[] args) => RunEmissary(["debug", .. args, "--control-dir", dir]);

    private RunningProcess StartAsNeighbour(string script) =>
        Start("setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c", script);

    private ProcessResult AsNeighbour(string script) => StartAsNeighbour(script).WaitForExit(HangGuard);

    private static string Fifo(string dir) => Steps.PathOf(dir, "a", "signal");

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_partial_word_a_neighbour_leaves_in_the_fifo_does_not_swallow_the_next_request()
    {
        string dir = NewControlDir();
        RunningProcess step = PausedStep(dir, "after", "exit 0");
        AsNeighbour($"printf cont > '{Fifo(dir)}'").ExitCode.Should().Be(0, "anyone in the pod may write the FIFO");

        Debug(dir, "continue", "a").ExitCode.Should().Be(0);

        var result = step.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(0, "the request was not read as \"contcontinue\"\n{0}", result);
        File.ReadAllText(Steps.PathOf(dir, "a", "termination.json")).Should().Contain("\"resumedBy\":\"continue\"");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_neighbour_flooding_the_fifo_with_an_endless_line_delays_a_request_but_does_not_keep_it_out()
    {
        string dir = NewControlDir();
        RunningProcess step = PausedStep(dir, "on-failure", "exit 3");
        // NULs without a newline: one endless line, which the step drops; the writer blocks whenever the FIFO is full.
        RunningProcess flood = StartAsNeighbour($"exec timeout 20 head -c 400000000 /dev/zero > '{Fifo(dir)}'");
        try
        {
            Thread.Sleep(300);
            var request = Debug(dir, "continue", "a");
            request.ExitCode.Should().Be(0, "{0}", request);

            var result = step.WaitForExit(HangGuard);
            result.ExitCode.Should().Be(3, "continue got through the flood and the recorded failure stands\n{0}", result);
        }
        finally
        {
            flood.WaitForExit(TimeSpan.FromSeconds(25)); // SIGPIPE once the step is gone, else its timeout
        }
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_neighbour_flooding_rerun_words_reruns_the_step_as_anyone_may_but_sigterm_still_ends_it_at_once_in_bounded_memory()
    {
        string dir = NewControlDir();
        // Each attempt lasts a moment, so that SIGTERM finds it paused or running (never ending by itself: 3).
        RunningProcess step = PausedStep(dir, "on-failure", "sleep 0.2; exit 3");
        RunningProcess flood = StartAsNeighbour($"exec timeout 20 yes rerun > '{Fifo(dir)}'");
        try
        {
            Steps.WaitForStatus(dir, "a", s => s.Raw.Contains("\"attempts\":3", StringComparison.Ordinal), "the flood's reruns", HangGuard);
            (ProcTable.StatusKiB(step.Pid, "VmHWM")!.Value * 1024).Should().BeLessThan(64L << 20, "a flood is read in bounded chunks");

            step.Signal(15);
            var result = step.WaitForExit(HangGuard);
            result.ExitCode.Should().Be(143, "SIGTERM ends the step whatever the flood keeps asking\n{0}", result);
        }
        finally
        {
            flood.WaitForExit(TimeSpan.FromSeconds(25));
        }
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Debug_env_values_as_another_uid_does_not_read_the_steps_environment()
    {
        string dir = NewControlDir();
        RunningProcess step = PausedStep(dir, "before", "exit 0", new Dictionary<string, string> { ["DEBUG_SECRET"] = "hunter2" });
        try
        {
            var names = AsNeighbour($"'{EmissaryPath}' debug env a --control-dir '{dir}'");
            names.ExitCode.Should().Be(0, "the names are no secret\n{0}", names);
            names.Stdout.Should().Contain("DEBUG_SECRET").And.NotContain("hunter2");

            var values = AsNeighbour($"'{EmissaryPath}' debug env a --values --control-dir '{dir}'");
            values.ExitCode.Should().Be(1, "{0}", values);
            values.Stderr.Trim().Split('\n').Should().ContainSingle().Which.Should().Contain("as its user or root");
            (values.Stdout + values.Stderr).Should().NotContain("hunter2");
        }
        finally
        {
            step.Signal(15);
            step.WaitForExit(HangGuard).ExitCode.Should().Be(143);
        }
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Links_fifos_and_huge_files_in_place_of_debug_txt_or_the_fifo_are_never_followed_read_or_waited_on()
    {
        string dir = NewControlDir();
        string secret = Path.Combine(Path.GetDirectoryName(dir)!, "secret");
        File.WriteAllText(secret, "TOPSECRET\n");
        File.SetUnixFileMode(secret, (UnixFileMode)0x180);
        RunningProcess step = PausedStep(dir, "after", "exit 0");
        string context = Steps.PathOf(dir, "a", "debug.txt");
        try
        {
            AsNeighbour($"ln -sf '{secret}' '{context}'").ExitCode.Should().NotBe(0, "another uid cannot write the step's own directory");

            // A neighbour with the step's own uid can: each planted thing is refused with one line, at once.
            foreach (string plant in new[] { $"ln -s '{secret}' '{context}'", $"mkfifo '{context}'", $"truncate -s 8M '{context}'" })
            {
                File.Delete(context);
                Run("/bin/sh", "-c", plant).ExitCode.Should().Be(0);
                var env = Start(EmissaryPath, ["debug", "env", "a", "--control-dir", dir]).WaitForExit(HangGuard);
                env.ExitCode.Should().Be(1, "{0}: {1}", plant, env);
                env.Stderr.Trim().Split('\n').Should().ContainSingle().Which.Should().Contain("is not a regular file");
                env.Stdout.Should().NotContain("TOPSECRET");
            }

            string target = Path.Combine(Path.GetDirectoryName(dir)!, "victim");
            File.WriteAllText(target, "victim\n");
            string fifo = Fifo(dir);
            File.Move(fifo, fifo + ".real");
            foreach (string plant in new[] { $"ln -s '{target}' '{fifo}'", $"echo x > '{fifo}'" })
            {
                File.Delete(fifo);
                Run("/bin/sh", "-c", plant).ExitCode.Should().Be(0);
                var request = Start(EmissaryPath, ["debug", "continue", "a", "--control-dir", dir]).WaitForExit(HangGuard);
                request.ExitCode.Should().Be(1, "{0}: {1}", plant, request);
                request.Stderr.Should().Contain("is not the FIFO of a live step");
            }
            File.ReadAllText(target).Should().Be("victim\n", "the request was not written through the link");
            step.HasExited.Should().BeFalse("no request reached the step");
        }
        finally
        {
            step.Signal(15);
            step.WaitForExit(HangGuard).ExitCode.Should().Be(143);
        }
    }
}
