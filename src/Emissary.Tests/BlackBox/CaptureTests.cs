using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Output capture (issue #4): <c>--stdout-path</c>/<c>--stderr-path</c> copy the command's output
/// into files while it still reaches emissary's own stdout/stderr (the container log), byte-exact
/// and in order; a full or unwritable capture file never costs the console a byte or the command
/// its exit code; a background grandchild holding the pipe does not hold emissary.
///
/// The console is a FIFO the test reads (a container's stdout is a pipe too), so what emissary
/// wrote can be compared byte for byte, and hashed as a stream for large volumes.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class CaptureTests : BlackBoxTest
{
    private const long LargeVolume = 300L * 1024 * 1024;

    // ---- helpers ----

    /// <summary>
    /// The bytes <c>testchild pattern N</c> writes: xorshift64* from 0x9E3779B97F4A7C15, each
    /// 64-bit output little-endian, cut at <paramref name="total"/> bytes.
    /// </summary>
    private static void Pattern(long total, Action<byte[], int> sink)
    {
        ulong x = 0x9E3779B97F4A7C15UL;
        var buffer = new byte[64 * 1024];
        for (long left = total; left > 0;)
        {
            int n = (int)Math.Min(left, buffer.Length);
            for (int i = 0; i < n; i += 8)
            {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(i), x * 0x2545F4914F6CDD1DUL);
            }
            sink(buffer, n);
            left -= n;
        }
    }

    private static byte[] PatternBytes(int total)
    {
        var all = new MemoryStream(total);
        Pattern(total, (b, n) => all.Write(b, 0, n));
        return all.ToArray();
    }

    private static byte[] PatternSha256(long total)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Pattern(total, (b, n) => hash.AppendData(b, 0, n));
        return hash.GetHashAndReset();
    }

    private static byte[] FileSha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20);
        return SHA256.HashData(stream);
    }

    /// <summary>The lines emissary itself wrote (they start with "emissary: ").</summary>
    private static List<string> EmissaryLines(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("emissary: ", StringComparison.Ordinal)).ToList();

    /// <summary>
    /// Starts <c>emissary ARGS</c> with its stdout and/or stderr connected to FIFOs the test reads
    /// (<c>sh -c 'exec "$@" &gt;FIFO 2&gt;FIFO'</c>); a null FIFO leaves that stream to the harness.
    /// </summary>
    private RunningProcess StartEmissaryInto(ConsoleFifo? stdoutFifo, ConsoleFifo? stderrFifo, params string[] args)
    {
        var env = new Dictionary<string, string>();
        string script = "exec \"$@\"";
        if (stdoutFifo is not null)
        {
            env["BB_STDOUT_FIFO"] = stdoutFifo.Path;
            script += " >\"$BB_STDOUT_FIFO\"";
        }
        if (stderrFifo is not null)
        {
            env["BB_STDERR_FIFO"] = stderrFifo.Path;
            script += " 2>\"$BB_STDERR_FIFO\"";
        }
        return Start("/bin/sh", new[] { "-c", script, "sh", EmissaryPath }.Concat(args), env);
    }

    /// <summary>
    /// A FIFO standing in for the container log: a reader thread opens it (blocking until the
    /// writer does), reads to end of file and hashes the stream (keeping the bytes only when asked).
    /// </summary>
    private sealed partial class ConsoleFifo : IDisposable
    {
        public sealed record Contents(long Length, byte[] Sha256, byte[]? Bytes);

        private readonly Task<Contents> _reader;

        /// <param name="pauseFirst">How long to leave the open FIFO unread first (a slow log reader: backpressure).</param>
        public ConsoleFifo(string directory, string name, bool keepBytes, TimeSpan? pauseFirst = null)
        {
            Path = System.IO.Path.Combine(directory, name);
            if (MkFifo(Path, 0x180 /* 0600 */) != 0)
                throw new XunitException($"mkfifo {Path}: errno {Marshal.GetLastPInvokeError()}");
            _reader = Task.Factory.StartNew(() => Read(keepBytes, pauseFirst ?? TimeSpan.Zero), TaskCreationOptions.LongRunning);
        }

        public string Path { get; }

        private Contents Read(bool keepBytes, TimeSpan pauseFirst)
        {
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            if (pauseFirst > TimeSpan.Zero)
                Thread.Sleep(pauseFirst); // the writer fills the FIFO and must wait: that is the point
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var kept = keepBytes ? new MemoryStream() : null;
            var buffer = new byte[1 << 20];
            long total = 0;
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                kept?.Write(buffer, 0, n);
                total += n;
            }
            return new Contents(total, hash.GetHashAndReset(), kept?.ToArray());
        }

        /// <summary>Waits until the writer closed the FIFO (emissary exited) and returns what came through.</summary>
        public Contents WaitForEnd(TimeSpan timeout)
        {
            if (!_reader.Wait(timeout))
            {
                Unblock();
                throw new XunitException($"the console FIFO {Path} was not closed by its writer within {timeout.TotalSeconds} s");
            }
            return _reader.Result;
        }

        /// <summary>A reader still blocked in open(2) (the writer never came) is released by a writer that opens and closes.</summary>
        private void Unblock()
        {
            int fd = Open(Path, 0x1 | 0x800 | 0x80000 /* O_WRONLY|O_NONBLOCK|O_CLOEXEC */, 0);
            if (fd >= 0)
                Close(fd);
        }

        public void Dispose()
        {
            if (!_reader.IsCompleted)
            {
                Unblock();
                try { _reader.Wait(TimeSpan.FromSeconds(5)); }
                catch (AggregateException) { }
            }
        }

        [LibraryImport("libc", EntryPoint = "mkfifo", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int MkFifo(string path, uint mode);

        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int Open(string path, int flags, uint mode);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        private static partial int Close(int fd);
    }

    /// <summary>Unmounts (lazily if busy) when disposed.</summary>
    private sealed class Mount(Action unmount) : IDisposable
    {
        public void Dispose() => unmount();
    }

    /// <summary>Mounts a tmpfs of <paramref name="size"/> on <paramref name="directory"/> (root only); unmounted by Dispose.</summary>
    private Mount MountTmpfs(string directory, string size)
    {
        RequireRoot("mount -t tmpfs");
        var mount = Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", directory);
        if (mount.ExitCode != 0)
            throw new XunitException($"cannot mount a tmpfs on {directory}\n{mount}");
        return new Mount(() =>
        {
            if (Run("umount", directory).ExitCode != 0)
                Run("umount", "-l", directory);
        });
    }

    // ---- byte-exact, in order ----

    [BlackBoxFact(NotUnderQemu = Qemu.SubreaperWarningInRawOutput)]
    public void Stdout_and_stderr_reach_the_console_and_the_files_byte_exact_and_in_order()
    {
        const int Lines = 3000;
        string script =
            $"i=0; while [ $i -lt {Lines} ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done; " +
            "printf 'tail\\000\\377\\376 no newline'; printf 'err-tail\\001\\000' >&2; exit 5";
        var expectedOut = new MemoryStream();
        var expectedErr = new MemoryStream();
        for (int i = 0; i < Lines; i++)
        {
            expectedOut.Write(Encoding.ASCII.GetBytes($"out {i}\n"));
            expectedErr.Write(Encoding.ASCII.GetBytes($"err {i}\n"));
        }
        expectedOut.Write([.. "tail"u8, 0, 0xff, 0xfe, .. " no newline"u8]);
        expectedErr.Write([.. "err-tail"u8, 1, 0]);
        string capture = TempDir("capture");
        string outFile = Path.Combine(capture, "logs", "stdout.log"); // a missing parent directory is created
        string errFile = Path.Combine(capture, "logs", "stderr.log");
        string consoles = TempDir("console");
        using var stdout = new ConsoleFifo(consoles, "stdout", keepBytes: true);
        using var stderr = new ConsoleFifo(consoles, "stderr", keepBytes: true);

        var emissary = StartEmissaryInto(stdout, stderr, "run", "--stdout-path", outFile, "--stderr-path", errFile, "--", "/bin/sh", "-c", script);
        var consoleOut = stdout.WaitForEnd(TimeSpan.FromSeconds(20));
        var consoleErr = stderr.WaitForEnd(TimeSpan.FromSeconds(20));
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(5, "the command's exit code\n{0}", result);
        consoleOut.Bytes.Should().Equal(expectedOut.ToArray(), "emissary's stdout carries the command's stdout byte for byte");
        consoleErr.Bytes.Should().Equal(expectedErr.ToArray(), "emissary's stderr carries the command's stderr byte for byte, and nothing of emissary's own when all goes well");
        File.ReadAllBytes(outFile).Should().Equal(expectedOut.ToArray(), "--stdout-path holds stdout byte for byte");
        File.ReadAllBytes(errFile).Should().Equal(expectedErr.ToArray(), "--stderr-path holds stderr byte for byte");
    }

    [BlackBoxFact]
    public void Three_hundred_megabytes_come_out_of_the_console_and_the_file_identical()
    {
        string file = Path.Combine(TempDir("capture"), "stdout.log");
        using var stdout = new ConsoleFifo(TempDir("console"), "stdout", keepBytes: false);

        var emissary = StartEmissaryInto(stdout, null, "run", "--stdout-path", file, "--", TestChildPath, "pattern", LargeVolume.ToString(CultureInfo.InvariantCulture));
        var console = stdout.WaitForEnd(TimeSpan.FromSeconds(30));
        var result = emissary.WaitForExit(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
        console.Length.Should().Be(LargeVolume, "the console gets every byte");
        new FileInfo(file).Length.Should().Be(LargeVolume, "the file gets every byte");
        byte[] expected = PatternSha256(LargeVolume);
        Convert.ToHexString(console.Sha256).Should().Be(Convert.ToHexString(expected), "the console stream is the command's output, in order");
        Convert.ToHexString(FileSha256(file)).Should().Be(Convert.ToHexString(expected), "the file is the command's output, in order");
    }

    // ---- what must not hold or hurt the command ----

    [BlackBoxTheory]
    [InlineData("sh")]
    [InlineData("testchild")]
    public void A_background_grandchild_holding_the_pipe_does_not_hold_emissary(string how)
    {
        string capture = TempDir("capture");
        string outFile = Path.Combine(capture, "stdout.log");
        string errFile = Path.Combine(capture, "stderr.log");
        string[] command = how == "sh"
            ? ["/bin/sh", "-c", "sleep 3600 & echo \"bg $!\"; echo done"]
            : [TestChildPath, "bg-sleeper", "3600"];
        string lastLine = how == "sh" ? "done" : "fg ready";
        int grandchild = 0;
        try
        {
            var emissary = StartEmissary(["run", "--stdout-path", outFile, "--stderr-path", errFile, "--", .. command]);
            string bg = emissary.WaitForLineStartingWith("bg ");
            grandchild = int.Parse(bg["bg ".Length..], CultureInfo.InvariantCulture);
            // The grandchild holds the pipe for an hour: exiting within the hang guard shows that
            // emissary exits when the command exits, not when the pipe closes.
            var result = emissary.WaitForExit(TimeSpan.FromSeconds(30));

            result.ExitCode.Should().Be(0, "{0}", result);
            result.StdoutLines.Should().Equal(new[] { bg, lastLine }, "{0}", result);
            File.ReadAllText(outFile).Should().Be($"{bg}\n{lastLine}\n", "what was written before is kept in the file");
            ProcTable.Stat(grandchild).Should().NotBeNull("the grandchild is still running: emissary did not wait for it");
        }
        finally
        {
            if (grandchild > 0)
                Libc.Kill(grandchild, Libc.SIGKILL);
        }
    }

    [BlackBoxTheory(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [InlineData("stdout")]
    [InlineData("stderr")]
    public void A_full_file_system_costs_the_file_not_the_console_nor_the_command(string stream)
    {
        const int Volume = 1024 * 1024;
        string small = TempDir("tmpfs");
        using var mount = MountTmpfs(small, "64k");
        string file = Path.Combine(small, $"{stream}.log");
        using var console = new ConsoleFifo(TempDir("console"), stream, keepBytes: true);
        string volume = Volume.ToString(CultureInfo.InvariantCulture);

        var emissary = stream == "stdout"
            ? StartEmissaryInto(console, null, "run", "--stdout-path", file, "--", TestChildPath, "pattern", volume)
            : StartEmissaryInto(null, console, "run", "--stderr-path", file, "--", "/bin/sh", "-c", "exec \"$0\" pattern \"$1\" >&2", TestChildPath, volume);
        var received = console.WaitForEnd(TimeSpan.FromSeconds(20));
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "the command is neither blocked nor killed, and exits 0\n{0}", result);
        byte[] expected = PatternBytes(Volume);
        byte[] bytes = received.Bytes!;
        List<string> lines;
        if (stream == "stdout")
        {
            lines = EmissaryLines(result.Stderr);
            result.Stderr.Trim().Should().Be(string.Join("\n", lines), "nothing else on stderr\n{0}", result);
        }
        else
        {
            // emissary's own lines share the container's stderr with the command's: take them out (each is one write).
            (bytes, lines) = WithoutEmissaryLines(bytes);
            lines.RemoveAll(Qemu.IsEmulatorWarning);
        }
        lines.Should().ContainSingle("exactly one warning: {0}", string.Join(" | ", lines));
        lines[0].Should().Contain("warning").And.Contain(file);
        bytes.Length.Should().Be(Volume, "the console gets all 1 MB");
        bytes.Should().Equal(expected, "the console gets all 1 MB, byte for byte");
        byte[] kept = File.ReadAllBytes(file);
        kept.Length.Should().BeLessThanOrEqualTo(64 * 1024);
        kept.Should().Equal(expected.Take(kept.Length), "what fit into the file is the beginning of the output");
    }

    /// <summary>Cuts every "emissary: ...\n" line out of a binary console stream.</summary>
    private static (byte[] Remainder, List<string> Lines) WithoutEmissaryLines(byte[] console)
    {
        byte[] marker = "emissary: "u8.ToArray();
        var rest = new List<byte>(console.Length);
        var lines = new List<string>();
        int i = 0;
        while (i < console.Length)
        {
            int at = console.AsSpan(i).IndexOf(marker);
            if (at < 0)
            {
                rest.AddRange(console.AsSpan(i).ToArray());
                break;
            }
            rest.AddRange(console.AsSpan(i, at).ToArray());
            int start = i + at;
            int end = console.AsSpan(start).IndexOf((byte)'\n');
            end = end < 0 ? console.Length : start + end + 1;
            lines.Add(Encoding.UTF8.GetString(console, start, end - start).TrimEnd('\n'));
            i = end;
        }
        return (rest.ToArray(), lines);
    }

    [BlackBoxFact]
    public void A_slow_console_gets_everything_byte_exact_and_so_does_the_file()
    {
        const long Volume = 32L * 1024 * 1024;
        string file = Path.Combine(TempDir("capture"), "stdout.log");
        using var stdout = new ConsoleFifo(TempDir("console"), "stdout", keepBytes: false, pauseFirst: TimeSpan.FromSeconds(1));

        var emissary = StartEmissaryInto(stdout, null, "run", "--stdout-path", file, "--", TestChildPath, "pattern", Volume.ToString(CultureInfo.InvariantCulture));
        var console = stdout.WaitForEnd(TimeSpan.FromSeconds(20));
        var result = emissary.WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("backpressure is not a problem to report\n{0}", result);
        byte[] expected = PatternSha256(Volume);
        console.Length.Should().Be(Volume);
        Convert.ToHexString(console.Sha256).Should().Be(Convert.ToHexString(expected), "the console stream is complete and in order");
        Convert.ToHexString(FileSha256(file)).Should().Be(Convert.ToHexString(expected), "the file is complete and in order");
    }

    [BlackBoxTheory]
    [InlineData("stdout")]
    [InlineData("stderr")]
    public void An_unwritable_capture_path_is_a_warning_and_the_output_still_flows(string stream)
    {
        string notADirectory = Path.Combine(TempDir("capture"), "file");
        File.WriteAllText(notADirectory, "x");
        string path = Path.Combine(notADirectory, "sub", $"{stream}.log");

        var result = RunEmissary("run", $"--{stream}-path", path, "--", "/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 4");

        result.ExitCode.Should().Be(4, "the exit code is the command's\n{0}", result);
        AssertNoStackTrace(result);
        result.StdoutLines.Should().Equal(new[] { "to-stdout" }, "{0}", result);
        result.StderrLines.Should().Contain("to-stderr", "{0}", result);
        var lines = EmissaryLines(result.Stderr);
        lines.Should().ContainSingle("one warning\n{0}", result);
        lines[0].Should().Contain("warning").And.Contain(path);
        File.Exists(path).Should().BeFalse();
    }
}
