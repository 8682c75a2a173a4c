using System.Diagnostics;
using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Tekton's cmd/entrypoint/{runner,waiter,post_writer}_test.go and cmd/entrypoint/subcommands/*_test.go,
/// case by case, run against artifacts/entrypoint: Tekton tests its realRunner/realWaiter/realPostWriter
/// and subcommand functions in-process; here the same inputs go through the binary's command line,
/// and the expected outputs are observed as files, exit codes and output. Naming: the Go test
/// function, then two underscores and the case (see Unit/Tekton/Conformance/TektonCommandLineConformanceTests).
/// Tekton's context cancellation maps onto what cancels in a real step: the command ending or
/// <c>-timeout</c> (the wait on <c>/tekton/downward/cancel</c>), and <c>/tekton/downward/cancel</c>
/// getting content (the command). The /tekton root is a temp dir through EMISSARY_TEKTON_ROOT.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TektonCmdConformanceTests : BlackBoxTest
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(5);
    private readonly string _root;

    public TektonCmdConformanceTests()
    {
        _root = TempDir("tekton-cmd");
        foreach (string dir in new[] { "steps", "run/0/status", "downward", "work" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
        File.WriteAllText(Path.Combine(_root, "downward", "cancel"), ""); // the downward file exists, empty until cancel
    }

    private string P(string relative) => Path.Combine(_root, relative);

    private Dictionary<string, string> Env => new() { ["EMISSARY_TEKTON_ROOT"] = _root };

    /// <summary>A step with the given flags (termination and metadata inside the root) and command.</summary>
    private RunningProcess StartStep(string[] flags, params string[] command) => Start(Artifacts.Entrypoint,
        ["-termination_path", P("termination"), "-step_metadata_dir", P("run/0/status"), "-post_file", P("run/0/out"),
         .. flags, "-entrypoint", command[0], "--", .. command[1..]], Env, P("work"));

    private ProcessResult Entrypoint(params string[] args) => Start(Artifacts.Entrypoint, args, Env, P("work")).WaitForExit();

    private static UnixFileMode Octal(string mode) => (UnixFileMode)Convert.ToInt32(mode, 8);

    // ---- runner_test.go ----

    [BlackBoxFact]
    public void TestRealRunnerSignalForwarding()
    {
        // SIGINT to the entrypoint reaches `sleep 3600`, which dies of it: Go's "signal: interrupt", os.Exit(-1) = 255.
        var step = StartStep([], "/bin/sh", "-c", "echo started; exec sleep 3600");
        step.WaitForLine("started");
        var clock = Stopwatch.StartNew();
        step.Signal(2);
        var result = step.WaitForExit();
        clock.Elapsed.Should().BeLessThan(Prompt);
        result.ExitCode.Should().Be(255, result.ToString());
        File.Exists(P("run/0/out.err")).Should().BeTrue();
    }

    [BlackBoxFact]
    public void TestRealRunnerStdoutAndStderrPaths()
    {
        var result = StartStep(["-stdout_path", P("logs/stdout"), "-stderr_path", P("logs/subpath/stderr")],
            "/bin/sh", "-c", "echo hello world && echo hello world >&2").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("hello world");
        result.StderrLines.Should().Contain("hello world");
        File.ReadAllText(P("logs/stdout")).Trim().Should().Be("hello world");
        File.ReadAllText(P("logs/subpath/stderr")).Trim().Should().Be("hello world");
    }

    [BlackBoxFact]
    public void TestRealRunnerStdoutAndStderrSamePath()
    {
        var result = StartStep(["-stdout_path", P("logs"), "-stderr_path", P("logs")],
            "/bin/sh", "-c", "echo hello world && echo hello world >&2").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        new FileInfo(P("logs")).Length.Should().Be(("hello world".Length + 1) * 2, "both streams are appended whole, neither overwrites the other");
    }

    [BlackBoxFact]
    public void TestRealRunnerStdoutPathWithSignal()
    {
        var step = StartStep(["-stdout_path", P("stdout")], "/bin/sh", "-c", "echo hello world && exec sleep 20");
        var deadline = Stopwatch.StartNew();
        while (!(File.Exists(P("stdout")) && new FileInfo(P("stdout")).Length > "hello world".Length) && deadline.Elapsed < Prompt)
            Thread.Sleep(20);
        step.Signal(2);
        var result = step.WaitForExit();
        result.ExitCode.Should().Be(255, result.ToString());
        File.ReadAllText(P("stdout")).Trim().Should().Be("hello world", "what was written before the signal stays in the file");
    }

    [BlackBoxFact]
    public void TestRealRunnerTimeout()
    {
        // Tekton: a 1 ms deadline kills `sleep 0.01` (ErrContextDeadlineExceeded): exit 1, TimeoutExceeded.
        var result = StartStep(["-timeout", "1ms"], "/bin/sleep", "0.01").WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        File.Exists(P("run/0/out.err")).Should().BeTrue();
        TektonMessageChecker.CheckFile(P("termination"))["Reason"].Value.Should().Be("TimeoutExceeded");
    }

    [BlackBoxFact]
    public void TestRealRunnerCancel__cancel_before_cmd_wait()
    {
        File.WriteAllText(P("downward/cancel"), "cancel");
        var clock = Stopwatch.StartNew();
        var result = StartStep([], "/bin/sleep", "30").WaitForExit();
        result.ExitCode.Should().Be(9, result.ToString());
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the command is killed, not waited for (30 s); the bound leaves room for two cores shared with the suite");
        TektonMessageChecker.CheckFile(P("termination"))["Reason"].Value.Should().Be("Cancelled");
    }

    [BlackBoxFact]
    public void TestRealRunnerCancel__cancel_on_cmd_wait()
    {
        var step = StartStep([], "/bin/sh", "-c", "echo started; exec sleep 3");
        step.WaitForLine("started");
        File.WriteAllText(P("downward/cancel"), "cancel");
        var result = step.WaitForExit();
        result.ExitCode.Should().Be(9, result.ToString());
        File.ReadAllText(P("run/0/status/exitCode")).Should().Be("killed");
    }

    [BlackBoxFact]
    public void TestRealRunnerCancel__cancel_after_cmd_wait()
    {
        // The command ends before any cancel: the (empty) cancel file changes nothing.
        var result = StartStep([], "/bin/sleep", "0.2").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        File.Exists(P("run/0/out")).Should().BeTrue();
        TektonMessageChecker.CheckFile(P("termination")).Should().NotContainKey("Reason");
    }

    // ---- waiter_test.go ----

    [BlackBoxFact]
    public void TestRealWaiterWaitMissingFile()
    {
        var step = StartStep(["-wait_file", P("wait")], "/bin/echo", "ran");
        Thread.Sleep(300);
        step.HasExited.Should().BeFalse("the wait file does not exist");
        step.Signal(15);
        var result = step.WaitForExit();
        result.ExitCode.Should().Be(143, result.ToString());
        result.StdoutLines.Should().BeEmpty();
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithFile()
    {
        File.WriteAllText(P("wait"), "");
        var clock = Stopwatch.StartNew();
        var result = StartStep(["-wait_file", P("wait")], "/bin/echo", "ran").WaitForExit();
        clock.Elapsed.Should().BeLessThan(Prompt);
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("ran");
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitMissingContent()
    {
        File.WriteAllText(P("wait"), "");
        var step = StartStep(["-wait_file", P("wait"), "-wait_file_content"], "/bin/echo", "ran");
        Thread.Sleep(300);
        step.HasExited.Should().BeFalse("the wait file is empty");
        step.Signal(15);
        step.WaitForExit().StdoutLines.Should().BeEmpty();
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithContent()
    {
        File.WriteAllText(P("wait"), "");
        var step = StartStep(["-wait_file", P("wait"), "-wait_file_content"], "/bin/echo", "ran");
        Thread.Sleep(100);
        File.WriteAllText(P("wait"), "😺");
        var result = step.WaitForExit(Prompt);
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("ran");
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithErrorWaitfile()
    {
        File.WriteAllText(P("wait.err"), "");
        var result = StartStep(["-wait_file", P("wait")], "/bin/echo", "ran").WaitForExit(Prompt);
        result.ExitCode.Should().Be(1, result.ToString());
        result.StdoutLines.Should().BeEmpty("a failed previous step skips this one (SkipError)");
        result.Stderr.Should().Contain("Skipping step because a previous step failed");
        File.Exists(P("run/0/out.err")).Should().BeTrue();
        TektonMessageChecker.CheckFile(P("termination"))["Reason"].Value.Should().Be("Skipped");
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithBreakpointOnFailure()
    {
        File.WriteAllText(P("wait.err"), "");
        var result = StartStep(["-wait_file", P("wait"), "-breakpoint_on_failure"], "/bin/echo", "ran").WaitForExit(Prompt);
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal(new[] { "ran" }, "with breakpoint_on_failure FILE.err means go on");
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithContextCanceled()
    {
        // The wait on the (empty) cancel file is cancelled when the command ends: the step ends with it.
        var clock = Stopwatch.StartNew();
        var result = StartStep([], "/bin/echo", "ran").WaitForExit();
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "a wait that is not cancelled never ends");
        result.ExitCode.Should().Be(0, result.ToString());
    }

    [BlackBoxFact]
    public void TestRealWaiterWaitWithTimeout()
    {
        // The cancel-file wait ends on the step's deadline too: a timed-out step ends, it does not hang on it.
        var clock = Stopwatch.StartNew();
        var result = StartStep(["-timeout", "300ms"], "/bin/sleep", "20").WaitForExit();
        clock.Elapsed.Should().BeLessThan(Prompt);
        result.ExitCode.Should().Be(1, result.ToString());
        TektonMessageChecker.CheckFile(P("termination"))["Reason"].Value.Should().Be("TimeoutExceeded");
    }

    // TestRealWaiterWaitContextWithBreakpointOnFailure, ...ContextWithErrorWaitfile, ...ContextWithContent and
    // ...ContextMissingFile repeat WithBreakpointOnFailure, WithErrorWaitfile, WithContent and MissingFile
    // with the same inputs (an older API's name): their rows point at the tests above.

    // ---- post_writer_test.go (realPostWriter.Write: the post file, and exitCode with content) ----

    [BlackBoxFact]
    public void TestRealPostWriter_WriteFileContent__write_a_file_content()
    {
        // Tekton writes content through the post writer for STEP_METADATA_DIR/exitCode.
        var result = StartStep(["-on_error", "continue"], "/bin/sh", "-c", "exit 3").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllText(P("run/0/status/exitCode")).Should().Be("3");
    }

    [BlackBoxFact]
    public void TestRealPostWriter_WriteFileContent__write_a_file_without_specifying_any_path()
    {
        var result = Start(Artifacts.Entrypoint, ["-termination_path", P("termination"), "-step_metadata_dir", P("run/0/status"),
            "-entrypoint", "/bin/true", "--"], Env, P("work")).WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        Directory.GetFiles(P("run/0")).Should().BeEmpty("no post file was asked for");
        Directory.GetFiles(P("work")).Should().BeEmpty();
    }

    [BlackBoxFact]
    public void TestRealPostWriter_WriteFileContent__create_an_empty_file()
    {
        var result = StartStep([], "/bin/true").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllBytes(P("run/0/out")).Should().BeEmpty();
    }

    [BlackBoxFact]
    public void TestRealPostWriter_WriteFileContent__create_an_empty_file_in_new_subdirectory()
    {
        var result = Start(Artifacts.Entrypoint, ["-termination_path", P("termination"), "-step_metadata_dir", P("run/0/status"),
            "-post_file", P("dir/sample.txt"), "-entrypoint", "/bin/true", "--"], Env, P("work")).WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllBytes(P("dir/sample.txt")).Should().BeEmpty();
    }

    // ---- Go's encoding/json (encodeState.string): invalid UTF-8 in a result ----

    [BlackBoxTheory]
    [InlineData(677, 0)]
    [InlineData(678, 1)]
    public void Invalid_utf8_in_a_result_counts_as_json_Marshal_writes_it(int badBytes, int exitCode)
    {
        // readResultsFromDisk's write marshals each invalid byte as \ufffd: [{"key":"r","value":"…","type":1}]
        // is 33 + 6 per byte, so 677 bytes fit (4095) and 678 fail (4101, MessageLengthError). One U+FFFD
        // per byte (3 bytes) would let 678 pass. The later write of StartedAt re-marshals what it reads
        // back, as Tekton's does, so the file ends with raw U+FFFD either way.
        Directory.CreateDirectory(P("results"));
        File.WriteAllBytes(P("results/r"), Enumerable.Repeat((byte)0xFF, badBytes).ToArray());
        var result = StartStep(["-results", "r"], "/bin/true").WaitForExit();
        result.ExitCode.Should().Be(exitCode, result.ToString());
        var message = TektonMessageChecker.CheckFile(P("termination"));
        if (exitCode == 0)
            message["r"].Value.Should().Be(new string('\uFFFD', badBytes));
        else
            result.Stderr.Should().Contain("Termination message is above max allowed size 4096");
    }

    // ---- subcommands/cp_test.go ----

    [BlackBoxFact]
    public void TestCp()
    {
        File.WriteAllText(P("foo.txt"), "hello world");
        File.SetUnixFileMode(P("foo.txt"), Octal("700"));
        var result = Entrypoint("cp", P("foo.txt"), P("bar.txt"));
        result.ExitCode.Should().Be(0, result.ToString());
        var info = new FileInfo(P("bar.txt"));
        info.LinkTarget.Should().BeNull();
        (File.GetUnixFileMode(P("bar.txt")) & ~Octal("311")).Should().Be((UnixFileMode)0, "at most dstPermissions 0311");
        File.ReadAllText(P("bar.txt")).Should().Be("hello world");
    }

    [BlackBoxFact]
    public void TestCpMissingFile()
    {
        var result = Entrypoint("cp", P("doesnt-exist.txt"), P("bar.txt"));
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().EndWith($"cp error: open {P("doesnt-exist.txt")}: no such file or directory\n", "os.ErrNotExist");
        File.Exists(P("bar.txt")).Should().BeFalse();
    }

    // ---- subcommands/decode_script_test.go ----

    [BlackBoxFact]
    public void TestDecodeScript()
    {
        File.WriteAllText(P("script.txt"), "IyEvdXNyL2Jpbi9lbnYgc2gKZWNobyAiSGVsbG8gV29ybGQhIgo=");
        File.SetUnixFileMode(P("script.txt"), Octal("600"));
        var result = Entrypoint("decode-script", P("script.txt"));
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllText(P("script.txt")).Should().Be("#!/usr/bin/env sh\necho \"Hello World!\"\n");
        File.GetUnixFileMode(P("script.txt")).Should().Be(Octal("600"));
    }

    [BlackBoxFact]
    public void TestDecodeScriptMissingFileError()
    {
        var result = Entrypoint("decode-script", P("path/to/non-existent/file"));
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().EndWith($"decode-script error: error decoding script file \"{P("path/to/non-existent/file")}\": error reading from script file \"{P("path/to/non-existent/file")}\": open {P("path/to/non-existent/file")}: no such file or directory\n", "os.ErrNotExist in Go's words");
    }

    [BlackBoxFact]
    public void TestDecodeScriptInvalidBase64()
    {
        File.WriteAllText(P("script.txt"), "!");
        var result = Entrypoint("decode-script", P("script.txt"));
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("illegal base64 data at input byte 0", "base64.CorruptInputError(0)");
        File.ReadAllText(P("script.txt")).Should().Be("!", "nothing is written");
    }

    // ---- subcommands/init_test.go, step_init_test.go ----

    private void ShouldHaveStepLinks()
    {
        var links = Directory.GetFileSystemEntries(P("steps")).ToDictionary(l => Path.GetFileName(l)!, l => new FileInfo(l).LinkTarget);
        links.Should().BeEquivalentTo(new Dictionary<string, string?>
        {
            ["a"] = P("run/0/status"), ["0"] = P("run/0/status"), ["b"] = P("run/1/status"), ["1"] = P("run/1/status"),
        });
    }

    [BlackBoxFact]
    public void TestEntrypointInit()
    {
        File.WriteAllText(P("foo.txt"), "hello world");
        File.SetUnixFileMode(P("foo.txt"), Octal("700"));
        Entrypoint("init", P("foo.txt"), P("bar.txt"), "a", "b").ExitCode.Should().Be(0);
        (File.GetUnixFileMode(P("bar.txt")) & ~Octal("311")).Should().Be((UnixFileMode)0);
        var again = Entrypoint("init", P("foo.txt"), P("bar.txt"), "a", "b");
        again.ExitCode.Should().Be(0, "a restarted init container re-runs with the links present: " + again);
        ShouldHaveStepLinks();
    }

    [BlackBoxFact]
    public void TestStepInit()
    {
        Entrypoint("step-init", "a", "b").ExitCode.Should().Be(0);
        var again = Entrypoint("step-init", "a", "b");
        again.ExitCode.Should().Be(0, again.ToString());
        ShouldHaveStepLinks();
    }

    // ---- subcommands/subcommands_test.go ----

    [BlackBoxFact]
    public void TestProcessSuccessfulSubcommands()
    {
        File.WriteAllText(P("foo.txt"), "aGVsbG8gd29ybGQK");
        Entrypoint("cp", P("foo.txt"), P("bar.txt")).ExitCode.Should().Be(0, "cp");
        Entrypoint("decode-script", P("foo.txt")).ExitCode.Should().Be(0, "decode-script");
        File.ReadAllText(P("foo.txt")).Should().Be("hello world\n");
        Entrypoint("step-init").ExitCode.Should().Be(0, "step-init");
        Entrypoint("step-init", "foo", "bar").ExitCode.Should().Be(0, "step-init w/ params");
    }

    [BlackBoxTheory]
    [InlineData("not", "a", "matching", "subcommand")]
    [InlineData]
    [InlineData("cp")]
    [InlineData("cp", "foo.txt", "bar.txt", "baz.txt")]
    [InlineData("decode-script")]
    [InlineData("decode-script", "foo.txt", "bar.txt")]
    public void TestProcessIgnoresNonSubcommands(params string[] positional)
    {
        // Not a subcommand: the arguments after the flags are ignored and the step runs its command.
        var result = Start(Artifacts.Entrypoint, ["-termination_path", P("termination"), "-step_metadata_dir", P("run/0/status"),
            "-entrypoint", "/bin/echo", .. positional, "--", "ran"], Env, P("work")).WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("ran");
        result.Stderr.Should().NotContain(" error:");
    }
}
