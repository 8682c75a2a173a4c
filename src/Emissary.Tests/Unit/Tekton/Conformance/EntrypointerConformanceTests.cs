using Emissary.Events;
using Emissary.Supervision;
using Emissary.Tekton;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's pkg/entrypoint/entrypointer_test.go (tektoncd/pipeline main, 2026-08-20), the cases
/// about Go()'s outcome, ported as facts (inputs and expected outputs) onto <see cref="TektonStep"/>
/// through the fakes of our seams. Naming convention: the test method is named exactly as the Go
/// test function, and each Go case is one row whose first argument is the case's desc/name verbatim,
/// so a result reads <c>TestEntrypointerFailures(desc: "failing runner with postFile")</c>. Where
/// Go's Entrypointer returns an error, we assert <see cref="TektonStep.Failure"/> (what our Go()
/// returns) and the exit code main.go makes of it. Rows: docs/tekton-conformance/entrypointer.md.
/// </summary>
public sealed class EntrypointerConformanceTests : EntrypointerHarness
{
    public static TheoryData<string> FailuresCases =>
    [
        "failing runner with postFile", "failing waiter with no postFile", "failing waiter with postFile",
        "negative timeout", "zero timeout string does not time out", "timeout leads to runner",
    ];

    [Theory]
    [MemberData(nameof(FailuresCases))]
    public void TestEntrypointerFailures(string desc)
    {
        // fakeErrorRunner/fakeZeroTimeoutRunner/fakeTimeoutRunner fail with "runner failed": an error that is not an exit status.
        (string postFile, string[] waitFiles, bool errorWaiter, TimeSpan timeout, string expectedError) = desc switch
        {
            "failing runner with postFile" => ("foo", Array.Empty<string>(), false, TimeSpan.Zero, "runner failed"),
            "failing waiter with no postFile" => ("", ["foo"], true, TimeSpan.Zero, "waiter failed"),
            "failing waiter with postFile" => ("bar", ["foo"], true, TimeSpan.Zero, "waiter failed"),
            "negative timeout" => ("", [], false, TimeSpan.FromSeconds(-10), "negative timeout specified"),
            "zero timeout string does not time out" => ("", [], false, TimeSpan.Zero, "runner failed"),
            "timeout leads to runner" => ("", [], false, TimeSpan.FromMilliseconds(1), "runner failed"),
            _ => throw new ArgumentException(desc),
        };
        var waiter = Waiter(errorWaiter ? new WaitOutcome(WaitVerdict.Failed, Problem: "waiter failed") : null);
        var runner = Runner(null, launchError: "runner failed");
        var post = PostWriter();

        (int exitCode, TektonStep step) = Go(Options(o => o with { WaitFiles = waitFiles, PostFile = postFile, Timeout = timeout }),
            waiter, runner, post, ["echo", "some", "args"]);

        step.Failure.Should().Be(new StepFailure.Other(expectedError));
        exitCode.Should().Be(1, "main.go's log.Fatalf");
        post.Wrote.Should().Be(postFile.Length > 0 ? postFile + ".err" : null);
        if (desc == "zero timeout string does not time out")
        {
            runner.Deadline.Should().BeNull("a zero timeout sets no deadline");
        }
        if (desc == "timeout leads to runner")
        {
            runner.Deadline.Should().Be(TimeSpan.FromMilliseconds(1), "the timeout is the runner's deadline");
        }
    }

    public static TheoryData<string> EntrypointerCases =>
    [
        "do nothing", "just entrypoint", "entrypoint and args", "just args", "wait file", "post file", "all together now",
        "multiple wait files", "breakpointOnFailure to wait or not to wait ", "breakpointBeforeStep to wait or not to wait",
        "all breakpoints to wait or not to wait",
    ];

