using Emissary.Events;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit;

/// <summary>
/// The one wait for a decision (Events/DecisionWait) that run's pauses and the Tekton drop-in's
/// breakpoint and file waits share, with a scripted loop and a fake clock.
/// </summary>
public sealed class DecisionWaitTests
{
    private readonly FakeEventLoop _loop = new();
    private readonly FakeClock _clock = new();

    [Fact]
    public void A_decision_already_there_ends_it_without_waiting()
    {
        DecisionWait.Await(_loop, _clock, () => true, TimeSpan.FromHours(1), out _).Should().Be(DecisionEnd.Decided);
        _loop.Waits.Should().BeEmpty();
    }

    [Fact]
    public void It_asks_again_after_every_wake_up_and_ignores_signals_that_do_not_terminate()
    {
        int asked = 0;
        _loop.Then(SupervisorEvent.Changed).Then(new SupervisorEvent.SignalReceived(Signals.USR1, 0)).Then(SupervisorEvent.Changed);

        DecisionWait.Await(_loop, _clock, () => ++asked == 4, limit: null, out _).Should().Be(DecisionEnd.Decided);

        asked.Should().Be(4);
        _loop.Waits.Should().Equal([null, null, null], "no limit, no recheck: it sleeps until an event");
    }

    [Fact]
    public void A_terminating_signal_ends_it_and_says_which()
    {
        _loop.Then(SupervisorEvent.Changed).Then(new SupervisorEvent.SignalReceived(Signals.TERM, 0));

        DecisionWait.Await(_loop, _clock, () => false, TimeSpan.FromMinutes(1), out int signal).Should().Be(DecisionEnd.Signalled);

        signal.Should().Be(Signals.TERM);
    }

    [Fact]
    public void The_limit_is_the_clocks_and_each_wait_sleeps_only_what_is_left_or_until_the_recheck()
    {
        _loop.Then(t => { _clock.Advance(TimeSpan.FromSeconds(2)); return SupervisorEvent.Deadline; })
             .Then(t => { _clock.Advance(TimeSpan.FromSeconds(8)); return SupervisorEvent.Deadline; })
             .Then(t => { _clock.Advance(t!.Value); return SupervisorEvent.Deadline; });

        DecisionWait.Await(_loop, _clock, () => false, TimeSpan.FromSeconds(12), out _, recheck: () => TimeSpan.FromSeconds(10))
            .Should().Be(DecisionEnd.TimedOut);

        _loop.Waits.Should().Equal([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2)]);
    }
}

/// <summary>
/// The wait a retry delay and a step resumed by a debug request (before it exits) share: the delay
/// passes on the event loop, and only a terminating signal ends it early.
/// </summary>
public sealed class SleepUnlessTerminatedTests
{
    private readonly FakeEventLoop _loop = new();
    private readonly FakeClock _clock = new();

    [Fact]
    public void The_delay_passes_through_other_signals_and_reaped_orphans_then_ends_on_its_deadline()
    {
        _loop.Then(t => { _clock.Advance(TimeSpan.FromMilliseconds(100)); return new SupervisorEvent.SignalReceived(Signals.WINCH, 0); })
            .Then(t => { _clock.Advance(TimeSpan.FromMilliseconds(50)); return new SupervisorEvent.ChildExited(4242, ExitStatus.FromWaitStatus(0)); })
            .Then(t => { _clock.Advance(t!.Value); return SupervisorEvent.Deadline; });

        _loop.SleepUnlessTerminated(_clock, TimeSpan.FromMilliseconds(250)).Should().BeNull();

        _loop.Waits.Should().Equal([TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(150), TimeSpan.FromMilliseconds(100)],
            "each wait is for what is left of the delay");
    }

    [Fact]
    public void A_terminating_signal_ends_it_at_once_and_is_returned()
    {
        _loop.Then(t => { _clock.Advance(TimeSpan.FromMilliseconds(10)); return new SupervisorEvent.SignalReceived(Signals.TERM, 1); });

        _loop.SleepUnlessTerminated(_clock, TimeSpan.FromMilliseconds(250)).Should().Be(Signals.TERM);

        _loop.Waits.Should().HaveCount(1);
    }
}
