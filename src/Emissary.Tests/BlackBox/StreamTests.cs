using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// <c>run --stdout-to C</c> / <c>run --stdin-from P</c>: one step's stdout is another's stdin
/// through a pipe that the producer hands over on its socket <c>DIR/P/stdout</c> to the consumer
/// alone, with a shell pipeline's semantics (README, "Streams").
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
    public void Without_capture_the_producers_stdout_and_the_consumers_stdin_are_one_pipe()
    {
        string dir = NewControlDir();
        // readlink's own fd 1 and fd 0 are what the shell was given.
        var producer = Producer(dir, [], "/bin/sh", "-c", "readlink /proc/self/fd/1; echo hello");
        var consumer = Consumer(dir, [], "/bin/sh", "-c", "readlink /proc/self/fd/0 >&2; cat");
        var produced = producer.WaitForExit();
        var consumed = consumer.WaitForExit();
        produced.ExitCode.Should().Be(0, "{0}", produced);
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().HaveCount(2, "{0}", consumed);
        string pipe = consumed.StdoutLines[0];
        pipe.Should().StartWith("pipe:[", "the producer's command writes into a pipe itself, no copy through emissary\n{0}", consumed);
        consumed.StdoutLines[1].Should().Be("hello");
        consumed.StderrLines.Should().Contain(pipe, "the consumer's command reads the same pipe itself\n{0}", consumed);
        File.Exists(Steps.PathOf(dir, "p", "stdout")).Should().BeFalse("the socket is removed once the stream is handed over: nobody else can take it");
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
    public void A_link_a_FIFO_or_a_regular_file_planted_as_the_socket_is_refused()
    {
        foreach (string plant in new[] { "link", "fifo", "file" })
        {
            string dir = NewControlDir();
            Directory.CreateDirectory(Path.Combine(dir, "p"));
            string socket = Steps.PathOf(dir, "p", "stdout");
            string target = Path.Combine(TempDir("target"), "fifo");
            Run("mkfifo", target).ExitCode.Should().Be(0);
            if (plant == "link")
                File.CreateSymbolicLink(socket, target);
            else if (plant == "fifo")
                Run("mkfifo", socket).ExitCode.Should().Be(0);
            else
                File.WriteAllText(socket, "forged\n");
            var consumed = Consumer(dir, [], TestChildPath, "checksum").WaitForExit(TimeSpan.FromSeconds(10));
            consumed.ExitCode.Should().Be(123, "{0}: {1}", plant, consumed);
            consumed.Stderr.Should().Contain("refusing it", "{0}", consumed);
            consumed.StdoutLines.Should().BeEmpty();
        }
    }

    /// <summary>
    /// Issue #22, item 4: the producer's socket removed, or replaced by a link, a FIFO or a regular
    /// file, while the producer waits for its consumer. The FIFO's producer was blocked in open(2)
    /// on a thread that its "knock" (opening the FIFO again by name) could no longer reach: it
    /// ignored --stream-timeout and SIGTERM for ever.
    /// </summary>
    [BlackBoxFact]
    public void A_producer_whose_socket_is_removed_or_replaced_still_ends_on_its_stream_timeout_and_at_once_on_SIGTERM()
    {
        foreach (string plant in new[] { "removed", "link", "fifo", "file" })
        {
            string timedDir = NewControlDir();
            string termDir = NewControlDir();
            var timed = Producer(timedDir, ["--stream-timeout", "2s"], "/bin/sh", "-c", "echo ran");
            var terminated = Producer(termDir, [], "/bin/sh", "-c", "echo ran");
            foreach (string dir in new[] { timedDir, termDir })
            {
                Steps.WaitUntil(() => File.Exists(Steps.PathOf(dir, "p", "stdout")), "the producer's rendezvous");
            }
            Thread.Sleep(300); // well inside the wait for the consumer
            foreach (string dir in new[] { timedDir, termDir })
            {
                string path = Steps.PathOf(dir, "p", "stdout");
                File.Delete(path);
                if (plant == "link")
                    File.CreateSymbolicLink(path, "/dev/null");
                else if (plant == "fifo")
                    Run("mkfifo", path).ExitCode.Should().Be(0);
                else if (plant == "file")
                    File.WriteAllText(path, "planted\n");
            }
            Thread.Sleep(200);
            terminated.Signal(Libc.SIGTERM);
            // Measured from the signal: the process's own Elapsed also counts its start, which
            // under qemu-user on busy cores alone took 2 s.
            TimeSpan untilExit = Steps.TimeUntilExit(terminated, TimeSpan.FromSeconds(5));
            var term = terminated.WaitForExit(TimeSpan.FromSeconds(5));
            term.ExitCode.Should().Be(143, "{0}: SIGTERM ends the wait at once\n{1}", plant, term);
            untilExit.Should().BeLessThan(TimeSpan.FromSeconds(3), "{0}", plant);
            var gaveUp = timed.WaitForExit(TimeSpan.FromSeconds(10));
            gaveUp.ExitCode.Should().Be(125, "{0}: --stream-timeout ends the wait\n{1}", plant, gaveUp);
            AssertOneEmissaryErrorLine(gaveUp);
            gaveUp.Stderr.Should().Contain("--stream-timeout");
            Steps.Status(timedDir, "p")!.StartedAt.Should().BeNull("{0}: the command never started", plant);
        }
    }

    /// <summary>
    /// Issue #22, item 7: another container (another uid, or the same) gets to the producer's
    /// rendezvous before the consumer — connects and closes, sends garbage, forges the claim byte
    /// without being able to write the consumer's claim, or holds the connection open. With the
    /// FIFO, opening and closing it released the producer: its command got SIGPIPE (141) and the
    /// consumer read an empty stream (exit 0), so its dependants ran on nothing. Now the producer
    /// keeps waiting, and the real consumer still gets the whole stream.
    /// </summary>
    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData("close", 1000)]
    [InlineData("garbage", 1000)]
    [InlineData("claim", 1000)]
    [InlineData("hold", 1000)]
    [InlineData("close", 0)]
    [InlineData("garbage", 0)]
    [InlineData("claim", 0)]
    [InlineData("hold", 0)]
    public void Another_container_at_the_rendezvous_before_the_consumer_neither_ends_nor_takes_the_stream(string how, int uid)
    {
        RequireRoot("the intruder runs as another uid (setpriv)");
        string dir = NewControlDir();
        const long bytes = 1_000_000;
        var producer = Producer(dir, [], TestChildPath, "pattern", bytes.ToString());
        string rendezvous = Steps.PathOf(dir, "p", "stdout");
        Steps.WaitUntil(() => File.Exists(rendezvous), "the producer's rendezvous");
        Thread.Sleep(300); // the producer is waiting for its consumer

        string[] intruder = [TestChildPath, "stream-intruder", rendezvous, how, "30"];
        var intrusion = uid == 0 ? Start(intruder[0], intruder[1..])
            : Start("setpriv", ["--reuid", $"{uid}", "--regid", $"{uid}", "--clear-groups", .. intruder]);
        if (how == "hold")
        {
            intrusion.WaitForLine("holding");
        }
        else
        {
            var intruded = intrusion.WaitForExit();
            intruded.ExitCode.Should().Be(0, "{0}", intruded);
            if (how == "claim")
                intruded.StdoutLines.Should().Contain("refused", "a claim byte without the consumer's claim file gets nothing\n{0}", intruded);
        }
        Thread.Sleep(300);
        producer.HasExited.Should().BeFalse("the intruder must not end the producer\n{0}", producer.Describe());
        Steps.Status(dir, "p")!.StartedAt.Should().BeNull("the producer's command waits for its real consumer");

        var consumed = Consumer(dir, [], TestChildPath, "checksum").WaitForExit();
        var produced = producer.WaitForExit();
        produced.ExitCode.Should().Be(0, "{0}", produced);
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal([ExpectedChecksum(bytes)], "the consumer read the whole stream\n{0}", consumed);
        if (!intrusion.HasExited)
        {
            intrusion.Signal(Libc.SIGKILL);
            intrusion.WaitForExit();
        }
    }

    /// <summary>
    /// The per-step layout: the consumer runs as another uid and sees the producer's directory
    /// through a read-only mount (connecting to a socket writes nothing to the file system); the
    /// producer reads the consumer's claim, made by another uid in its own directory.
    /// </summary>
    [BlackBoxFact(Needs = Needs.Root)]
    public void A_consumer_of_another_uid_behind_a_read_only_mount_takes_the_stream()
    {
        RequireRoot("the consumer runs as another uid behind a read-only bind mount (unshare, setpriv)");
        string dir = NewControlDir();
        var producer = Producer(dir, [], TestChildPath, "pattern", "3000000");
        Steps.WaitUntil(() => File.Exists(Steps.PathOf(dir, "p", "stdout")), "the producer's rendezvous");
        string p = Path.Combine(dir, "p");
        var consumer = Start("unshare", "--mount", "/bin/sh", "-c",
            $"mount --bind -o ro '{p}' '{p}' && exec setpriv --reuid 1000 --regid 1000 --clear-groups " +
            $"'{EmissaryPath}' run --name c --control-dir '{dir}' --stdin-from p -- '{TestChildPath}' checksum");
        var consumed = consumer.WaitForExit();
        var produced = producer.WaitForExit();
        produced.ExitCode.Should().Be(0, "{0}", produced);
        consumed.ExitCode.Should().Be(0, "{0}", consumed);
        consumed.StdoutLines.Should().Equal([ExpectedChecksum(3000000)], "{0}", consumed);
        new FileInfo(Steps.PathOf(dir, "c", "stream-claim")).Length.Should().Be(32, "the claim holds the nonce of the consumer's connection");
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
