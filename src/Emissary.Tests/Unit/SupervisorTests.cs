using Emissary.Events;
using Emissary.Foundation;
using Emissary.Supervision;
using Emissary.Tests.Unit.Fakes;
using Emissary.Logging;

namespace Emissary.Tests.Unit;

public sealed class SupervisorTests
{
    private const int Child = 100;
    private readonly FakeClock _clock = new();
    private readonly FakeLauncher _launcher = new(Child);
    private readonly ScriptedEvents _events;

    public SupervisorTests() => _events = new ScriptedEvents(_clock);

    private static readonly ResolvedCommand Command = new("/bin/work", ["a"]) { Argv = ["work", "a"] };

    private ChildOutcome Run(SupervisionPolicy? policy = null) =>
        new Supervisor(_launcher, _events, _clock, NullLogger.Instance).Run(Command, policy ?? new SupervisionPolicy(), new LaunchSettings());

    [Fact]
    public void Reports_the_exit_code_of_the_main_child()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(3)));

        Run().ExitCode.Should().Be(3);
    }

    [Fact]
    public void Reports_128_plus_the_signal_that_killed_the_child()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.KILL)));

        Run().ExitCode.Should().Be(137);
    }

    [Fact]
    public void Starts_the_child_in_its_own_process_group_by_default()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run();

        _launcher.Started.Should().ContainSingle().Which.Settings.OwnProcessGroup.Should().BeTrue();
    }

    [Fact]
    public void Forwards_signals_to_the_group_and_keeps_running()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.USR1, 42))
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 42))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run().ExitCode.Should().Be(0);

        _launcher.Sent.Should().Equal((Child, true, Signals.USR1), (Child, true, Signals.TERM));
    }

    [Fact]
    public void As_pid_1_a_terminating_signal_is_forwarded_and_the_group_killed_after_the_grace()
    {
        // Issue #28: the container's stop signal (TERM here) goes to the group as it came; the
        // group that is still there --grace later gets SIGKILL, so the outcome is emissary's to record.
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 0))
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.KILL)));

        ChildOutcome outcome = Run(new SupervisionPolicy { KillAfterStopSignal = true, Grace = TimeSpan.FromSeconds(3) });

        outcome.ExitCode.Should().Be(137);
        outcome.TerminatingSignal.Should().Be(Signals.TERM);
        _launcher.Sent.Should().Equal((Child, true, Signals.TERM), (Child, true, Signals.KILL));
        _events.Waits[1].Should().Be(TimeSpan.FromSeconds(3), "the grace starts when the signal came");
    }

    [Fact]
    public void Not_as_pid_1_a_terminating_signal_is_only_forwarded()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 0))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run(new SupervisionPolicy { Grace = TimeSpan.FromSeconds(3) }).ExitCode.Should().Be(0);

        _events.Waits[1].Should().BeNull("no deadline: the caller of a non-init emissary stops what is left");
    }

    [Fact]
    public void With_single_child_signals_go_to_the_child_alone()
    {
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.HUP, 0))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run(new SupervisionPolicy { OwnProcessGroup = false });

        _launcher.Sent.Should().Equal((Child, false, Signals.HUP));
        _launcher.Started.Single().Settings.OwnProcessGroup.Should().BeFalse();
    }

    [Fact]
    public void A_signal_for_a_child_that_is_already_gone_is_not_an_error()
    {
        _launcher.Gone.Add(Child);
        _events
            .Then(new SupervisorEvent.SignalReceived(Signals.TERM, 0))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run().ExitCode.Should().Be(0);
    }

    [Fact]
    public void Reaped_orphans_do_not_end_the_run()
    {
        _events
            .Then(new SupervisorEvent.ChildExited(7001, ExitStatus.Exited(1)))
            .Then(new SupervisorEvent.ChildExited(7002, ExitStatus.KilledBy(Signals.KILL)))
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(5)));

        ChildOutcome outcome = Run();

        outcome.ExitCode.Should().Be(5);
        outcome.Pid.Should().Be(Child);
    }

    [Fact]
    public void Without_a_timeout_the_loop_waits_without_a_deadline()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run();

        _events.Waits.Should().Equal([null]);
    }

    [Fact]
    public void A_timeout_sends_TERM_to_the_group_and_exits_124()
    {
        _launcher.GroupAlive = false; // the leader was alone in its group
        _events
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.TERM)));

        ChildOutcome outcome = Run(new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(30) });

        outcome.ExitCode.Should().Be(ExitCodes.TimedOut);
        _events.Waits[0].Should().Be(TimeSpan.FromSeconds(30));
        _launcher.Sent.Should().StartWith((Child, true, Signals.TERM));
    }

    [Fact]
    public void A_child_that_ignores_TERM_is_killed_after_the_grace_period()
    {
        _events
            .ThenWaitForDeadline()
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.KILL)));

        ChildOutcome outcome = Run(new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(5), Grace = TimeSpan.FromSeconds(2) });

        outcome.ExitCode.Should().Be(ExitCodes.TimedOut);
        _events.Waits.Take(2).Should().Equal(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2));
        _launcher.Sent.Take(2).Should().Equal((Child, true, Signals.TERM), (Child, true, Signals.KILL));
    }

    [Fact]
    public void After_a_timeout_the_rest_of_the_group_keeps_its_grace_then_is_killed()
    {
        _events
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.TERM)))
            .ThenWaitForDeadline();

        ChildOutcome outcome = Run(new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(1), Grace = TimeSpan.FromSeconds(3) });

        outcome.ExitCode.Should().Be(ExitCodes.TimedOut);
        _events.Waits.Last().Should().Be(TimeSpan.FromSeconds(3), "the leader's exit does not cut the group's grace short");
        _launcher.Sent.Should().Equal((Child, true, Signals.TERM), (Child, true, Signals.KILL));
    }

    [Fact]
    public void After_a_timeout_an_emptied_group_ends_the_run_without_waiting_for_the_grace()
    {
        _launcher.GroupAlive = false;
        _events
            .ThenWaitForDeadline()
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.KilledBy(Signals.TERM)));

        Run(new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(1) }).ExitCode.Should().Be(ExitCodes.TimedOut);

        _launcher.Sent.Should().Equal((Child, true, Signals.TERM));
    }

    [Fact]
    public void A_child_that_finishes_in_time_is_not_signalled()
    {
        _events
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run(new SupervisionPolicy { Timeout = TimeSpan.FromSeconds(30) }).ExitCode.Should().Be(0);

        _launcher.Sent.Should().BeEmpty();
    }

    [Fact]
    public void A_launch_failure_propagates_with_its_exit_code()
    {
        _launcher.FailWith = new LaunchException("no", ExitCodes.CannotExecute);

        FluentActions.Invoking(() => Run()).Should().Throw<LaunchException>().Which.ExitCode.Should().Be(126);
    }
}