    [Theory]
    [MemberData(nameof(EntrypointerCases))]
    public void TestEntrypointer(string desc)
    {
        (string entrypoint, string[] args, string[] waitFiles, string[] waitDebugFiles, string postFile, bool breakpointOnFailure, bool debugBeforeStep) = desc switch
        {
            "do nothing" => ("", Array.Empty<string>(), Array.Empty<string>(), Array.Empty<string>(), "", false, false),
            "just entrypoint" => ("echo", [], [], [], "", false, false),
            "entrypoint and args" => ("echo", ["some", "args"], [], [], "", false, false),
            "just args" => ("", ["just", "args"], [], [], "", false, false),
            "wait file" => ("", [], ["waitforme"], [], "", false, false),
            "post file" => ("", [], [], [], "writeme", false, false),
            "all together now" => ("echo", ["some", "args"], ["waitforme"], [], "writeme", false, false),
            "multiple wait files" => ("", [], ["waitforme", "metoo", "methree"], [], "", false, false),
            "breakpointOnFailure to wait or not to wait " => ("", [], [], [], "", true, false),
            "breakpointBeforeStep to wait or not to wait" => ("", [], ["waitforme"], [".beforestepexit"], "", false, true),
            "all breakpoints to wait or not to wait" => ("", [], ["waitforme", ".beforestepexit"], [".beforestepexit"], "", true, true),
            _ => throw new ArgumentException(desc),
        };
        var waiter = Waiter();
        var runner = Runner(Exited(0));
        var post = PostWriter();
        List<string> command = [entrypoint, .. args];

        (int exitCode, TektonStep step) = Go(Options(o => o with
        {
            WaitFiles = waitFiles, PostFile = postFile, BreakpointOnFailure = breakpointOnFailure, DebugBeforeStep = debugBeforeStep,
        }), waiter, runner, post, command);

        step.Failure.Should().BeNull();
        exitCode.Should().Be(0);
        Directory.Exists(StepDir + "/artifacts").Should().BeTrue("Go() makes STEP_METADATA_DIR/artifacts");
        waiter.Waited.Should().Equal([.. waitFiles, .. waitDebugFiles]);
        runner.Argv.Should().Equal(command, "the command is handed to the runner as it is, even an empty one");
        post.Wrote.Should().Be(postFile.Length > 0 ? postFile : null);
        post.Message.Should().Contain(e => e.Key == "StartedAt");
    }

    [Theory]
    [InlineData("set breakpoint on failure and exit with code 0")]
    [InlineData("unset breakpoint on failure")]
    public void TestCheckForBreakpointOnFailure(string name)
    {
        // The command failed (3); with the breakpoint, the exit code is the one the user wrote in POST.breakpointexit ("0").
        bool breakpointOnFailure = name == "set breakpoint on failure and exit with code 0";
        string postFile = Root + "/1.breakpoint";
        File.WriteAllText(postFile + ".breakpointexit", "0");
        var waiter = Waiter();

        (int exitCode, _) = Go(Options(o => o with { PostFile = postFile, BreakpointOnFailure = breakpointOnFailure }),
            waiter, Runner(Exited(3)), PostWriter(), ["work"]);

        exitCode.Should().Be(breakpointOnFailure ? 0 : 3);
        waiter.Waited.Should().Equal(breakpointOnFailure ? [postFile + ".breakpointexit"] : []);
    }

    [Fact]
    public void TestEntrypointer_ReadBreakpointExitCodeFromDisk()
    {
        string postFile = Root + "/1.err";
        File.WriteAllText(postFile + ".breakpointexit", "1");

        (int exitCode, _) = Go(Options(o => o with { PostFile = postFile, BreakpointOnFailure = true }),
            Waiter(), Runner(Exited(3)), PostWriter(), ["work"]);

        exitCode.Should().Be(1, "the exit code read from the breakpoint file, not the command's 3");
    }

    public static TheoryData<string> OnErrorCases =>
    [
        "the step is exiting with 1, ignore the step error when onError is set to continue",
        "the step is exiting with 0, ignore the step error irrespective of no error with onError set to continue",
        "the step is exiting with 1, treat the step error as failure with onError set to stopAndFail",
        "the step is exiting with 0, treat the step error (but there is none) as failure with onError set to stopAndFail",
        "the step set debug before step, and before step breakpoint fail-continue",
    ];

