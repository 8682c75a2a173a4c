using Emissary.Control;
using Emissary.Events;
using Emissary.Gates;
using Emissary.Logging;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit;

/// <summary>
/// The wait loop with a fake clock and a scripted event loop, against a real temporary directory
/// (inotify and the alive FIFO are real; what wakes the loop is the script).
/// </summary>
public sealed class GateWaiterTests : IDisposable
{
    private readonly string _root;
    private readonly ControlDirectory _dir;
    private readonly FakeClock _clock = new();
    private readonly FakeEventLoop _loop = new();
    private readonly GateWaiter _waiter;
    private readonly List<IDisposable> _handles = [];

    public GateWaiterTests()
    {
        _root = Directory.CreateTempSubdirectory("emissary-waiter-").FullName;
        _dir = new ControlDirectory(Path.Combine(_root, "ctl"));
        _waiter = new GateWaiter(_dir, _loop, NullLogger.Instance, _clock);
    }

    public void Dispose()
    {
        _waiter.Dispose();
        foreach (IDisposable handle in _handles)
        {
            handle.Dispose();
        }
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void A_file_that_is_already_there_opens_the_gate_without_waiting()
    {
        string file = Path.Combine(_root, "ready");
        File.WriteAllText(file, "");

        _waiter.Wait([new Gate.FileExists(file, NonEmpty: false)], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.Open>();
        _loop.Waits.Should().BeEmpty();
    }

    [Fact]
    public void A_file_that_appears_while_waiting_opens_the_gate_and_the_wait_has_no_timer()
    {
        string file = Path.Combine(_root, "ready");
        _loop.Then(_ =>
        {
            File.WriteAllText(file, "");
            return SupervisorEvent.Changed;
        });

        _waiter.Wait([new Gate.FileExists(file, NonEmpty: false)], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.Open>();
        _loop.Waits.Should().Equal([null], "the directory is watched: no polling");
        _loop.Watching.Should().BeGreaterThan(0, "the inotify instance is in the loop's set");
    }

    [Fact]
    public void SIGTERM_ends_the_wait_and_other_signals_do_not()
    {
        _loop.Then(new SupervisorEvent.SignalReceived(10, 0)).Then(new SupervisorEvent.SignalReceived(15, 0));

        _waiter.Wait([new Gate.FileExists(Path.Combine(_root, "never"), NonEmpty: false)], timeout: null, upstreamFailureOpens: false)
            .Should().Be(new GateOutcome.Interrupted(15));
        _loop.Waits.Should().HaveCount(2);
    }

    [Fact]
    public void The_timeout_is_measured_on_the_injected_clock()
    {
        _loop.Then(timeout =>
        {
            timeout.Should().Be(TimeSpan.FromSeconds(5));
            _clock.Advance(timeout!.Value);
            return SupervisorEvent.Deadline;
        });

        _waiter.Wait([new Gate.FileExists(Path.Combine(_root, "never"), NonEmpty: false)], TimeSpan.FromSeconds(5), upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.TimedOut>();
    }

    [Fact]
    public void An_upstream_that_dies_mid_wait_ends_the_wait()
    {
        StepHandle upstream = StepHandle.Register(_dir, "a", _clock.UtcNow, [], waitsForStart: false);
        _handles.Add(upstream);
        _loop.Then(_ =>
        {
            upstream.Dispose(); // its emissary goes away without recording an outcome
            return SupervisorEvent.Changed;
        });

        _waiter.Wait([new Gate.AfterStep("a")], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.UpstreamFailed>();
        _loop.Waits.Should().Equal([null], "the upstream's alive FIFO wakes the loop: no polling");
    }

    /// <summary>The disk as the evaluator sees it, with a hook that runs right after a file is looked at.</summary>
    private sealed class HookedView(ControlDirectory dir, Action<string> afterLookingAt) : IGateView
    {
        private readonly DiskGateView _disk = new(dir);

        public int? ExitCode(string step) => _disk.ExitCode(step);

        public StepStatus? Status(string step) => _disk.Status(step);

        public bool IsRunning(string step) => _disk.IsRunning(step);

        public bool HasRequest(string step, bool start) => _disk.HasRequest(step, start);

        public long? FileLength(string path)
        {
            long? length = _disk.FileLength(path);
            afterLookingAt(path);
            return length;
        }

        public bool IsDirectory(string path) => _disk.IsDirectory(path);

        public IEnumerable<string> DirectoriesToWatch(Gate gate) => _disk.DirectoriesToWatch(gate);
    }

    [Fact]
    public void A_file_that_appears_between_the_look_and_the_wait_still_wakes_the_loop()
    {
        string file = Path.Combine(_root, "ready");
        bool created = false;
        var view = new HookedView(_dir, path =>
        {
            if (path == file && !created)
            {
                created = true;
                File.WriteAllText(file, ""); // the writer wins the race: just after the look said "missing"
            }
        });
        using var waiter = new GateWaiter(_dir, _loop, NullLogger.Instance, _clock, view: view);
        _loop.Then(_ => _loop.WakeFromReadyDescriptors());

        waiter.Wait([new Gate.FileExists(file, NonEmpty: false)], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.Open>("the watch was armed before the look, so the write after it is an event");
        created.Should().BeTrue();
        _loop.Waits.Should().Equal([null]);
    }

    [Fact]
    public void An_upstream_that_finishes_between_the_look_and_the_wait_still_wakes_the_loop()
    {
        StepHandle upstream = StepHandle.Register(_dir, "a", _clock.UtcNow, [], waitsForStart: false);
        _handles.Add(upstream);
        upstream.MarkRunning(4242, _clock.UtcNow);
        _loop.Then(_ =>
        {
            upstream.Finish(new StepStatus { Name = "a", State = StepState.Succeeded, ExitCode = 0 }); // records its outcome and lets go: the alive FIFO hangs up
            return _loop.WakeFromReadyDescriptors();
        });

        _waiter.Wait([new Gate.AfterStep("a")], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.Open>();
        _loop.Waits.Should().Equal([null], "the alive FIFO, armed when the look saw it running, is what wakes the loop");
    }

    [Fact]
    public void A_directory_made_while_waiting_is_watched_itself_from_the_next_look()
    {
        _loop.Then(_ =>
        {
            Directory.CreateDirectory(_dir.StepDirectory("a")); // the control directory and the upstream's, nothing in them yet
            return _loop.WakeFromReadyDescriptors();
        }).Then(_ =>
        {
            StepHandle upstream = StepHandle.Register(_dir, "a", _clock.UtcNow, [], waitsForStart: false);
            _handles.Add(upstream);
            upstream.Finish(new StepStatus { Name = "a", State = StepState.Succeeded, ExitCode = 0 }); // all inside a/
            return _loop.WakeFromReadyDescriptors();
        });

        _waiter.Wait([new Gate.AfterStep("a")], timeout: null, upstreamFailureOpens: false)
            .Should().BeOfType<GateOutcome.Open>("what is written inside the new directory is seen: it was watched once it existed");
        _loop.Waits.Should().HaveCount(2);
    }
}
