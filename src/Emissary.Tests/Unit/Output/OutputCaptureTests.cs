using System.Text;
using Emissary.Interop;
using Emissary.Output;
using Emissary.Logging;

namespace Emissary.Tests.Unit.Output;

/// <summary>
/// OutputCapture against real pipes and files, driven by an epoll loop like the Reactor's. The test
/// thread plays the reactor; a writer thread plays the command (it blocks when the capture pipe is
/// full, which is the backpressure); a reader thread plays whatever reads the container's stdout.
/// </summary>
public sealed class OutputCaptureTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-capture-").FullName;
    private readonly EpollLoop _loop = new();
    private readonly CollectingLogger _logger = new();

    public void Dispose()
    {
        _loop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private OutputCapture Start(CaptureOptions options, ConsolePipe? stdout, ConsolePipe? stderr = null) =>
        OutputCapture.Start(options, _loop.Watch, _logger, stdout?.WriteEnd ?? -1, stderr?.WriteEnd ?? -1)!;

    /// <summary>Runs the loop while <paramref name="command"/> writes, then finishes the capture.</summary>
    private void Run(OutputCapture capture, Action command)
    {
        var child = Task.Factory.StartNew(command, TaskCreationOptions.LongRunning);
        _loop.RunUntil(() => child.IsCompleted, Patience).Should().BeTrue("the command's writes complete while the loop runs");
        child.GetAwaiter().GetResult();
        capture.Finish();
    }

    [Fact]
    public void Captures_nothing_when_no_file_and_no_result_is_asked_for()
    {
        OutputCapture.Start(new CaptureOptions(null, null, false, 0), _loop.Watch, NullLogger.Instance, 1, 2).Should().BeNull();
    }

    [Fact]
    public void Captures_only_the_streams_asked_for()
    {
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(null, Path.Join(_dir, "err"), false, 0), console, console);

        capture.ChildStdout.Should().Be(-1, "stdout is inherited untouched");
        capture.ChildStderr.Should().BeGreaterThan(2);
        capture.StdoutForResult.Should().BeNull();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(65536)]
    [InlineData(3_000_001)]
    public void Passes_stdout_through_and_into_the_file_complete_in_order_and_byte_exact(int length)
    {
        byte[] data = Fds.Data(length);
        string file = Path.Join(_dir, "out", "nested", "stdout.log");
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(file, null, false, 0), console);

        Run(capture, () =>
        {
            var random = new Random(7);
            for (int offset = 0; offset < data.Length;)
            {
                int n = Math.Min(random.Next(1, 100_000), data.Length - offset);
                Fds.WriteAll(capture.ChildStdout, data.AsSpan(offset, n));
                offset += n;
            }
        });

        console.Complete().Should().Equal(data);
        File.ReadAllBytes(file).Should().Equal(data);
        _logger.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void The_command_gets_a_256_KiB_capture_pipe_when_its_output_is_copied()
    {
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(Path.Join(_dir, "out"), null, false, 0), console);

        // Four times the default: the command blocks, and wakes emissary, four times less often.
        Libc.Fcntl(capture.ChildStdout, Libc.F_GETPIPE_SZ, 0).Should().Be(256 * 1024);
    }

    [Fact]
    public void Applies_backpressure_to_the_command_when_the_console_reads_slowly_and_loses_nothing()
    {
        byte[] data = Fds.Data(1_000_000, seed: 2);
        string file = Path.Join(_dir, "stdout.log");
        using var console = new ConsolePipe(capacity: 4096, delayPerRead: TimeSpan.FromMilliseconds(1));
        using OutputCapture capture = Start(new CaptureOptions(file, null, true, 100), console);

        Run(capture, () =>
        {
            for (int offset = 0; offset < data.Length; offset += 1000)
            {
                Fds.WriteAll(capture.ChildStdout, data.AsSpan(offset, 1000));
            }
        });

        console.Complete().Should().Equal(data);
        File.ReadAllBytes(file).Should().Equal(data);
        capture.StdoutForResult.Should().Equal(data[..101]);
    }

    [Fact]
    public void Keeps_the_first_limit_plus_one_bytes_of_stdout_for_a_result()
    {
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(null, null, true, 10), console);

        Run(capture, () => Fds.WriteAll(capture.ChildStdout, "0123456789ABCDEF\n"u8));

        capture.StdoutForResult.Should().Equal("0123456789A"u8.ToArray(), "limit + 1 bytes show that it is too large");
        Encoding.UTF8.GetString(console.Complete()).Should().Be("0123456789ABCDEF\n");
    }

    [Fact]
    public void Keeps_all_of_a_short_stdout_for_a_result()
    {
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(null, null, true, 4096), console);

        Run(capture, () => Fds.WriteAll(capture.ChildStdout, "sha256:abc\n"u8));

        capture.StdoutForResult.Should().Equal("sha256:abc\n"u8.ToArray());
        console.Complete().Should().Equal("sha256:abc\n"u8.ToArray());
    }

    [Fact]
    public void Captures_stdout_and_stderr_into_separate_files_and_consoles()
    {
        using var stdoutConsole = new ConsolePipe();
        using var stderrConsole = new ConsolePipe();
        string outFile = Path.Join(_dir, "out"), errFile = Path.Join(_dir, "err");
        using OutputCapture capture = Start(new CaptureOptions(outFile, errFile, false, 0), stdoutConsole, stderrConsole);

        Run(capture, () =>
        {
            for (int i = 0; i < 1000; i++)
            {
                Fds.WriteAll(capture.ChildStdout, Encoding.ASCII.GetBytes($"out {i}\n"));
                Fds.WriteAll(capture.ChildStderr, Encoding.ASCII.GetBytes($"err {i}\n"));
            }
        });

        string expectedOut = string.Concat(Enumerable.Range(0, 1000).Select(i => $"out {i}\n"));
        string expectedErr = string.Concat(Enumerable.Range(0, 1000).Select(i => $"err {i}\n"));
        Encoding.ASCII.GetString(stdoutConsole.Complete()).Should().Be(expectedOut);
        Encoding.ASCII.GetString(stderrConsole.Complete()).Should().Be(expectedErr);
        File.ReadAllText(outFile).Should().Be(expectedOut);
        File.ReadAllText(errFile).Should().Be(expectedErr);
    }

    [Fact]
    public void Shares_one_file_when_stdout_and_stderr_name_the_same_file_so_neither_overwrites_the_other()
    {
        using var stdoutConsole = new ConsolePipe();
        using var stderrConsole = new ConsolePipe();
        string file = Path.Join(_dir, "combined.log");
        using OutputCapture capture = Start(new CaptureOptions(file, Path.Join(_dir, ".", "combined.log"), false, 0), stdoutConsole, stderrConsole);

        // One thread writes both, in order; each write is small enough never to block.
        Fds.WriteAll(capture.ChildStdout, "first line on stdout\n"u8);
        _loop.RunUntil(() => new FileInfo(file).Length == 21, Patience).Should().BeTrue();
        Fds.WriteAll(capture.ChildStderr, "then stderr\n"u8);
        _loop.RunUntil(() => new FileInfo(file).Length == 33, Patience).Should().BeTrue();
        capture.Finish();

        File.ReadAllText(file).Should().Be("first line on stdout\nthen stderr\n");
    }

    [Fact]
    public void A_capture_file_that_fills_up_is_dropped_with_one_warning_and_the_console_still_gets_everything()
    {
        byte[] data = Fds.Data(300_000, seed: 3);
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions("/dev/full", null, false, 0), console);

        Run(capture, () => Fds.WriteAll(capture.ChildStdout, data));

        console.Complete().Should().Equal(data);
        _logger.Warnings.Should().ContainSingle().Which.Should().Be(
            "cannot write the captured stdout to /dev/full: No space left on device; the rest goes only to the container's log");
    }

    [Fact]
    public void A_capture_file_that_cannot_be_opened_is_one_warning_and_output_still_flows()
    {
        string file = Path.Join("/proc/version", "x.log"); // under a file: ENOTDIR even for root
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(file, null, false, 0), console);

        Run(capture, () => Fds.WriteAll(capture.ChildStdout, "hello\n"u8));

        console.Complete().Should().Equal("hello\n"u8.ToArray());
        _logger.Warnings.Should().ContainSingle().Which.Should().Be($"cannot open {file} to capture stdout: Not a directory; the output still goes to the container's log");
    }

    [Fact]
    public void A_closed_console_gives_the_command_a_broken_pipe_and_the_file_what_it_wrote_before()
    {
        // `emissary run --stdout-path F -- yes | head`: without capture the command gets SIGPIPE;
        // with it, it must too, not run on into the file. (The test host ignores SIGPIPE: EPIPE.)
        byte[] data = Fds.Data(4_000_000, seed: 4);
        string file = Path.Join(_dir, "stdout.log");
        using var console = new ConsolePipe(read: false);
        console.Break();
        using OutputCapture capture = Start(new CaptureOptions(file, null, true, 5), console);

        Errno written = Errno.EIO;
        Run(capture, () => written = Libc.WriteAll(capture.ChildStdout, data));

        written.Should().Be(Errno.EPIPE, "the command's pipe has no reader left once the console is gone");
        byte[] kept = File.ReadAllBytes(file);
        kept.Length.Should().BeGreaterThan(0).And.BeLessThan(data.Length);
        kept.Should().Equal(data[..kept.Length], "what the command wrote before the hang-up is in the file, in order");
        capture.StdoutForResult.Should().Equal(data[..6]);
        _logger.Warnings.Should().ContainSingle().Which.Should().Be(
            $"the container's stdout is closed (broken pipe): the command gets a broken pipe on its next write to it, as without capture; what it wrote until now is in {file}");
    }

    [Fact]
    public void A_console_that_breaks_midway_stops_the_command_and_the_file_keeps_everything_before()
    {
        byte[] data = Fds.Data(2_000_000, seed: 5);
        string file = Path.Join(_dir, "stdout.log");
        using var console = new ConsolePipe(capacity: 4096, read: false);
        using OutputCapture capture = Start(new CaptureOptions(file, null, false, 0), console);

        Errno written = Errno.EIO;
        var child = Task.Factory.StartNew(() => written = Libc.WriteAll(capture.ChildStdout, data), TaskCreationOptions.LongRunning);
        _loop.RunUntil(() => false, TimeSpan.FromMilliseconds(200)); // the console is full: the command blocks
        child.IsCompleted.Should().BeFalse("the command is held back by the full console");
        long before = new FileInfo(file).Length;
        console.Break();
        _loop.RunUntil(() => child.IsCompleted, Patience).Should().BeTrue("the blocked write fails once the console is gone");
        capture.Finish();

        written.Should().Be(Errno.EPIPE);
        byte[] kept = File.ReadAllBytes(file);
        kept.Length.Should().BeGreaterThanOrEqualTo((int)before).And.BeLessThan(data.Length);
        kept.Should().Equal(data[..kept.Length]);
    }

    [Fact]
    public void A_console_that_rejects_writes_otherwise_is_dropped_and_the_file_still_gets_everything()
    {
        // /dev/full: ENOSPC on every write. Not a closed reader: the command goes on, into the file.
        byte[] data = Fds.Data(500_000, seed: 6);
        string file = Path.Join(_dir, "stdout.log");
        int full = Libc.Open("/dev/full", Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
        full.Should().BeGreaterThan(2);
        try
        {
            using OutputCapture capture = OutputCapture.Start(new CaptureOptions(file, null, false, 0), _loop.Watch, _logger, full, -1)!;

            Run(capture, () => Fds.WriteAll(capture.ChildStdout, data));

            File.ReadAllBytes(file).Should().Equal(data);
            _logger.Warnings.Should().ContainSingle().Which.Should().StartWith("the container's stdout cannot be written (");
        }
        finally
        {
            Libc.Close(full);
        }
    }

    [Fact]
    public void Finish_does_not_wait_for_a_background_process_that_keeps_the_pipe_open()
    {
        // Argo #6375: `cmd & exit 0` leaves a grandchild holding stdout.
        string file = Path.Join(_dir, "stdout.log");
        using var console = new ConsolePipe();
        using OutputCapture capture = Start(new CaptureOptions(file, null, false, 0), console);
        using SafeFd grandchild = Fds.Dup(capture.ChildStdout);

        Fds.WriteAll(capture.ChildStdout, "written before exit\n"u8);
        var finish = () => capture.Finish();

        finish.ExecutionTime().Should().BeLessThan(TimeSpan.FromSeconds(5), "the grandchild holds the pipe forever");
        File.ReadAllText(file).Should().Be("written before exit\n");
        capture.ChildStdout.Should().Be(-1);
        _loop.Registrations.Should().Be(0, "nothing is watched after Finish");
        grandchild.Dispose();
        console.Complete().Should().Equal("written before exit\n"u8.ToArray());
    }

    [Fact]
    public void Finish_waits_a_bounded_time_for_a_stuck_console_then_keeps_the_rest_in_the_file()
    {
        byte[] data = Fds.Data(60_000, seed: 6);
        string file = Path.Join(_dir, "stdout.log");
        using var console = new ConsolePipe(capacity: 4096, read: false);
        using OutputCapture capture = Start(new CaptureOptions(file, null, false, 0), console);
        Fds.WriteAll(capture.ChildStdout, data); // fits in the 64 KiB capture pipe: the "command" has exited

        var finish = () => capture.Finish(TimeSpan.FromMilliseconds(300));

        finish.ExecutionTime().Should().BeLessThan(TimeSpan.FromSeconds(5));
        File.ReadAllBytes(file).Should().Equal(data);
        _logger.Warnings.Should().ContainSingle().Which.Should().StartWith("the container's stdout did not take the last bytes");
    }

}