    [Theory]
    [MemberData(nameof(OnErrorCases))]
    public void TestEntrypointer_OnError(string desc)
    {
        // fakeExitErrorRunner runs `ls /bogus/path`: exit status 2.
        (int code, string onError, bool debugBeforeStep, string wrote, string? exitCodeWritten, int expectedExit) = desc switch
        {
            _ when desc.StartsWith("the step is exiting with 1, ignore") => (2, "continue", false, "step-one", "2", 0),
            _ when desc.StartsWith("the step is exiting with 0, ignore") => (0, "continue", false, "step-one", "0", 0),
            _ when desc.StartsWith("the step is exiting with 1, treat") => (2, "stopAndFail", false, "step-one.err", null, 2),
            _ when desc.StartsWith("the step is exiting with 0, treat") => (0, "stopAndFail", false, "step-one", "0", 0),
            _ => (0, "", true, "step-one.err", (string?)null, 1),
        };
        var post = PostWriter();
        var runner = Runner(Exited(code));

        (int exitCode, TektonStep step) = Go(Options(o => o with { PostFile = "step-one", OnError = onError, DebugBeforeStep = debugBeforeStep }),
            Waiter(debugBeforeStep ? new WaitOutcome(WaitVerdict.Failed, Problem: "waiter failed") : null), runner, post, ["echo", "some", "args"]);

        post.Wrote.Should().Be(wrote);
        post.ExitCode.Should().Be(exitCodeWritten);
        if (exitCodeWritten is not null)
        {
            post.ExitCodeFile.Should().Be(StepDir + "/exitCode");
        }
        exitCode.Should().Be(expectedExit);
        if (debugBeforeStep)
        {
            step.Failure.Should().Be(new StepFailure.DebugBeforeStep());
            runner.Argv.Should().BeNull("fail-continue before the step skips the command");
        }
        else
        {
            step.Failure.Should().Be(code == 0 ? null : new StepFailure.Exited(ExitStatus.Exited(code)));
        }
    }

    public static TheoryData<string> ResultsCases => ["do nothing", "no results", "write single result", "write single step result", "write multiple result"];

    /// <summary>
    /// The cases without SPIRE. Tekton points Results and StepResults at one ResultsDirectory (a field
    /// main.go has no flag for); here the command writes each result where the controller's layout
    /// has it: /tekton/results for -results, STEP_METADATA_DIR/results for -step_results.
    /// </summary>
    [Theory]
    [MemberData(nameof(ResultsCases))]
    public void TestEntrypointerResults(string desc)
    {
        Dictionary<string, string> resultsToWrite = desc switch
        {
            "write single result" or "write single step result" => new() { ["foo"] = "abc" },
            "write multiple result" => new() { ["foo"] = "abc", ["bar"] = "def" },
            _ => [],
        };
        string entrypoint = desc == "do nothing" ? "" : "echo";
        var runner = Runner(Exited(0), whileRunning: () =>
        {
            foreach ((string key, string value) in resultsToWrite)
            {
                File.WriteAllText($"{Paths.Results}/{key}", value);
                File.WriteAllText($"{StepDir}/results/{key}", value);
            }
        });
        Directory.CreateDirectory(Paths.Results);
        var post = PostWriter();
        string[] names = [.. resultsToWrite.Keys];

        (int exitCode, TektonStep step) = Go(Options(o => o with { Results = names, StepResults = names }), Waiter(), runner, post, [entrypoint]);

        step.Failure.Should().BeNull();
        exitCode.Should().Be(0);
        foreach (int type in new[] { TektonResultType.TaskRunResult, TektonResultType.StepResult })
        {
            post.Message.Where(e => e.Type == type).ToDictionary(e => e.Key, e => e.Value).Should().Equal(resultsToWrite);
        }
    }

