using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Logging;
using Emissary.Supervision;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit;

/// <summary>The step runner's breakpoints with fakes: where it pauses, and what each way out of a pause records.</summary>
public sealed class BreakpointRunnerTests
{
    private const int Child = 100;
    private readonly FakeClock _clock = new();
    private readonly List<string> _journal = [];
    private readonly ScriptedEvents _events;
    private readonly ScriptedDebug _debug = new();

    public BreakpointRunnerTests() => _events = new ScriptedEvents(_clock);

    private sealed class ScriptedDebug : IDebugRequests
    {
        /// <summary>What each look for a resume finds, in order (null: nothing yet).</summary>
        public Queue<DebugRequest?> Resumes { get; } = new();

        public bool PauseAsked => false;

        public DebugRequest? TakeResume() => Resumes.Count > 0 ? Resumes.Dequeue() : null;

        public void Clear()
        {
        }
    }

    private StepStatus Run(PausePoint breakpoints, TimeSpan? breakpointTimeout = null)
    {
        var recorder = new FakeRecorder(_journal);
        var supervisor = new Supervisor(new CountingLauncher(new FakeLauncher(Child), _journal), _events, _clock, NullLogger.Instance);
        var runner = new StepRunner(new FakeGateWaiter(new GateOutcome.Open([]), _clock, null, _journal), supervisor, _events, recorder, _clock, NullLogger.Instance)
        {
            Debug = _debug,
        };
        return runner.Run(new StepPlan
        {
            Name = "build",
            Command = new ResolvedCommand("/bin/work", []) { Argv = ["work"] },
            Rules = new StepRules { Breakpoints = breakpoints, BreakpointTimeout = breakpointTimeout ?? TimeSpan.FromHours(1) },
        });
    }

    [Fact]
    public void A_rerun_from_on_failure_is_a_new_attempt_whose_success_stands()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(1))).Then(SupervisorEvent.Changed)
            .Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));
        _debug.Resumes.Enqueue(null);
        _debug.Resumes.Enqueue(DebugRequest.Rerun);

        StepStatus final = Run(PausePoint.OnFailure);

        final.State.Should().Be(StepState.Succeeded);
        final.Attempts.Should().Be(2);
        final.Pause!.ResumedBy.Should().Be("rerun");
        _journal.Should().ContainInOrder("paused on-failure 1", $"running {Child} attempt 2", "finish succeeded 0");
    }

    [Fact]
    public void A_success_does_not_stop_at_on_failure()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0)));

        Run(PausePoint.OnFailure).State.Should().Be(StepState.Succeeded);
        _journal.Should().NotContain(l => l.StartsWith("paused", StringComparison.Ordinal));
    }

    [Fact]
    public void A_terminating_signal_ends_a_pause_with_128_plus_the_signal()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(0))).Then(new SupervisorEvent.SignalReceived(Signals.TERM, 1));

        StepStatus final = Run(PausePoint.After);

        final.ExitCode.Should().Be(143);
        final.State.Should().Be(StepState.Failed);
        final.Pause!.ResumedBy.Should().Be("SIGTERM");
    }

    [Fact]
    public void The_breakpoint_timeout_lets_the_recorded_outcome_stand()
    {
        _events.Then(new SupervisorEvent.ChildExited(Child, ExitStatus.Exited(2))).ThenWaitForDeadline();

        StepStatus final = Run(PausePoint.OnFailure, TimeSpan.FromSeconds(30));

        final.ExitCode.Should().Be(2);
        final.Pause!.ResumedBy.Should().Be("timeout");
        _events.Waits.Should().Contain(TimeSpan.FromSeconds(30), "the pause waits exactly its own limit");
    }

    [Fact]
    public void Fail_before_the_command_never_starts_it_and_exits_121()
    {
        _events.Then(SupervisorEvent.Changed);
        _debug.Resumes.Enqueue(null);
        _debug.Resumes.Enqueue(DebugRequest.Fail);

        StepStatus final = Run(PausePoint.Before);

        final.ExitCode.Should().Be(ExitCodes.FailedByRequest);
        _journal.Should().NotContain(l => l.StartsWith("running", StringComparison.Ordinal));
    }
}
