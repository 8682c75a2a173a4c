using Emissary.Control;
using Emissary.Events;
using Emissary.Gates;
using Emissary.Supervision;
using Emissary.Telemetry;
using Emissary.Tests.Unit.Fakes;
using Emissary.Logging;

namespace Emissary.Tests.Unit.Telemetry;

/// <summary>The step runner's telemetry hooks, with fakes: called in order, the attempt's variables reach the child, the usage reaches the recorder.</summary>
public sealed class StepObserverTests
{
    private sealed class RecordingObserver : IStepObserver
    {
        public List<string> Calls { get; } = [];

        private int _attempt;

        public void GatesDone() => Calls.Add("gates");

        public IReadOnlyDictionary<string, string> AttemptStarting()
        {
            _attempt++;
            Calls.Add($"start {_attempt}");
            return new Dictionary<string, string> { ["TRACEPARENT"] = $"attempt-{_attempt}" };
        }

        public void AttemptRunning() => Calls.Add("running");

        public void AttemptEnded(int pid, int exitCode) => Calls.Add($"end {pid} {exitCode}");

        public StepStatus Ended(StepStatus final)
        {
            Calls.Add("ended");
            return final with { Usage = new StepUsage { Attempts = _attempt } };
        }
    }

    [Fact]
    public void Each_attempt_is_announced_gets_its_own_variables_and_the_usage_is_recorded()
    {
        var clock = new FakeClock();
        var launcher = new FakeLauncher(100);
        var journal = new List<string>();
        var events = new ScriptedEvents(clock);
        events.Then(new SupervisorEvent.ChildExited(100, ExitStatus.Exited(1)));
        events.Then(new SupervisorEvent.ChildExited(100, ExitStatus.Exited(1)));
        var recorder = new FakeRecorder(journal);
        var observer = new RecordingObserver();
        var runner = new StepRunner(new FakeGateWaiter(new GateOutcome.Open([]), clock, null, journal), new Supervisor(launcher, events, clock, NullLogger.Instance),
            events, recorder, clock, NullLogger.Instance) { Observer = observer };
        var plan = new StepPlan
        {
            Name = "build",
            Command = new ResolvedCommand("/bin/work", []) { Argv = ["work"] },
            Launch = new LaunchSettings { ExtraEnvironment = new Dictionary<string, string> { ["EMISSARY_RESULTS"] = "/r" } },
            Rules = new StepRules { Retries = 1, RetryDelay = TimeSpan.Zero },
        };

        StepStatus final = runner.Run(plan);

        observer.Calls.Should().Equal("gates", "start 1", "running", "end 100 1", "start 2", "running", "end 100 1", "ended");
        launcher.Started.Select(s => s.Settings.ExtraEnvironment["TRACEPARENT"]).Should().Equal("attempt-1", "attempt-2");
        launcher.Started.Should().OnlyContain(s => s.Settings.ExtraEnvironment["EMISSARY_RESULTS"] == "/r", "the step's own variables stay");
        recorder.Finished.Should().ContainSingle().Which.Usage!.Attempts.Should().Be(2, "the recorder writes the status with its usage");
        final.Usage.Should().NotBeNull();
    }

    [Fact]
    public void A_command_that_cannot_start_is_one_ended_attempt_and_a_skipped_step_none()
    {
        var clock = new FakeClock();
        var journal = new List<string>();
        var events = new ScriptedEvents(clock);
        var observer = new RecordingObserver();
        var launcher = new FakeLauncher(100) { FailWith = new LaunchException("nope: permission denied", 126) };
        var runner = new StepRunner(new FakeGateWaiter(new GateOutcome.Open([]), clock, null, journal), new Supervisor(launcher, events, clock, NullLogger.Instance),
            events, new FakeRecorder(journal), clock, NullLogger.Instance) { Observer = observer };
        runner.Run(new StepPlan { Name = "x", Command = new ResolvedCommand("/bin/x", []) { Argv = ["x"] } }).ExitCode.Should().Be(126);
        observer.Calls.Should().Equal("gates", "start 1", "end 0 126", "ended");

        var skipped = new RecordingObserver();
        new StepRunner(new FakeGateWaiter(new GateOutcome.UpstreamFailed("step 'a' failed"), clock, null, journal), new Supervisor(launcher, events, clock, NullLogger.Instance),
            events, new FakeRecorder(journal), clock, NullLogger.Instance) { Observer = skipped }
            .Run(new StepPlan { Name = "y", Command = null }).State.Should().Be(StepState.Skipped);
        skipped.Calls.Should().Equal("gates", "ended");
    }
}