/// <summary>Counts the process's descriptors, so it must not run next to other tests.</summary>
[CollectionDefinition(nameof(DescriptorCounting), DisableParallelization = true)]
public sealed class DescriptorCounting;

[Collection(nameof(DescriptorCounting))]
public sealed class OutputCaptureDescriptorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-capture-fds-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Closes_every_descriptor_it_opened()
    {
        using var loop = new EpollLoop();
        using var stdout = new ConsolePipe();
        using var stderr = new ConsolePipe();
        // Descriptors by what they refer to, not by count: a finalizer of an earlier test closing
        // its handles on another thread changes the count while this test runs.
        HashSet<string> before = Fds.OpenFileIdentities();
        HashSet<string> opened;

        using (OutputCapture capture = OutputCapture.Start(new CaptureOptions(Path.Join(_dir, "o"), Path.Join(_dir, "e"), true, 10), loop.Watch, new CollectingLogger(), stdout.WriteEnd, stderr.WriteEnd)!)
        {
            opened = Fds.OpenFileIdentities();
            opened.ExceptWith(before);
            opened.Should().Contain(i => i.StartsWith("pipe:", StringComparison.Ordinal), "the capture's own pipes are open while it runs");
            Fds.WriteAll(capture.ChildStdout, "x"u8);
            Fds.WriteAll(capture.ChildStderr, "y"u8);
            loop.RunUntil(() => File.ReadAllText(Path.Join(_dir, "e")) == "y", TimeSpan.FromSeconds(30)).Should().BeTrue();
            capture.Finish();
            capture.StdoutForResult.Should().Equal("x"u8.ToArray());
        }

        Fds.OpenFileIdentities().Intersect(opened).Should().BeEmpty("every descriptor the capture opened is closed");
        loop.Registrations.Should().Be(0);
    }
}

