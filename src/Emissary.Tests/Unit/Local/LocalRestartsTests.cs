using Emissary.Control;
using Emissary.Tools.Local;

namespace Emissary.Tests.Unit.Local;

/// <summary>`emissary local` playing the kubelet's part: when a step is restarted, after what back-off, how it is shown.</summary>
public sealed class LocalRestartsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 6, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_back_off_is_100ms_doubling_to_a_cap_of_2s()
    {
        Enumerable.Range(0, 8).Select(n => LocalRestarts.Backoff(n).TotalMilliseconds)
            .Should().Equal(100, 200, 400, 800, 1600, 2000, 2000, 2000);
        LocalRestarts.Backoff(1000).Should().Be(TimeSpan.FromSeconds(2), "no overflow however many restarts");
    }

    [Fact]
    public void Only_a_run_recorded_restarting_is_restarted_below_the_cap_and_not_while_stopping()
    {
        var restarts = new LocalRestarts(maxRestarts: 2);
        restarts.Next(StepState.Restarting, restartsDone: 0, stopping: false).Should().Be(TimeSpan.FromMilliseconds(100));
        restarts.Next(StepState.Restarting, restartsDone: 1, stopping: false).Should().Be(TimeSpan.FromMilliseconds(200));
        restarts.Next(StepState.Restarting, restartsDone: 2, stopping: false).Should().BeNull("the cap is reached");
        restarts.Next(StepState.Restarting, restartsDone: 0, stopping: true).Should().BeNull("a deleted pod is not restarted");
        foreach (StepState final in new[] { StepState.Failed, StepState.Succeeded, StepState.Skipped, StepState.Running, StepState.Waiting })
        {
            restarts.Next(final, restartsDone: 0, stopping: false).Should().BeNull($"{final} is not restarting");
        }
        restarts.Next(null, restartsDone: 0, stopping: false).Should().BeNull("an emissary that never registered (or crashed) is not restarted");
    }

    [Fact]
    public void The_last_run_allowed_is_the_one_after_the_cap()
    {
        var restarts = new LocalRestarts(maxRestarts: 2);
        restarts.IsLastRun(0).Should().BeFalse();
        restarts.IsLastRun(1).Should().BeFalse();
        restarts.IsLastRun(2).Should().BeTrue();
        new LocalRestarts(0).IsLastRun(0).Should().BeTrue("--max-restarts 0: the first run is final, as restartPolicy Never");
    }

    private static StepView View(StepState state, int restarts, params DateTimeOffset[] restartedAt) => Named("build", state, restarts, restartedAt);

    private static StepView Named(string name, StepState state, int restarts, params DateTimeOffset[] restartedAt)
    {
        var view = new StepView(name, isSidecar: false)
        {
            State = state,
            Status = new StepStatus
            {
                Name = name,
                State = state,
                WaitingSince = T0,
                StartedAt = T0.AddSeconds(1),
                FinishedAt = state.IsFinal() || state == StepState.Restarting ? T0.AddSeconds(2) : null,
                ExitCode = state == StepState.Succeeded ? 0 : state == StepState.Running ? null : 3,
                Reason = state == StepState.Succeeded ? "Completed" : "Error",
                Restarts = restarts,
            },
        };
        view.Restarts.AddRange(restartedAt);
        return view;
    }

    [Fact]
    public void The_live_view_shows_restarting_and_the_attempt_that_comes()
    {
        LiveView.Line(View(StepState.Restarting, restarts: 0), T0.AddSeconds(3)).Should().Contain("restarting").And.EndWith("(attempt 2)");
        LiveView.Line(View(StepState.Restarting, restarts: 2), T0.AddSeconds(3)).Should().EndWith("(attempt 4)");
        LiveView.Line(View(StepState.Running, restarts: 1), T0.AddSeconds(3)).Should().EndWith("(attempt 2)", "the run under way after a restart");
        LiveView.Line(View(StepState.Running, restarts: 0), T0.AddSeconds(3)).Should().NotContain("attempt");
    }

    [Fact]
    public void The_timeline_marks_each_restart_with_its_own_mark_and_legend()
    {
        StepView restarted = View(StepState.Succeeded, restarts: 2, T0.AddSeconds(1), T0.AddSeconds(5));
        StepView plain = Named("test", StepState.Succeeded, restarts: 0);

        string text = Timeline.Text([restarted, plain], T0, T0.AddSeconds(10));

        text.Should().StartWith("Timeline (10s, ░ waiting, █ running, ↻ restarted)");
        string[] lines = text.Split('\n');
        lines[1].Count(c => c == '↻').Should().Be(2, "one mark per restart: {0}", lines[1]);
        lines[1].Should().Contain("restarted 2×");
        lines[2].Should().NotContain("↻");
        Timeline.Text([plain], T0, T0.AddSeconds(10)).Should().NotContain("restarted", "no legend without a restart");

        string svg = Timeline.Svg([restarted, plain], T0, T0.AddSeconds(10));
        svg.Split("class=\"restart\"").Length.Should().Be(3, "two restart ticks");
        svg.Should().Contain(">restarted</text>", "the legend");
        Timeline.Svg([plain], T0, T0.AddSeconds(10)).Should().NotContain("restart");
    }
}
