using System.Runtime.Versioning;
using Xunit.Abstractions;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// How a waiting step learns that its upstream is over. A step whose upstream is already running
/// waits on the upstream's lock, which the upstream lets go of right after recording its exit
/// code: no inotify instance is held for that (instances are a per-uid budget across the node),
/// and the crash detection is the same lock.
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

    [BlackBoxFact]
    public void A_step_waiting_on_a_running_upstream_holds_no_inotify_instance_and_starts_once_it_finishes()
    {
        string dir = NewControlDir();
        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);

        var b = Step(dir, "b", ["--after", "a", "--log-level", "debug"], "/bin/sh", "-c", "echo ran b");
        // Logged each time the waiter goes to sleep, after it has settled how it waits.
        b.WaitForStderr("waiting for step 'a'");

        DescriptorTargets(b.Pid).Should().NotContain("anon_inode:inotify", "a running upstream is waited on through its lock\n{0}", b.Describe());
        // The watcher thread names itself once it runs.
        Steps.WaitUntil(() => ThreadNames(b.Pid).Contains("lock watcher a"), "a thread blocked in flock(2) on a's lock");
        b.HasExited.Should().BeFalse("{0}", b.Describe());

        File.WriteAllText(fifo, "go\n");
        a.WaitForExit().ExitCode.Should().Be(0);
        var result = b.WaitForExit();
        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Contain("ran b");
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
        var b = Step(dir, "b", ["--after", "a", "--log-level", "debug"], "/bin/sh", "-c", "echo ran b");
        b.WaitForStderr("waiting for step 'a'");

        File.WriteAllText(fifo, "go\n");
        a.WaitForExit().ExitCode.Should().Be(3);
        var result = b.WaitForExit();
        result.StdoutLines.Should().NotContain("ran b", "{0}", result);
        Steps.Status(dir, "b")!.State.Should().Be("skipped", "{0}", result);
        result.Stderr.Should().Contain("step 'a' failed with exit code 3");
    }

    [BlackBoxFact]
    public void A_step_waiting_for_an_upstream_that_has_not_started_watches_until_it_registers_then_uses_its_lock()
    {
        string dir = NewControlDir();
        var b = Step(dir, "b", ["--after", "a", "--log-level", "debug"], "/bin/sh", "-c", "echo ran b");
        b.WaitForStderr("waiting for step 'a'");
        DescriptorTargets(b.Pid).Should().Contain("anon_inode:inotify", "nothing but a directory watch can tell that a appeared\n{0}", b.Describe());

        string fifo = Path.Combine(TempDir("fifo"), "release");
        var a = HeldUpstream(dir, "a", fifo);
        // Once a is registered, b moves to its lock and gives its inotify instance back.
        Steps.WaitUntil(() => ThreadNames(b.Pid).Contains("lock watcher a") && !DescriptorTargets(b.Pid).Contains("anon_inode:inotify"),
            "b waits on a's lock and holds no inotify instance");

        File.WriteAllText(fifo, "go\n");
        a.WaitForExit().ExitCode.Should().Be(0);
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