/// <summary>Consoles that reject splice: read/write after poll, still with backpressure and nothing lost.</summary>
public sealed class OutputCaptureConsoleKindTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-capture-kinds-").FullName;
    private readonly EpollLoop _loop = new();
    private readonly CollectingLogger _logger = new();

    public void Dispose()
    {
        _loop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private void Pass(int console, byte[] data, string file)
    {
        using OutputCapture capture = OutputCapture.Start(new CaptureOptions(file, null, true, 3), _loop.Watch, _logger, console, -1)!;
        var child = Task.Factory.StartNew(() =>
        {
            for (int offset = 0; offset < data.Length; offset += 10_000)
            {
                Fds.WriteAll(capture.ChildStdout, data.AsSpan(offset, Math.Min(10_000, data.Length - offset)));
            }
        }, TaskCreationOptions.LongRunning);
        _loop.RunUntil(() => child.IsCompleted, TimeSpan.FromSeconds(60)).Should().BeTrue();
        capture.Finish(TimeSpan.FromSeconds(30));
        capture.StdoutForResult.Should().Equal(data[..4]);
    }

    [Fact]
    public void A_socket_console_with_a_slow_reader_gets_everything_in_order()
    {
        byte[] data = Fds.Data(1_000_000, seed: 11);
        (SafeFd console, SafeFd reader) = OtherConsoles.Socket();
        using (console)
        using (reader)
        {
            Func<byte[]> received = OtherConsoles.StartReading(reader, data.Length, TimeSpan.FromMilliseconds(1));
            string file = Path.Join(_dir, "out");

            Pass(console.Fd, data, file);

            received().Should().Equal(data);
            File.ReadAllBytes(file).Should().Equal(data);
            _logger.Warnings.Should().BeEmpty();
        }
    }

    [Fact]
    public void A_terminal_console_gets_everything_in_order()
    {
        byte[] data = Fds.Data(300_000, seed: 12);
        (SafeFd console, SafeFd master) = OtherConsoles.Terminal();
        using (console)
        using (master)
        {
            Func<byte[]> received = OtherConsoles.StartReading(master, data.Length);
            string file = Path.Join(_dir, "out");

            Pass(console.Fd, data, file);

            received().Should().Equal(data);
            File.ReadAllBytes(file).Should().Equal(data);
            _logger.Warnings.Should().BeEmpty();
        }
    }

    [Fact]
    public void A_console_file_opened_for_appending_rejects_splice_and_still_gets_everything()
    {
        byte[] data = Fds.Data(500_000, seed: 13);
        string consolePath = Path.Join(_dir, "console");
        File.WriteAllText(consolePath, "before|");
        using var console = new SafeFd(Libc.Open(consolePath, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CLOEXEC, 0));
        string file = Path.Join(_dir, "out");

        Pass(console.Fd, data, file);

        File.ReadAllBytes(consolePath).Should().Equal([.. "before|"u8.ToArray(), .. data]);
        File.ReadAllBytes(file).Should().Equal(data);
    }

    [Fact]
    public void With_no_console_at_all_the_file_gets_everything()
    {
        byte[] data = Fds.Data(500_000, seed: 14);
        string file = Path.Join(_dir, "out");

        Pass(-1, data, file);

        File.ReadAllBytes(file).Should().Equal(data);
        _logger.Warnings.Should().BeEmpty();
    }
}
