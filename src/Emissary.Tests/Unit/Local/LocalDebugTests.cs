using System.Text;
using Emissary.Control;
using Emissary.Tools.Local;

namespace Emissary.Tests.Unit.Local;

/// <summary>
/// `emissary local --debug` and the paused state in local's reports: the live view's line, the
/// timeline's mark and legend (text and SVG), following pauses (a rerun that pauses again between
/// two looks is a new pause), reading a paused step's debug.txt back, and the answers.
/// </summary>
public sealed class LocalDebugTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 5, 0, 0, TimeSpan.Zero);

    private static StepStatus Paused(string name, double pausedAfter, int attempts = 0, PausePoint at = PausePoint.OnFailure) => new()
    {
        Name = name,
        State = StepState.Paused,
        WaitingSince = T0,
        StartedAt = T0,
        ExitCode = 3,
        Pause = new StepPause(at, T0.AddSeconds(pausedAfter)),
        Attempts = attempts,
    };

    [Fact]
    public void The_live_view_shows_a_paused_step_with_where_since_when_and_its_attempt()
    {
        var view = new StepView("build", isSidecar: false) { State = StepState.Paused, Status = Paused("build", 2, attempts: 2) };

        string line = LiveView.Line(view, T0.AddSeconds(14));

        line.Should().Contain("build").And.Contain("paused").And.Contain("on-failure, attempt 2");
        line.Should().Contain(" 12s ", "the time shown is the time in the pause, not since the step started ({0})", line);
        line.Should().Contain("\u001b[35m‖", "a mark of its own, apart from running's ▶");
    }

    [Fact]
    public void The_live_view_of_a_running_step_says_nothing_of_pauses()
    {
        var view = new StepView("build", isSidecar: false) { State = StepState.Running, Status = new StepStatus { Name = "build", State = StepState.Running, StartedAt = T0 } };

        LiveView.Line(view, T0.AddSeconds(3)).Should().NotContain("paused").And.NotContain("on-failure");
    }

    [Fact]
    public void The_timeline_marks_a_pause_seen_while_following_the_step_and_says_how_it_went_on()
    {
        var build = new StepView("build", isSidecar: false)
        {
            State = StepState.Succeeded,
            Status = new StepStatus
            {
                Name = "build", State = StepState.Succeeded, WaitingSince = T0, StartedAt = T0, FinishedAt = T0.AddSeconds(48),
                ExitCode = 0, Reason = "Completed", Pause = new StepPause(PausePoint.OnFailure, T0.AddSeconds(12), "rerun"), Attempts = 2,
            },
        };
        build.Pauses.Add((T0.AddSeconds(12), T0.AddSeconds(36)));
        var other = new StepView("lint", isSidecar: false)
        {
            State = StepState.Succeeded,
            Status = new StepStatus { Name = "lint", State = StepState.Succeeded, WaitingSince = T0, StartedAt = T0, FinishedAt = T0.AddSeconds(1), ExitCode = 0, Reason = "Completed" },
        };

        string text = Timeline.Text([build, other], T0, T0.AddSeconds(48));

        string[] lines = text.Split('\n');
        lines[0].Should().Contain("▒ paused", "the legend names the mark");
        string bar = lines[1][(lines[1].IndexOf('|') + 1)..lines[1].LastIndexOf('|')];
        bar.Length.Should().Be(48);
        // 48 columns for 48 s: paused from 12 s to 36 s, running around it.
        bar[..12].Should().Be(new string('█', 12));
        bar[12..36].Should().Be(new string('▒', 24));
        bar[36..].Should().Be(new string('█', 12));
        lines[1].Should().Contain("exit 0 Completed").And.Contain("paused on-failure, resumed by rerun, attempt 2");
        lines[2].Should().NotContain("▒").And.NotContain("paused");
    }

    [Fact]
    public void Without_a_pause_the_timeline_has_no_paused_legend()
    {
        var step = new StepView("a", isSidecar: false)
        {
            State = StepState.Succeeded,
            Status = new StepStatus { Name = "a", State = StepState.Succeeded, WaitingSince = T0, StartedAt = T0, FinishedAt = T0.AddSeconds(1), ExitCode = 0, Reason = "Completed" },
        };

        Timeline.Text([step], T0, T0.AddSeconds(1)).Should().NotContain("paused").And.NotContain("▒");
        Timeline.Svg([step], T0, T0.AddSeconds(1)).Should().NotContain("paused");
    }

    [Fact]
    public void A_step_still_paused_at_the_end_is_paused_to_the_end_of_the_timeline_and_in_the_svg()
    {
        var view = new StepView("build", isSidecar: false) { State = StepState.Paused, Status = Paused("build", 24) };
        // Never seen by a tracker: the status's own pause is used.

        string text = Timeline.Text([view], T0, T0.AddSeconds(48));
        string svg = Timeline.Svg([view], T0, T0.AddSeconds(48));

        string bar = text.Split('\n')[1];
        bar.Should().Contain(new string('▒', 24) + "|");
        svg.Should().Contain("class=\"paused\"").And.Contain("#e8a33d").And.Contain("<title>paused on-failure</title>");
        svg.Should().Contain(">paused</text>", "the SVG has a legend entry for the mark");
    }

    [Fact]
    public void Following_a_step_opens_a_pause_when_seen_paused_and_closes_it_when_seen_going_on()
    {
        var view = new StepView("build", isSidecar: false);
        StepStatus first = Paused("build", 5);
        StepTracker.FollowPauses(view, first);
        view.Status = first;
        view.State = first.State;
        view.Pauses.Should().ContainSingle().Which.Should().Be((T0.AddSeconds(5), (DateTimeOffset?)null));

        // Rerun, failed again, paused again — all between two looks: same state, another pause.
        StepStatus again = Paused("build", 9, attempts: 2);
        StepTracker.NewPause(view, again).Should().BeTrue("a new pause must be reported, or no shell opens for it");
        StepTracker.FollowPauses(view, again);
        view.Pauses.Should().HaveCount(2);
        view.Pauses[0].To.Should().NotBeNull("the first pause ended when the rerun began");
        view.Pauses[1].Should().Be((T0.AddSeconds(9), (DateTimeOffset?)null));
        view.Status = again;

        StepStatus done = again with { State = StepState.Failed, FinishedAt = T0.AddSeconds(20), Pause = again.Pause!.ResumedWith("fail") };
        StepTracker.FollowPauses(view, done);
        view.Pauses[1].To.Should().Be(T0.AddSeconds(20), "a pause that ended the step ends when the step did");
        StepTracker.NewPause(view, Paused("build", 9, attempts: 2)).Should().BeFalse("the same pause read twice is not new");
    }

    [Fact]
    public void A_paused_steps_debug_txt_reads_back_as_its_command_directory_and_added_variables()
    {
        // As StepContext.Describe writes it: words as a shell reads them back, inherited variables by name only.
        string text = "command:   sh -c 'exit 3' \ndirectory: '/work/my dir'\nenvironment:\n  EMISSARY_RESULTS=/ctl/build/results\n  HOME\n  ODD='it'\\''s $x'\n  PATH\n";

        PausedStepContext context = PausedStepContext.Parse(text);

        context.CommandLine.Should().Be("sh -c 'exit 3'");
        context.Directory.Should().Be("/work/my dir");
        context.Added.Should().BeEquivalentTo(new Dictionary<string, string> { ["EMISSARY_RESULTS"] = "/ctl/build/results", ["ODD"] = "it's $x" });
    }

    [Theory]
    [InlineData("c\n", "continue")]
    [InlineData("  F \n", "fail")]
    [InlineData("rerun\n", "rerun")]
    [InlineData("R\n", "rerun")]
    public void The_answers_are_the_first_letters_or_the_words(string typed, string expected)
    {
        DebugRequest? answer = StepDebugger.ParseAnswer(Encoding.UTF8.GetBytes(typed));
        answer.Should().NotBeNull();
        answer!.Value.Word().Should().Be(expected);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("x\n")]
    [InlineData("cf\n")]
    [InlineData("pause\n")]
    public void Anything_else_is_asked_again(string typed)
    {
        StepDebugger.ParseAnswer(Encoding.UTF8.GetBytes(typed)).Should().BeNull();
    }
}
