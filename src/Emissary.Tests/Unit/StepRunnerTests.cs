using Emissary.Events;
using Emissary.Foundation;
using Emissary.Results;
using Emissary.Control;
using Emissary.Recording;
using Emissary.Gates;
using Emissary.Supervision;
using Emissary.Tests.Unit.Fakes;
using Emissary.Logging;

namespace Emissary.Tests.Unit;

/// <summary>
/// The step runner with fakes only: gate outcomes become final statuses and exit codes, the run
/// policy (retries, --on-error continue, timeout) is applied, and markers are written once.
/// </summary>
public sealed class StepRunnerTests
{
    private const int Child = 100;
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ResolvedCommand Command = new("/bin/work", ["a"]) { Argv = ["work", "a"] };

    private readonly FakeClock _clock = new();
    private readonly FakeLauncher _fakeLauncher = new(Child);
    private readonly CountingLauncher _launcher;
    private readonly ScriptedEvents _events;
    private readonly List<string> _journal = [];
    private readonly FakeRecorder _recorder;

    public StepRunnerTests()
    {
        _events = new ScriptedEvents(_clock);
        _launcher = new CountingLauncher(_fakeLauncher, _journal);
        _recorder = new FakeRecorder(_journal);
    }

    private static GateOutcome Open => new GateOutcome.Open([]);

    private static StepPlan Plan(int retries = 0, TimeSpan? retryDelay = null, bool continueOnError = false, SupervisionPolicy? policy = null) => new()
    {
        Name = "build",
        Command = Command,
        Rules = new StepRules
        {
            Retries = retries,
            RetryDelay = retryDelay ?? TimeSpan.FromSeconds(1),
            ContinueOnError = continueOnError,
            Policy = policy ?? new SupervisionPolicy(),
            Gates = [new Gate.AfterStep("fetch")],
        },
    };

    private FakeGateWaiter Gates(GateOutcome outcome, TimeSpan? takes = null) => new(outcome, _clock, takes, _journal);

    private StepStatus Run(StepPlan plan, GateOutcome? outcome = null) => Run(plan, Gates(outcome ?? Open));

    private StepStatus Run(StepPlan plan, FakeGateWaiter gates)
    {
        var supervisor = new Supervisor(_launcher, _events, _clock, NullLogger.Instance);
        var runner = new StepRunner(gates, supervisor, _events, _recorder, _clock, NullLogger.Instance);
        StepStatus final = runner.Run(plan);
        _recorder.Finished.Should().ContainSingle("the final markers are written exactly once");
        if (_recorder.Rewrite is null)
        {
            final.Should().BeSameAs(_recorder.Finished[0], "the recorder gets the final status the runner returns");
        }
        return final;
    }