    [Theory]
    [InlineData("generally running, expect no error")]
    [InlineData("context canceled during running, expect context canceled error")]
    [InlineData("time exceeded during running, expect context deadline exceeded error")]
    public void TestEntrypointerStopOnCancel(string name)
    {
        // fakeLongRunner: runs to its end, is cancelled (the cancel file), or meets its deadline.
        (ChildOutcome outcome, StepFailure? expected, int expectedExit, TektonEntry[] reason) = name switch
        {
            "generally running, expect no error" => (Exited(0), (StepFailure?)null, 0, Array.Empty<TektonEntry>()),
            "context canceled during running, expect context canceled error" =>
                (Exited(0) with { Stopped = true }, new StepFailure.Cancelled(), 9, [Internal("Reason", "Cancelled")]),
            _ => (new ChildOutcome(ExitStatus.KilledBy(9), true, 100), new StepFailure.TimedOut(TimeSpan.Zero), 1, [Internal("Reason", "TimeoutExceeded")]),
        };
        var post = PostWriter();

        (int exitCode, TektonStep step) = Go(Options(), Waiter(), Runner(outcome), post, ["work"]);

        step.Failure.Should().Be(expected);
        exitCode.Should().Be(expectedExit, "main.go: os.Exit(SIGKILL) when cancelled, 1 past the deadline");
        Parsed(post.Message).Should().Equal([.. reason, Internal("StartedAt", "")]);
    }

    public static TheoryData<string> TerminationReasonCases =>
    [
        "reason completed", "reason continued", "reason errored", "reason timedout",
        "reason skipped due to previous step error", "reason skipped due to when expressions evaluation",
    ];

    [Theory]
    [MemberData(nameof(TerminationReasonCases))]
    public void TestTerminationReason(string desc)
    {
        // fakeWaiter{skipStep: true}: every wait says the previous step failed. exec.ExitError{} has
        // ExitCode() -1, which is what a command killed by a signal gives here too.
        (string[] waitFiles, string onError, ChildOutcome? outcome, string when, string? exitCode, string wrote, TektonEntry[] status) = desc switch
        {
            "reason completed" => (Array.Empty<string>(), "", Exited(0), "", "0", "postfile", Array.Empty<TektonEntry>()),
            "reason continued" => ([], "continue", new ChildOutcome(ExitStatus.KilledBy(9), false, 100), "", "-1", "postfile", [Internal("ExitCode", "-1")]),
            "reason errored" => ([], "", null, "", null, "postfile.err", []),
            "reason timedout" => ([], "", new ChildOutcome(ExitStatus.KilledBy(9), true, 100), "", null, "postfile.err", [Internal("Reason", "TimeoutExceeded")]),
            "reason skipped due to previous step error" => (["file"], "", Exited(0), "", null, "postfile.err", [Internal("Reason", "Skipped")]),
            _ => ([], "", Exited(0), """[{"input":"foo","operator":"in","values":["bar"]}]""", "0", "postfile", [Internal("Reason", "Skipped")]),
        };
        var post = PostWriter();

        Go(Options(o => o with { WaitFiles = waitFiles, PostFile = "postfile", OnError = onError, WhenExpressions = when }),
            Waiter(new WaitOutcome(WaitVerdict.PreviousFailed)), Runner(outcome), post, []);

        post.ExitCode.Should().Be(exitCode);
        post.Wrote.Should().Be(wrote);
        Parsed(post.Message).Should().Equal([.. status, Internal("StartedAt", "")]);
    }

    [Theory]
    [InlineData("plain JSON", false)]
    [InlineData("compressed", true)]
    public void TestWriteTerminationMessage_Compression(string desc, bool compress)
    {
        string path = Root + "/termination";
        var writer = new TektonPostWriter(Options(o => o with { TerminationPath = path, CompressTerminationMessage = compress }));

        writer.AppendMessage([new("foo", "bar", TektonResultType.TaskRunResult), new("baz", "qux", TektonResultType.TaskRunResult)]);

        byte[] written = File.ReadAllBytes(path);
        if (!compress)
        {
            System.Text.Encoding.ASCII.GetString(written).Should().NotStartWith(TektonTerminationMessage.CompressedPrefix, desc);
        }
        TektonTerminationMessage.TryParse(written, out List<TektonEntry> parsed).Should().BeTrue(desc);
        parsed.Should().HaveCount(2);
    }
}
