using Emissary.Events;
using Emissary.Supervision;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton;

/// <summary>
/// TektonStep's outcome logic through its seams, one row per case in the spirit of Tekton's
/// pkg/entrypoint/entrypointer_test.go: what is waited for, what runs, which post file and
/// exitCode are written, what goes into the termination message, and the exit code.
/// </summary>
public sealed class TektonStepTests : IDisposable
{
    private const string Started = "StartedAt=2026-01-01T00:00:00.000Z";

    private readonly string _root = Directory.CreateTempSubdirectory("emissary-tekton-step-").FullName;
    private readonly List<string> _journal = [];
    private readonly FakeClock _clock = new();

    private string PostFile => _root + "/run/0/out";

    private static ChildOutcome Exited(int code) => new(ExitStatus.Exited(code), false, 100);

    /// <summary>One case: the step's flags, what the fakes answer, and what must come out.</summary>
    internal sealed record Row(
        Func<TektonStepOptions, TektonStepOptions> Flags,
        ChildOutcome? Child,
        int ExitCode,
        string[] Journal,
        string[] Message,
        WaitVerdict PreviousStep = WaitVerdict.Ready,
        string? BreakpointExitFile = null);

    private static readonly Dictionary<string, Row> Rows = new()
    {
        ["success"] = new(o => o, Exited(0), 0,
            ["wait 0", "run work --flag", "post", "exitCode 0"], [Started]),
        ["failure writes out.err and exits with the command's code"] = new(o => o, Exited(3), 3,
            ["wait 0", "run work --flag", "post.err"], [Started]),
        ["a command killed by a signal exits 255, as Go's os.Exit(-1)"] = new(o => o, new ChildOutcome(ExitStatus.KilledBy(9), false, 100), 255,
            ["wait 0", "run work --flag", "post.err"], [Started]),
        ["on_error continue writes out and the code, exits 0"] = new(o => o with { OnError = "continue" }, Exited(3), 0,
            ["wait 0", "run work --flag", "post", "exitCode 3"], [Started, "ExitCode=3"]),
        ["timeout writes out.err and TimeoutExceeded, exits 1"] = new(o => o with { Timeout = TimeSpan.FromSeconds(5) }, new ChildOutcome(ExitStatus.KilledBy(9), true, 100), 1,
            ["wait 0", "run work --flag", "post.err"], [Started, "Reason=TimeoutExceeded"]),
        ["a negative timeout fails before running"] = new(o => o with { Timeout = TimeSpan.FromSeconds(-1) }, Exited(0), 1,
            ["wait 0", "post.err"], [Started]),
        ["a previous step failed: skipped, out.err, exit 1"] = new(o => o, Exited(0), 1,
            ["wait 0", "post.err"], [Started, "Reason=Skipped"], PreviousStep: WaitVerdict.PreviousFailed),
        ["a previous step vanished: skipped as well"] = new(o => o, Exited(0), 1,
            ["wait 0", "post.err"], [Started, "Reason=Skipped"], PreviousStep: WaitVerdict.PreviousVanished),
        ["SIGTERM while waiting: the step did not run, exit 143"] = new(o => o, Exited(0), 143,
            ["wait 0", "post.err"], [Started], PreviousStep: WaitVerdict.Interrupted),
        ["breakpoint on failure: no post file, the exit code the user chose"] = new(o => o with { BreakpointOnFailure = true }, Exited(3), 7,
            ["wait 0", "run work --flag", "wait out.breakpointexit"], [Started], BreakpointExitFile: "7\n"),
        ["breakpoint on failure with an unreadable decision exits 0"] = new(o => o with { BreakpointOnFailure = true }, Exited(3), 0,
            ["wait 0", "run work --flag", "wait out.breakpointexit"], [Started]),
        ["cancel writes out.err, exitCode killed and Cancelled, exits 9"] = new(o => o, Exited(0) with { Stopped = true }, 9,
            ["wait 0", "run work --flag", "post.err", "exitCode killed"], [Started, "Reason=Cancelled"]),
        ["a command that cannot start fails with 1"] = new(o => o, null, 1,
            ["wait 0", "run work --flag", "post.err"], [Started]),
        ["when-expressions false: skipped, out, exitCode 0, exit 0"] = new(o => o with { WhenExpressions = """[{"input":"a","operator":"in","values":["b"]}]""" }, Exited(0), 0,
            ["wait 0", "post", "exitCode 0"], [Started, "Reason=Skipped"]),
        // Results are appended as they are read, before the step's own entries, as Tekton does.
        ["results go into the message"] = new(o => o with { Results = ["digest"] }, Exited(0), 0,
            ["wait 0", "run work --flag", "post", "exitCode 0"], ["digest=sha256:1", Started]),
        ["results that do not fit 4096 bytes fail the step"] = new(o => o with { Results = ["huge"] }, Exited(0), 1,
            ["wait 0", "run work --flag", "post", "exitCode 0"], [Started]),
    };

    public static TheoryData<string> Cases => [.. Rows.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_step_ends_as_Tekton_s_entrypoint_would(string name)
    {
        Row row = Rows[name];
        Directory.CreateDirectory(_root + "/run/0");
        Directory.CreateDirectory(_root + "/results");
        File.WriteAllText(_root + "/results/digest", "sha256:1");
        File.WriteAllText(_root + "/results/huge", new string('x', 5000));
        if (row.BreakpointExitFile is { } decision)
        {
            File.WriteAllText(PostFile + ".breakpointexit", decision);
        }
        TektonStepOptions options = row.Flags(new TektonStepOptions
        {
            WaitFiles = [_root + "/run/0/0"],
            PostFile = PostFile,
            TerminationPath = _root + "/termination",
            StepMetadataDir = _root + "/status", // else Go() makes results/ and artifacts/ in the test's working directory
        });
        var paths = new TektonPaths(_root);
        var waiter = new FakeTektonWaiter(_journal, new Dictionary<string, WaitOutcome>
        {
            [_root + "/run/0/0"] = new(row.PreviousStep, row.PreviousStep == WaitVerdict.Interrupted ? 15 : 0),
        });
        var runner = new FakeTektonRunner(_journal, _clock, row.Child, TimeSpan.FromSeconds(2));
        var post = new FakeTektonPostWriter(_journal);
        var when = TektonWhenExpressions.Parse(options.WhenExpressions);

        int exitCode = new TektonStep(options, paths, waiter, runner, post, _clock).Go(["work", "--flag"], when);

        exitCode.Should().Be(row.ExitCode);
        _journal.Should().Equal(row.Journal);
        post.Message.Select(e => e.Key + "=" + e.Value).Should().Equal(row.Message);
    }

    [Fact]
    public void Debug_before_step_fail_continue_skips_the_command()
    {
        // The user ran debug-beforestep-fail-continue: POST.beforestepexit.err, so the wait does not say Ready.
        var options = new TektonStepOptions { PostFile = PostFile, DebugBeforeStep = true, TerminationPath = _root + "/termination", StepMetadataDir = _root + "/status" };
        var waiter = new FakeTektonWaiter(_journal, new Dictionary<string, WaitOutcome>
        {
            [PostFile + ".beforestepexit"] = new(WaitVerdict.PreviousFailed),
        });
        var post = new FakeTektonPostWriter(_journal);

        int exitCode = new TektonStep(options, new TektonPaths(_root), waiter, new FakeTektonRunner(_journal, _clock, Exited(0), TimeSpan.Zero), post, _clock)
            .Go(["work"], []);

        exitCode.Should().Be(1);
        _journal.Should().Equal("wait out.beforestepexit", "post.err");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