    private ScriptedEvents ChildExits(int code) => _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(code)));

    // ---- gates → status ----

    [Fact]
    public void Passes_the_plans_gates_wait_timeout_and_upstream_policy_to_the_waiter()
    {
        var gates = Gates(Open);
        ChildExits(0);
        StepPlan basic = Plan();
        var plan = basic with
        {
            Rules = basic.Rules with
            {
                Gates = [new Gate.AfterStep("a"), new Gate.FileExists("/x", true)],
                WaitTimeout = TimeSpan.FromSeconds(7),
                RunOnUpstreamFailure = true,
            },
        };

        Run(plan, gates);

        gates.Calls.Should().ContainSingle();
        gates.Calls[0].Gates.Should().Equal(new Gate.AfterStep("a"), new Gate.FileExists("/x", true));
        gates.Calls[0].Timeout.Should().Be(TimeSpan.FromSeconds(7));
        gates.Calls[0].UpstreamFailureOpens.Should().BeTrue();
    }

    [Fact]
    public void Open_gates_run_the_command_and_a_zero_exit_succeeds()
    {
        ChildExits(0);

        StepStatus final = Run(Plan());

        final.State.Should().Be(StepState.Succeeded);
        final.ExitCode.Should().Be(0);
        final.Reason.Should().Be(StepReasons.Completed);
        final.Pid.Should().Be(Child);
        final.ContinueOnError.Should().BeFalse();
        StepRunner.ExitCodeOf(final).Should().Be(0);
        _journal.Should().Equal("wait", "start 1", $"running {Child}", "finish succeeded 0");
    }

    [Fact]
    public void Returns_the_status_as_the_recorder_recorded_it()
    {
        // Results collection may turn a success into a failure; emissary exits with what was recorded.
        _recorder.Rewrite = s => s with { State = StepState.Failed, ExitCode = 1, Reason = "ResultsTooLarge" };
        ChildExits(0);

        StepStatus final = Run(Plan());

        _recorder.Finished[0].State.Should().Be(StepState.Succeeded);
        final.State.Should().Be(StepState.Failed, "the runner returns what the recorder recorded ({0})", final);
        StepRunner.ExitCodeOf(final).Should().Be(1);
    }

    [Fact]
    public void Records_waiting_since_started_at_and_finished_at_from_the_clock()
    {
        ChildExits(0);

        StepStatus final = Run(Plan(), Gates(Open, takes: TimeSpan.FromSeconds(2)));

        final.Name.Should().Be("build");
        final.WaitingSince.Should().Be(T0);
        final.StartedAt.Should().Be(T0 + TimeSpan.FromSeconds(2), "the command starts once the gates opened");
        final.FinishedAt.Should().Be(T0 + TimeSpan.FromSeconds(2));
        _recorder.Running.Should().Equal((Child, T0 + TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void A_failing_command_fails_the_step_with_its_exit_code()
    {
        ChildExits(3);

        StepStatus final = Run(Plan());

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(3);
        final.Reason.Should().Be(StepReasons.Error);
        StepRunner.ExitCodeOf(final).Should().Be(3);
    }

    [Fact]
    public void A_command_killed_by_a_signal_fails_with_128_plus_the_signal()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.KILL)));

        StepStatus final = Run(Plan());

        final.State.Should().Be(StepState.Failed);
        StepRunner.ExitCodeOf(final).Should().Be(137);
    }

    [Fact]
    public void Gates_opened_despite_upstream_failures_still_run_the_command()
    {
        ChildExits(0);

        StepPlan basic = Plan();
        StepStatus final = Run(basic with { Rules = basic.Rules with { RunOnUpstreamFailure = true } }, new GateOutcome.Open(["step 'a' failed with exit code 1"]));

        final.State.Should().Be(StepState.Succeeded);
        _launcher.Attempts.Should().Be(1);
    }

    [Fact]
    public void An_upstream_failure_skips_the_step_with_123_without_starting_the_command()
    {
        StepStatus final = Run(Plan(), new GateOutcome.UpstreamFailed("step 'fetch' failed with exit code 1"));

        final.State.Should().Be(StepState.Skipped);
        final.ExitCode.Should().Be(ExitCodes.Skipped).And.Be(123);
        final.Reason.Should().Be(StepReasons.Skipped);
        final.Message.Should().Be("step 'fetch' failed with exit code 1");
        final.StartedAt.Should().BeNull("the command never started");
        final.FinishedAt.Should().NotBeNull();
        StepRunner.ExitCodeOf(final).Should().Be(123);
        _launcher.Attempts.Should().Be(0);
        _recorder.Running.Should().BeEmpty();
        _journal.Should().Equal("wait", "finish skipped 123");
    }

    [Fact]
    public void A_skip_request_skips_the_step_with_123()
    {
        StepStatus final = Run(Plan(), new GateOutcome.SkippedByRequest());

        final.State.Should().Be(StepState.Skipped);
        final.ExitCode.Should().Be(123);
        final.Message.Should().Contain("build").And.Contain("skip");
        _launcher.Attempts.Should().Be(0);
    }

    [Fact]
    public void A_wait_timeout_fails_the_step_with_125_naming_what_was_pending()
    {
        StepPlan basic = Plan();
        var plan = basic with { Rules = basic.Rules with { WaitTimeout = TimeSpan.FromSeconds(30) } };

        StepStatus final = Run(plan, new GateOutcome.TimedOut("step 'fetch'"));

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(ExitCodes.EmissaryFailure).And.Be(125);
        final.Message.Should().Contain("step 'fetch'");
        StepRunner.ExitCodeOf(final).Should().Be(125);
        _launcher.Attempts.Should().Be(0);
        _recorder.Running.Should().BeEmpty();
    }

    [Theory]
    [InlineData(Signals.TERM, 143)]
    [InlineData(Signals.INT, 130)]
    [InlineData(Signals.HUP, 129)]
    [InlineData(Signals.QUIT, 131)]
    public void A_terminating_signal_while_waiting_fails_the_step_with_128_plus_the_signal(int signal, int expected)
    {
        StepStatus final = Run(Plan(), new GateOutcome.Interrupted(signal));

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(expected);
        final.Message.Should().Contain(Signals.Name(signal));
        StepRunner.ExitCodeOf(final).Should().Be(expected);
        _launcher.Attempts.Should().Be(0);
    }

    [Theory]
    [InlineData("upstream failed")]
    [InlineData("skipped")]
    [InlineData("timed out")]
    [InlineData("interrupted")]
    public void When_the_gates_do_not_open_the_markers_are_written_once_and_nothing_runs(string how)
    {
        GateOutcome outcome = how switch
        {
            "upstream failed" => new GateOutcome.UpstreamFailed("x"),
            "skipped" => new GateOutcome.SkippedByRequest(),
            "timed out" => new GateOutcome.TimedOut("x"),
            _ => new GateOutcome.Interrupted(Signals.TERM),
        };

        Run(Plan(retries: 3), outcome);

        _launcher.Attempts.Should().Be(0);
        _recorder.Running.Should().BeEmpty();
        _events.Waits.Should().BeEmpty("nothing was started, so there is nothing to wait for");
    }

    [Fact]
    public void With_continue_on_error_a_step_that_is_not_run_still_reports_its_own_exit_code()
    {
        // --on-error continue is about the command failing; a step that never ran is not let through.
        StepStatus final = Run(Plan(continueOnError: true), new GateOutcome.UpstreamFailed("x"));

        final.ContinueOnError.Should().BeFalse();
        StepRunner.ExitCodeOf(final).Should().Be(123);
    }

    // ---- the command cannot be started ----

    [Theory]
    [InlineData(ExitCodes.NotFound)]
    [InlineData(ExitCodes.CannotExecute)]
    public void A_launch_failure_fails_with_its_exit_code_and_is_not_retried(int code)
    {
        _fakeLauncher.FailWith = new LaunchException("work: cannot run", code);

        StepStatus final = Run(Plan(retries: 3, retryDelay: TimeSpan.FromSeconds(5)));

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(code);
        final.Message.Should().Be("work: cannot run");
        StepRunner.ExitCodeOf(final).Should().Be(code);
        _launcher.Attempts.Should().Be(1, "a retry would not make a missing command appear");
        _events.Waits.Should().BeEmpty("no retry delay is waited");
        _recorder.Running.Should().BeEmpty();
    }

    [Fact]
    public void An_unresolvable_command_fails_with_the_problems_exit_code_once_the_gates_open()
    {
        var plan = Plan(retries: 2) with { Command = null, CommandProblem = new LaunchException("nope: command not found", 127) };

        StepStatus final = Run(plan);

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(127);
        final.Message.Should().Be("nope: command not found");
        _launcher.Attempts.Should().Be(0);
    }

    [Fact]
    public void An_unresolvable_command_in_a_step_whose_upstream_failed_is_skipped_not_127()
    {
        var plan = Plan() with { Command = null, CommandProblem = new LaunchException("nope: command not found", 127) };

        StepStatus final = Run(plan, new GateOutcome.UpstreamFailed("step 'fetch' failed with exit code 1"));

        final.State.Should().Be(StepState.Skipped);
        final.ExitCode.Should().Be(123);
    }

    // ---- --on-error continue ----

    [Fact]
    public void Continue_on_error_records_the_real_exit_code_and_exits_0()
    {
        ChildExits(3);

        StepStatus final = Run(Plan(continueOnError: true));

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(3, "the markers record the real exit code");
        final.ContinueOnError.Should().BeTrue();
        final.LetsDependantsRun.Should().BeTrue();
        StepRunner.ExitCodeOf(final).Should().Be(0);
    }

    [Fact]
    public void Continue_on_error_does_not_mark_a_successful_step()
    {
        ChildExits(0);

        StepStatus final = Run(Plan(continueOnError: true));

        final.State.Should().Be(StepState.Succeeded);
        final.ContinueOnError.Should().BeFalse();
        StepRunner.ExitCodeOf(final).Should().Be(0);
    }

    [Fact]
    public void ExitCodeOf_a_status_without_exit_code_is_125()
    {
        StepRunner.ExitCodeOf(new StepStatus { Name = "x", State = StepState.Failed }).Should().Be(125);
    }

    // ---- --timeout ----

    [Fact]
    public void A_timeout_fails_with_124_and_reason_TimeoutExceeded()
    {
        _fakeLauncher.GroupAlive = false; // the leader was alone in its group
        _events
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.TERM)));

        StepStatus final = Run(Plan(policy: new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(5) }));

        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(ExitCodes.TimedOut).And.Be(124);
        final.Reason.Should().Be(StepReasons.TimeoutExceeded);
        StepRunner.ExitCodeOf(final).Should().Be(124);
        _fakeLauncher.Sent.Should().StartWith((Child, true, Signals.TERM));
    }

    [Fact]
    public void A_timeout_with_continue_on_error_keeps_reason_and_code_but_exits_0()
    {
        _fakeLauncher.GroupAlive = false; // the leader was alone in its group
        _events
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        StepStatus final = Run(Plan(continueOnError: true, policy: new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(5) }));

        final.ExitCode.Should().Be(124);
        final.Reason.Should().Be(StepReasons.TimeoutExceeded);
        final.ContinueOnError.Should().BeTrue();
        StepRunner.ExitCodeOf(final).Should().Be(0);
    }

    // ---- --retries ----

    [Fact]
    public void A_failed_command_is_run_again_until_it_succeeds()
    {
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(0);

        StepStatus final = Run(Plan(retries: 5, retryDelay: TimeSpan.FromSeconds(3)));

        _launcher.Attempts.Should().Be(3);
        final.State.Should().Be(StepState.Succeeded);
        final.ExitCode.Should().Be(0);
        StepRunner.ExitCodeOf(final).Should().Be(0);
    }

    [Fact]
    public void Retries_wait_the_retry_delay_between_attempts_through_the_events()
    {
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(0);

        Run(Plan(retries: 2, retryDelay: TimeSpan.FromSeconds(3)));

        _events.Waits.Should().Equal(null, TimeSpan.FromSeconds(3), null, TimeSpan.FromSeconds(3), null);
        _clock.Elapsed.Should().Be(TimeSpan.FromSeconds(6));
    }

    [Fact]
    public void When_every_attempt_fails_the_exit_code_is_the_last_attempts()
    {
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(2).ThenWaitForDeadline();
        ChildExits(3);

        StepStatus final = Run(Plan(retries: 2));

        _launcher.Attempts.Should().Be(3, "1 run + 2 retries");
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(3);
        StepRunner.ExitCodeOf(final).Should().Be(3);
    }

    [Fact]
    public void Markers_are_written_only_after_the_last_attempt()
    {
        ChildExits(1).ThenWaitForDeadline();
        ChildExits(1);

        Run(Plan(retries: 1));

        _journal.Should().Equal(
            "wait",
            "start 1", $"running {Child}",
            "start 2", $"running {Child}",
            "finish failed 1");
        _recorder.Running.Select(r => r.StartedAt).Distinct().Should().ContainSingle("startedAt is when the first attempt started");
    }

    [Fact]
    public void A_successful_command_is_not_retried()
    {
        ChildExits(0);

        Run(Plan(retries: 3));

        _launcher.Attempts.Should().Be(1);
    }

    [Fact]
    public void Without_retries_a_failure_is_final()
    {
        ChildExits(1);

        Run(Plan(retries: 0));

        _launcher.Attempts.Should().Be(1);
        _events.Waits.Should().Equal([null]);
    }

    [Fact]
    public void A_zero_retry_delay_retries_at_once()
    {
        ChildExits(1);
        ChildExits(0);

        StepStatus final = Run(Plan(retries: 1, retryDelay: TimeSpan.Zero));

        _launcher.Attempts.Should().Be(2);
        final.State.Should().Be(StepState.Succeeded);
        _events.Waits.Should().Equal(new TimeSpan?[] { null, null });
    }

    [Theory]
    [InlineData(Signals.TERM, 143)]
    [InlineData(Signals.INT, 130)]
    public void A_terminating_signal_during_the_retry_delay_gives_up(int signal, int expected)
    {
        ChildExits(1).Then(new SupervisorEvent.SignalReceived(signal, 1));

        StepStatus final = Run(Plan(retries: 5, retryDelay: TimeSpan.FromSeconds(30)));

        _launcher.Attempts.Should().Be(1, "no attempt starts after the pod was told to go away");
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(expected);
        StepRunner.ExitCodeOf(final).Should().Be(expected);
        final.Message.Should().Contain(Signals.Name(signal));
    }

    [Theory]
    [InlineData(Signals.TERM, 143)]
    [InlineData(Signals.INT, 130)]
    public void A_terminating_signal_seen_as_a_failed_attempt_ends_gives_up_like_during_the_delay(int signal, int expected)
    {
        // The child exited 1 on its own and the signal came right after, but the loop sees the
        // signal first: the window in which a retry was still due but no delay had started.
        _events
            .Then(new SupervisorEvent.SignalReceived(signal, 1))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(1)));

        StepStatus final = Run(Plan(retries: 5, retryDelay: TimeSpan.FromSeconds(30)));

        _launcher.Attempts.Should().Be(1, "no attempt starts after the pod was told to go away");
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(expected);
        StepRunner.ExitCodeOf(final).Should().Be(expected);
        final.Message.Should().Contain(Signals.Name(signal));
        _events.Waits.Should().Equal(new TimeSpan?[] { null, null }, "no retry delay is waited");
    }

    [Fact]
    public void A_terminating_signal_as_the_last_attempt_fails_keeps_the_attempts_exit_code()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 1))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(1)));

        StepStatus final = Run(Plan(retries: 0));

        _launcher.Attempts.Should().Be(1);
        final.ExitCode.Should().Be(1, "no retry was due, so there is nothing to give up: the command's own code stands");
    }

    [Fact]
    public void A_terminating_signal_as_an_attempt_succeeds_keeps_the_success()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 1))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        StepStatus final = Run(Plan(retries: 3));

        _launcher.Attempts.Should().Be(1);
        final.State.Should().Be(StepState.Succeeded);
        final.ExitCode.Should().Be(0);
    }

    [Fact]
    public void Other_signals_and_wakeups_during_the_retry_delay_do_not_shorten_it()
    {
        ChildExits(1)
            .Then(new SupervisorEvent.SignalReceived(Signals.USR1, 1))
            .Then(SupervisorEvent.Changed)
            .Then(new SupervisorEvent.ChildExited(4242, ExitStatus.Exited(0))) // a reaped orphan
            .ThenWaitForDeadline();
        ChildExits(0);

        StepStatus final = Run(Plan(retries: 1, retryDelay: TimeSpan.FromSeconds(3)));

        _launcher.Attempts.Should().Be(2);
        final.State.Should().Be(StepState.Succeeded);
        _events.Waits.Skip(1).Take(4).Should().AllBeEquivalentTo(TimeSpan.FromSeconds(3), "no time passed, the whole delay is still ahead");
        _clock.Elapsed.Should().Be(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void A_command_stopped_by_a_forwarded_TERM_is_not_retried()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 1))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.TERM)));

        StepStatus final = Run(Plan(retries: 3));

        _launcher.Attempts.Should().Be(1);
        final.ExitCode.Should().Be(143);
        _fakeLauncher.Sent.Should().Equal((Child, true, Signals.TERM));
    }

    [Fact]
    public void Continue_on_error_applies_after_the_last_retry()
    {
        ChildExits(4).ThenWaitForDeadline();
        ChildExits(5);

        StepStatus final = Run(Plan(retries: 1, continueOnError: true));

        _launcher.Attempts.Should().Be(2);
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(5);
        final.ContinueOnError.Should().BeTrue();
        StepRunner.ExitCodeOf(final).Should().Be(0);
    }

    [Fact]
    public void A_launch_failure_on_a_retry_ends_the_retries()
    {
        // The first attempt runs and fails; then the binary disappears.
        ChildExits(1).ThenWaitForDeadline();
        _launcher.FailOnAttempt[2] = new LaunchException("work: not found", 127);

        StepStatus final = Run(Plan(retries: 5));

        _launcher.Attempts.Should().Be(2);
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(127);
    }

    // ---- streams and result references ----

    private sealed class FakeConsumerWait(Streams.ConsumerOutcome outcome, List<string> journal) : Streams.IConsumerWait
    {
        public Streams.ConsumerOutcome WaitForConsumer()
        {
            journal.Add("wait for consumer");
            return outcome;
        }
    }

    private sealed class Release(List<string> journal) : IDisposable
    {
        public void Dispose() => journal.Add("release stdin");
    }

    [Fact]
    public void A_producer_waits_for_its_consumer_after_the_gates_and_before_the_command()
    {
        ChildExits(0);
        StepStatus final = Run(Plan() with { AwaitConsumer = new FakeConsumerWait(new Streams.ConsumerOutcome.Ready(), _journal) });
        final.ExitCode.Should().Be(0);
        _launcher.Attempts.Should().Be(1);
        _journal.IndexOf("wait for consumer").Should().BeGreaterThan(-1).And.BeLessThan(_journal.FindIndex(e => e.StartsWith("start", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_producer_whose_consumer_never_read_fails_with_the_given_code_and_never_starts()
    {
        StepStatus final = Run(Plan() with { AwaitConsumer = new FakeConsumerWait(new Streams.ConsumerOutcome.GaveUp(141, "step 'c' ended without reading the stream"), _journal) });
        _launcher.Attempts.Should().Be(0);
        final.State.Should().Be(StepState.Failed);
        final.ExitCode.Should().Be(141);
        final.Message.Should().Be("step 'c' ended without reading the stream");
    }

    [Fact]
    public void The_consumers_copy_of_its_stdin_is_released_once_the_command_started()
    {
        ChildExits(0);
        Run(Plan() with { ReleaseAfterStart = new Release(_journal) });
        _journal.Should().Contain("release stdin");
        _journal.IndexOf("release stdin").Should().BeGreaterThan(_journal.FindIndex(e => e.StartsWith("start", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_result_reference_that_cannot_be_resolved_fails_the_step_with_125_before_anything_starts()
    {
        StepStatus final = Run(Plan() with { Prepare = _ => throw new StepResultMissingException("$(steps.a.results.x): step 'a' has no result 'x'") });
        _launcher.Attempts.Should().Be(0);
        final.ExitCode.Should().Be(ExitCodes.EmissaryFailure);
        final.Message.Should().Contain("has no result 'x'");
    }

    [Fact]
    public void Prepare_replaces_the_command_that_starts()
    {
        ChildExits(0);
        var replaced = new ResolvedCommand("/bin/work", ["sha256:abc"]) { Argv = ["work", "sha256:abc"] };
        Run(Plan() with { Prepare = plan => plan with { Command = replaced } });
        _fakeLauncher.Started.Single().Command.Should().BeSameAs(replaced);
    }
}
