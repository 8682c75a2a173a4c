using System.Runtime.Versioning;
using Xunit.Abstractions;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// How a waiting step learns that its upstream is over. A step whose upstream is already running
/// waits for the hangup of the upstream's alive FIFO in its own event loop (or, without one, on
/// the upstream's lock from a thread); the upstream lets go of both right after recording its exit
/// code, and the kernel does it if it dies. No inotify instance is held for that (instances are a
/// per-uid budget across the node).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandoffTests(ITestOutputHelper output) : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    /// <summary>An upstream that runs until the test writes a line to <paramref name="fifo"/>.</summary>
    private RunningProcess HeldUpstream(string dir, string name, string fifo)
    {
        Run("mkfifo", fifo).ExitCode.Should().Be(0);
        var step = Step(dir, name, [], "/bin/sh", "-c", "echo ready; read line < \"$0\"", fifo);
        step.WaitForLine("ready");
        return step;
    }

    /// <summary>Step b, --after a, started and gone to sleep waiting for it.</summary>
    private RunningProcess WaitingStepB(string dir)
    {
        var b = Step(dir, "b", ["--after", "a", "--log-level", "debug"], "/bin/sh", "-c", "echo ran b");
        // Logged each time the waiter goes to sleep, after it has settled how it waits.
        b.WaitForStderr("waiting for step 'a'");
        return b;
    }

    /// <summary>Lets held upstream a finish (0), then b must run its command and succeed.</summary>
    private static void ReleaseAndSeeBRun(string fifo, RunningProcess a, RunningProcess b)
    {
        File.WriteAllText(fifo, "go\n");
        a.WaitForExit().ExitCode.Should().Be(0);
        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    private static IReadOnlyList<string> DescriptorTargets(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd").Select(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget ?? "";
            }
            catch (IOException)
            {
                return ""; // closed in between
            }
        }).ToList();

    private static IReadOnlyList<string> ThreadNames(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Select(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                return "";
            }
        }).ToList();

    private static bool HoldsAliveFifoOf(int pid, string step) =>
        DescriptorTargets(pid).Any(t => t.EndsWith($"/{step}/alive", StringComparison.Ordinal));

    private static double CpuSeconds(int pid)
    {
        // utime and stime, fields 14 and 15 of /proc/PID/stat (after the parenthesised name).
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }

    [BlackBoxFact]
    public void A_step_waiting_on_a_running_upstream_holds_no_inotify_instance_and_starts_once_it_finishes()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);

        var b = WaitingStepB(dir);

        DescriptorTargets(b.Pid).Should().NotContain("anon_inode:inotify", "a running upstream is waited on through its alive FIFO\n{0}", b.Describe());
        HoldsAliveFifoOf(b.Pid, "a").Should().BeTrue("b waits for the hangup of a's alive FIFO\n{0}", b.Describe());
        ThreadNames(b.Pid).Should().NotContain("lock watcher a", "the FIFO needs no thread");
        b.HasExited.Should().BeFalse("{0}", b.Describe());

        ReleaseAndSeeBRun(fifo, a, b);
        var sa = Steps.Status(dir, "a")!;
        var sb = Steps.Status(dir, "b")!;
        sb.StartedAt!.Value.Should().BeOnOrAfter(sa.FinishedAt!.Value);
    }

    [BlackBoxFact]
    public void A_failed_upstream_seen_through_its_lock_skips_the_step()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "release");
        Run("mkfifo", fifo).ExitCode.Should().Be(0);
        var a = Step(dir, "a", [], "/bin/sh", "-c", "echo ready; read line < \"$0\"; exit 3", fifo);
        a.WaitForLine("ready");
        var b = WaitingStepB(dir);

        File.WriteAllText(fifo, "go\n");
        a.WaitForExit().ExitCode.Should().Be(3);
        var result = b.WaitForExit();
        result.StdoutLines.Should().NotContain("ran b", "{0}", result);
        Steps.Status(dir, "b")!.State.Should().Be("skipped", "{0}", result);
        result.Stderr.Should().Contain("step 'a' failed with exit code 3");
    }

    [BlackBoxFact]
    public void A_step_waiting_for_an_upstream_that_has_not_started_watches_until_it_registers_then_waits_on_its_fifo()
    {
        string dir = NewControlDir();
        var b = WaitingStepB(dir);
        DescriptorTargets(b.Pid).Should().Contain("anon_inode:inotify", "nothing but a directory watch can tell that a appeared\n{0}", b.Describe());

        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);
        // Once a is registered, b moves to its alive FIFO and gives its inotify instance back.
        Steps.WaitUntil(() => HoldsAliveFifoOf(b.Pid, "a") && !DescriptorTargets(b.Pid).Contains("anon_inode:inotify"),
            "b waits on a's alive FIFO and holds no inotify instance");

        ReleaseAndSeeBRun(fifo, a, b);
    }

    [BlackBoxFact]
    public void Without_an_alive_fifo_the_step_waits_on_the_upstreams_lock()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);
        // An older emissary, or a file system without FIFOs: nothing named alive.
        File.Delete(Path.Combine(dir, "a", "alive"));

        var b = WaitingStepB(dir);
        Steps.WaitUntil(() => ThreadNames(b.Pid).Contains("lock watcher a"), "a thread blocked in flock(2) on a's lock");
        DescriptorTargets(b.Pid).Should().NotContain("anon_inode:inotify");

        ReleaseAndSeeBRun(fifo, a, b);
    }

    [BlackBoxFact]
    public void An_upstream_that_writes_into_its_alive_fifo_without_end_does_not_keep_the_step_busy()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);
        var b = WaitingStepB(dir);
        Steps.WaitUntil(() => HoldsAliveFifoOf(b.Pid, "a"), "b waits on a's alive FIFO");

        // Same uid as a, so it may write there: as a misbehaving upstream could.
        var writer = Start("/bin/sh", "-c", $"exec yes flood > {Path.Combine(dir, "a", "alive")}");
        try
        {
            Steps.WaitUntil(() => ThreadNames(b.Pid).Contains("lock watcher a") && !HoldsAliveFifoOf(b.Pid, "a"),
                "b gives up the FIFO that speaks and waits on a's lock instead");
            double before = CpuSeconds(b.Pid);
            Thread.Sleep(1000);
            (CpuSeconds(b.Pid) - before).Should().BeLessThan(0.2, "b sleeps while the flood goes on\n{0}", b.Describe());
            b.HasExited.Should().BeFalse("a is still running\n{0}", b.Describe());
        }
        finally
        {
            writer.Signal(Libc.SIGKILL);
            writer.WaitForExit();
        }

        ReleaseAndSeeBRun(fifo, a, b);
    }

    [BlackBoxFact]
    public void A_restarted_upstream_wakes_a_step_that_waited_on_the_fifo_of_its_dead_incarnation()
    {
        // The moment of a restart: a's record from its dead incarnation (a FIFO nobody holds, a
        // status), while the new incarnation holds the lock but has not replaced the FIFO yet.
        string dir = NewControlDir();
        string a = Path.Combine(dir, "a");
        Directory.CreateDirectory(a);
        Run("mkfifo", Path.Combine(a, "alive")).ExitCode.Should().Be(0);
        File.WriteAllText(Path.Combine(a, "status.json"), "{\"name\":\"a\",\"state\":\"running\"}\n");
        File.WriteAllText(Path.Combine(a, "lock"), "");
        // flock(1) holds the lock itself (-o: not its command), so killing it releases the lock.
        var holder = Start("flock", "-o", Path.Combine(a, "lock"), "/bin/sh", "-c", "echo locked $$; exec sleep 300");
        int sleeper = int.Parse(holder.WaitForLineStartingWith("locked ")["locked ".Length..]);
        var b = WaitingStepB(dir);
        Steps.WaitUntil(() => HoldsAliveFifoOf(b.Pid, "a"), "b waits on the stale FIFO");
        holder.Signal(Libc.SIGKILL);
        holder.WaitForExit();
        Libc.Kill(sleeper, Libc.SIGKILL);

        // The new incarnation replaces the FIFO, runs, finishes: b must hear of it.
        RunEmissary("run", "--name", "a", "--control-dir", dir, "--", "true").ExitCode.Should().Be(0);

        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
    }

    [BlackBoxFact]
    public void A_chain_launched_at_once_runs_in_order()
    {
        const int count = 30;
        string dir = NewControlDir();
        var steps = new RunningProcess[count];
        for (int i = 0; i < count; i++)
        {
            steps[i] = i == 0
                ? Step(dir, "s0", [], "/bin/true")
                : Step(dir, $"s{i}", ["--after", $"s{i - 1}"], "/bin/true");
        }
        foreach (RunningProcess step in steps)
        {
            var result = step.WaitForExit();
            result.ExitCode.Should().Be(0, "{0}", result);
            result.Stderr.Should().NotContain("inotify unavailable");
        }
        for (int i = 1; i < count; i++)
        {
            var up = Steps.Status(dir, $"s{i - 1}")!;
            var down = Steps.Status(dir, $"s{i}")!;
            down.State.Should().Be("succeeded");
            down.StartedAt!.Value.Should().BeOnOrAfter(up.FinishedAt!.Value, "s{0} starts only after s{1} finished", i, i - 1);
        }
        output.WriteLine($"s0 finished {StepStatusJson.Format(Steps.Status(dir, "s0")!.FinishedAt!.Value)}, s{count - 1} finished {StepStatusJson.Format(Steps.Status(dir, $"s{count - 1}")!.FinishedAt!.Value)}");
    }
}
