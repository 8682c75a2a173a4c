using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// <c>run --stdout-to C</c> / <c>run --stdin-from P</c>: one step's stdout is another's stdin
/// through the FIFO <c>DIR/P/stdout</c>, with a shell pipeline's semantics (README, "Streams").
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class StreamTests : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private RunningProcess Step(string dir, string name, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, .. flags, "--", .. command]);

    private RunningProcess Producer(string dir, string[] flags, params string[] command) =>
        Step(dir, "p", ["--stdout-to", "c", .. flags], command);

    private RunningProcess Consumer(string dir, string[] flags, params string[] command) =>
        Step(dir, "c", ["--stdin-from", "p", .. flags], command);

    /// <summary>What <c>testchild checksum</c> prints for <c>testchild pattern BYTES</c> through a shell pipe.</summary>
    private string ExpectedChecksum(long bytes)
    {
        var reference = Run("/bin/sh", "-c", $"testchild pattern {bytes} | testchild checksum");
        reference.ExitCode.Should().Be(0, "{0}", reference);
        return reference.StdoutLines.Single();
    }

    private static string ExitCodeFile(string dir, string step) => File.ReadAllText(Steps.PathOf(dir, step, "exitcode")).Trim();

    [BlackBoxFact]
    public void Bytes_stream_byte_exact_from_a_producer_started_first_and_both_steps_run_side_by_side()
    {
        string dir = NewControlDir();
        const long bytes = 64L << 20;
        var producer = Producer(dir, [], TestChildPath, "pattern", bytes.ToString());
        Steps.WaitForStatus(dir, "p", s => s.State == "waiting", "the producer waiting for its consumer");
        var consumer = Consumer(dir, [], TestChildPath, "checksum");

        var consumed = consumer.WaitForExit();
        var produced = producer.WaitForExit();
        produced.ExitCode.Should().Be(0, "{0}", produced);
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal([ExpectedChecksum(bytes)], "the consumer read exactly what the producer wrote\n{0}", consumed);
        produced.StdoutLines.Should().BeEmpty("the producer's stdout went into the stream, not to emissary's stdout");

        var p = Steps.Status(dir, "p")!;
        var c = Steps.Status(dir, "c")!;
        c.StartedAt!.Value.Should().BeBefore(p.FinishedAt!.Value, "the consumer runs while the producer does, not after it");
        p.StartedAt!.Value.Should().BeBefore(c.FinishedAt!.Value);
    }

    [BlackBoxFact]
    public void A_consumer_started_first_waits_for_the_producer_and_reads_everything()
    {
        string dir = NewControlDir();
        var consumer = Consumer(dir, ["--log-level", "debug"], TestChildPath, "checksum");
        consumer.WaitForStderr("waiting for step 'p' to start streaming");
        consumer.HasExited.Should().BeFalse();
        Thread.Sleep(200);
        consumer.HasExited.Should().BeFalse("no writer yet must not read as EOF\n{0}", consumer.Describe());

        var producer = Producer(dir, [], TestChildPath, "pattern", "1000000");
        producer.WaitForExit().ExitCode.Should().Be(0);
        var consumed = consumer.WaitForExit();
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal([ExpectedChecksum(1000000)], "{0}", consumed);
    }

    [BlackBoxFact]
    public void Without_capture_the_producers_stdout_is_the_FIFO_and_the_consumers_stdin_is_the_FIFO()
    {
        string dir = NewControlDir();
        // readlink's own fd 1 and fd 0 are what the shell was given.
        var producer = Producer(dir, [], "/bin/sh", "-c", "readlink /proc/self/fd/1; echo hello");
        var consumer = Consumer(dir, [], "/bin/sh", "-c", "readlink /proc/self/fd/0 >&2; cat");
        var produced = producer.WaitForExit();
        var consumed = consumer.WaitForExit();
        produced.ExitCode.Should().Be(0, "{0}", produced);
        string fifo = Path.GetFullPath(Steps.PathOf(dir, "p", "stdout"));
        consumed.StdoutLines.Should().Equal([fifo, "hello"], "the producer's command writes into the FIFO itself, no copy through emissary\n{0}", consumed);
        consumed.StderrLines.Should().Contain(fifo, "the consumer's command reads the FIFO itself\n{0}", consumed);
        new FileInfo(fifo).UnixFileMode.Should().Be((UnixFileMode)0b110_100_100, "0644: another uid may open it for reading");
    }

    [BlackBoxFact]
    public void A_captured_producer_still_streams_and_the_capture_file_gets_the_same_bytes()
    {
        string dir = NewControlDir();
        string file = Path.Combine(TempDir("cap"), "out");
        var producer = Producer(dir, ["--stdout-path", file], TestChildPath, "pattern", "3000000");
        var consumer = Consumer(dir, [], TestChildPath, "checksum");
        producer.WaitForExit().ExitCode.Should().Be(0);
        var consumed = consumer.WaitForExit();
        string expected = ExpectedChecksum(3000000);
        consumed.StdoutLines.Should().Equal([expected], "{0}", consumed);
        Run("/bin/sh", "-c", $"testchild checksum < '{file}'").StdoutLines.Should().Equal([expected]);
    }

    [BlackBoxFact]
    public void A_consumer_that_exits_early_gives_the_producer_SIGPIPE()
    {
        string dir = NewControlDir();
        var producer = Producer(dir, [], TestChildPath, "pattern", (1L << 30).ToString());
        var consumer = Consumer(dir, [], TestChildPath, "read-bytes", "10");
        var consumed = consumer.WaitForExit();
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal(["read 10"]);
        var produced = producer.WaitForExit();
        produced.ExitCode.Should().Be(141, "the producer's next write got SIGPIPE, as in `yes | head -c 10`\n{0}", produced);
        Steps.Status(dir, "p")!.State.Should().Be("failed");
        ExitCodeFile(dir, "p").Should().Be("141");
    }

    [BlackBoxFact]
    public void A_producer_killed_by_SIGKILL_gives_the_consumer_EOF_after_its_failure_is_recorded()
    {
        string dir = NewControlDir();
        var producer = Producer(dir, [], "/bin/sh", "-c", "echo partial; kill -KILL $$");
        // What the consumer sees at EOF: the producer's outcome is already in the control directory.
        var consumer = Consumer(dir, [], "/bin/sh", "-c", "cat; cat \"$EMISSARY_CONTROL_DIR/p/exitcode\"");
        var produced = producer.WaitForExit();
        produced.ExitCode.Should().Be(137, "{0}", produced);
        var consumed = consumer.WaitForExit();
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal(["partial", "137"], "EOF comes once the producer has recorded its exit code\n{0}", consumed);
        Steps.Status(dir, "p")!.State.Should().Be("failed");
    }

    [BlackBoxFact]
    public void A_producer_whose_consumer_never_comes_gives_up_after_the_stream_timeout()
    {
        string dir = NewControlDir();
        var producer = Producer(dir, ["--stream-timeout", "1s"], "/bin/sh", "-c", "echo ran");
        var produced = producer.WaitForExit(TimeSpan.FromSeconds(10));
        produced.ExitCode.Should().Be(125, "{0}", produced);
        AssertOneEmissaryErrorLine(produced);
        produced.Stderr.Should().Contain("step 'c'").And.Contain("--stream-timeout");
        Steps.Status(dir, "p")!.StartedAt.Should().BeNull("the command never started");
    }

    [BlackBoxFact]
    public void A_producer_whose_consumer_is_skipped_ends_at_once_without_starting_its_command()
    {
        string dir = NewControlDir();
        var producer = Producer(dir, [], "/bin/sh", "-c", "echo ran");
        Steps.WaitForStatus(dir, "p", s => s.State == "waiting", "the producer waiting");
        Run(EmissaryPath, "run", "--name", "up", "--control-dir", dir, "--", "/bin/sh", "-c", "exit 4").ExitCode.Should().Be(4);
        var consumed = Consumer(dir, ["--after", "up"], TestChildPath, "checksum").WaitForExit();
        consumed.ExitCode.Should().Be(123, "{0}", consumed);
        var produced = producer.WaitForExit(TimeSpan.FromSeconds(10));
        produced.ExitCode.Should().Be(141, "{0}", produced);
        produced.Stderr.Should().Contain("step 'c' ended without reading the stream");
        Steps.Status(dir, "p")!.StartedAt.Should().BeNull("the command never started");
    }

    [BlackBoxFact]
    public void A_consumer_whose_producer_is_skipped_is_skipped()
    {
        string dir = NewControlDir();
        var consumer = Consumer(dir, [], TestChildPath, "checksum");
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "the consumer waiting");
        Run(EmissaryPath, "run", "--name", "up", "--control-dir", dir, "--", "/bin/sh", "-c", "exit 4").ExitCode.Should().Be(4);
        var produced = Producer(dir, ["--after", "up"], TestChildPath, "pattern", "10").WaitForExit();
        produced.ExitCode.Should().Be(123, "{0}", produced);
        var consumed = consumer.WaitForExit();
        consumed.ExitCode.Should().Be(123, "{0}", consumed);
        consumed.Stderr.Should().Contain("step 'p' was skipped");
    }

    [BlackBoxFact]
    public void SIGTERM_ends_a_waiting_consumer_and_a_waiting_producer()
    {
        string dir = NewControlDir();
        var consumer = Step(dir, "c", ["--stdin-from", "x"], TestChildPath, "checksum");
        var producer = Step(dir, "p", ["--stdout-to", "y"], TestChildPath, "pattern", "10");
        Steps.WaitForStatus(dir, "c", s => s.State == "waiting", "the consumer waiting");
        Steps.WaitForStatus(dir, "p", s => s.State == "waiting", "the producer waiting");
        Thread.Sleep(100);
        consumer.Signal(Libc.SIGTERM);
        producer.Signal(Libc.SIGTERM);
        consumer.WaitForExit(TimeSpan.FromSeconds(5)).ExitCode.Should().Be(143);
        producer.WaitForExit(TimeSpan.FromSeconds(5)).ExitCode.Should().Be(143);
    }

    [BlackBoxFact]
    public void A_link_or_a_regular_file_planted_as_the_FIFO_is_refused()
    {
        foreach (string plant in new[] { "link", "file" })
        {
            string dir = NewControlDir();
            Directory.CreateDirectory(Path.Combine(dir, "p"));
            string target = Path.Combine(TempDir("target"), "fifo");
            Run("mkfifo", target).ExitCode.Should().Be(0);
            if (plant == "link")
                File.CreateSymbolicLink(Steps.PathOf(dir, "p", "stdout"), target);
            else
                File.WriteAllText(Steps.PathOf(dir, "p", "stdout"), "forged\n");
            var consumed = Consumer(dir, [], TestChildPath, "checksum").WaitForExit(TimeSpan.FromSeconds(10));
            consumed.ExitCode.Should().Be(123, "{0}", consumed);
            consumed.Stderr.Should().Contain("refusing it", "{0}", consumed);
            consumed.StdoutLines.Should().BeEmpty();
        }
    }

    [BlackBoxFact]
    public void Stream_flags_are_checked_before_anything_runs()
    {
        string dir = NewControlDir();
        foreach (string[] flags in new[]
        {
            new[] { "--stdin-from", "p" },
            new[] { "--name", "c", "--stdin-from", "c" },
            new[] { "--name", "c", "--stdin-from", "p", "--retries", "2" },
            new[] { "--name", "p", "--stream-timeout", "1s" },
            new[] { "--name", "p", "--stdout-to", "bad/name" },
        })
        {
            var result = RunEmissary(["run", "--control-dir", dir, .. flags, "--", "/bin/true"]);
            result.ExitCode.Should().Be(125, "{0}", result);
            AssertOneEmissaryErrorLine(result);
        }
    }
}
