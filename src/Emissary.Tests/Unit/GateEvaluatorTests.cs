using Emissary.Control;
using Emissary.Gates;

namespace Emissary.Tests.Unit;

/// <summary>
/// The gate evaluator against a real temporary control directory. Locks are taken with
/// <see cref="StepHandle.Register"/> in this process: flock(2) locks belong to the open file
/// description, so the evaluator's own probe (a second open) conflicts with them like another
/// process's would. This also checks that the "libc" P/Invokes resolve under the JIT.
/// </summary>
public sealed class GateEvaluatorTests : IDisposable
{
    private readonly string _root;
    private readonly ControlDirectory _dir;
    private readonly GateEvaluator _evaluator;
    private readonly List<IDisposable> _handles = [];

    public GateEvaluatorTests()
    {
        _root = Directory.CreateTempSubdirectory("emissary-gates-").FullName;
        _dir = new ControlDirectory(Path.Combine(_root, "ctl"));
        _evaluator = new GateEvaluator(new DiskGateView(_dir));
    }

    public void Dispose()
    {
        foreach (IDisposable handle in _handles)
        {
            handle.Dispose();
        }
        Directory.Delete(_root, recursive: true);
    }

    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Registers the step like its emissary does (lock held, status waiting).</summary>
    private StepHandle Live(string name)
    {
        StepHandle handle = StepHandle.Register(_dir, name, Now, [], waitsForStart: false);
        _handles.Add(handle);
        return handle;
    }

    /// <summary>Leaves what a finished (or dead) emissary leaves: status and maybe exitcode, no lock held.</summary>
    private void Write(string name, StepState state, int? exitCode, bool continueOnError = false, bool writeExitCode = true)
    {
        Directory.CreateDirectory(_dir.StepDirectory(name));
        var status = new StepStatus { Name = name, State = state, ExitCode = exitCode, ContinueOnError = continueOnError };
        File.WriteAllText(_dir.PathOf(name, ControlDirectory.StatusFile), status.ToJson());
        if (writeExitCode && exitCode is { } code)
        {
            File.WriteAllText(_dir.PathOf(name, ControlDirectory.ExitCodeFile), $"{code}\n");
        }
    }

    private (GateState State, string? Message) After(string step)
    {
        (GateState state, string? message) = _evaluator.Evaluate(new Gate.AfterStep(step));
        return (state, message);
    }

    // ---- --after ----

    [Fact]
    public void A_step_that_has_not_started_is_waited_for_not_dead()
    {
        _evaluator.Evaluate(new Gate.AfterStep("fetch")).Should().Be(GateVerdict.Closed(Wake.Directories), "its directory will say when it registers");
    }

    [Fact]
    public void A_step_directory_without_status_is_not_started_yet()
    {
        Directory.CreateDirectory(_dir.StepDirectory("fetch"));

        After("fetch").State.Should().Be(GateState.Closed);
    }

    [Fact]
    public void A_live_waiting_or_running_step_keeps_the_gate_closed_and_is_watched()
    {
        StepHandle fetch = Live("fetch");
        After("fetch").State.Should().Be(GateState.Closed);

        fetch.MarkRunning(4242, Now);
        _evaluator.Evaluate(new Gate.AfterStep("fetch")).Should().Be(GateVerdict.Closed(Wake.Upstream), "its end wakes the waiter, not its directory");
    }

    [Fact]
    public void IsLockHeld_sees_the_lock_of_a_live_step_and_its_release()
    {
        StepHandle fetch = Live("fetch");
        _dir.IsLockHeld("fetch").Should().BeTrue();

        fetch.Dispose();

        _dir.IsLockHeld("fetch").Should().BeFalse();
        _dir.IsLockHeld("never-started").Should().BeFalse();
    }

    [Theory]
    [InlineData("waiting")]
    [InlineData("running")]
    public void A_step_whose_emissary_died_fails_the_gate_naming_it(string state)
    {
        StepHandle fetch = Live("fetch");
        if (state == StepState.Running.JsonName())
        {
            fetch.MarkRunning(4242, Now);
        }
        fetch.Dispose(); // what the kernel does when the emissary is SIGKILLed

        (GateState s, string? message) = After("fetch");

        s.Should().Be(GateState.Failed);
        message.Should().Contain("'fetch'").And.Contain("died").And.Contain(state);
    }

    [Fact]
    public void A_status_without_a_lock_file_is_a_dead_step()
    {
        Write("fetch", StepState.Running, exitCode: null);

        After("fetch").State.Should().Be(GateState.Failed);
    }

    [Fact]
    public void A_step_that_succeeded_opens_the_gate_even_while_its_emissary_is_still_exiting()
    {
        StepHandle fetch = Live("fetch");
        fetch.Finish(new StepStatus { Name = "fetch", State = StepState.Succeeded, ExitCode = 0 });

        After("fetch").Should().Be((GateState.Open, (string?)null));
    }

    [Fact]
    public void A_step_that_succeeded_and_exited_opens_the_gate()
    {
        Write("fetch", StepState.Succeeded, 0);

        After("fetch").State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_failed_step_fails_the_gate_with_its_exit_code()
    {
        Write("fetch", StepState.Failed, 3);

        (GateState s, string? message) = After("fetch");

        s.Should().Be(GateState.Failed);
        message.Should().Be("step 'fetch' failed with exit code 3");
    }

    [Fact]
    public void A_failed_step_with_continue_on_error_opens_the_gate()
    {
        Write("fetch", StepState.Failed, 3, continueOnError: true);

        After("fetch").State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_skipped_step_fails_the_gate()
    {
        Write("fetch", StepState.Skipped, 123);

        (GateState s, string? message) = After("fetch");

        s.Should().Be(GateState.Failed);
        message.Should().Be("step 'fetch' was skipped");
    }

    [Fact]
    public void A_failed_step_whose_status_claims_success_is_judged_by_its_status()
    {
        // status.json is final once exitcode exists; it is what says "continue on error".
        Write("fetch", StepState.Failed, 124, continueOnError: true);
        After("fetch").State.Should().Be(GateState.Open);
    }

    [Theory]
    [InlineData(0, "Open")]
    [InlineData(1, "Failed")]
    public void Without_a_readable_status_the_exit_code_decides(int code, string expectedState)
    {
        GateState expected = Enum.Parse<GateState>(expectedState);
        Directory.CreateDirectory(_dir.StepDirectory("fetch"));
        File.WriteAllText(_dir.PathOf("fetch", ControlDirectory.ExitCodeFile), $"{code}\n");
        File.WriteAllText(_dir.PathOf("fetch", ControlDirectory.StatusFile), "not json");

        After("fetch").State.Should().Be(expected);
    }

    [Fact]
    public void A_waiting_step_with_a_stale_exitcode_from_a_previous_run_is_cleaned_up_by_its_registration()
    {
        Write("fetch", StepState.Failed, 1);

        Live("fetch"); // the container restarted: its new emissary removes the old markers

        After("fetch").State.Should().Be(GateState.Closed);
    }

    // ---- --wait-file / --wait-content ----

    [Fact]
    public void A_file_gate_is_closed_until_the_file_exists()
    {
        string path = Path.Combine(_root, "ready");
        _evaluator.Evaluate(new Gate.FileExists(path, false)).State.Should().Be(GateState.Closed);

        File.WriteAllText(path, "");

        _evaluator.Evaluate(new Gate.FileExists(path, false)).State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_content_gate_needs_a_non_empty_file()
    {
        string path = Path.Combine(_root, "ready");
        File.WriteAllText(path, "");
        _evaluator.Evaluate(new Gate.FileExists(path, true)).State.Should().Be(GateState.Closed);

        File.WriteAllText(path, "x");

        _evaluator.Evaluate(new Gate.FileExists(path, true)).State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_directory_satisfies_a_file_gate_but_not_a_content_gate()
    {
        string path = Path.Combine(_root, "ready");
        Directory.CreateDirectory(path);

        _evaluator.Evaluate(new Gate.FileExists(path, false)).State.Should().Be(GateState.Open);
        _evaluator.Evaluate(new Gate.FileExists(path, true)).State.Should().Be(GateState.Closed);
    }

    [Fact]
    public void An_err_file_fails_the_file_gate_even_when_the_file_exists()
    {
        string path = Path.Combine(_root, "ready");
        File.WriteAllText(path, "x");
        File.WriteAllText(path + ".err", "1\n");

        (GateState s, string? message) = _evaluator.Evaluate(new Gate.FileExists(path, false));

        s.Should().Be(GateState.Failed);
        message.Should().Contain(path + ".err");
    }

    [Fact]
    public void File_gates_work_without_a_control_directory()
    {
        var evaluator = new GateEvaluator(new DiskGateView(null));
        string path = Path.Combine(_root, "ready");
        File.WriteAllText(path, "");

        evaluator.Evaluate(new Gate.FileExists(path, false)).State.Should().Be(GateState.Open);
        evaluator.Invoking(e => e.Evaluate(new Gate.AfterStep("x"))).Should().Throw<InvalidOperationException>();
    }

    // ---- --wait-fifo ----

    [Fact]
    public void A_fifo_gate_opens_once_the_waiter_saw_a_write()
    {
        var gate = new Gate.Fifo(Path.Combine(_root, "go"));
        _evaluator.Evaluate(gate).State.Should().Be(GateState.Closed);

        _evaluator.FifoWritten(gate.Path);

        _evaluator.Evaluate(gate).State.Should().Be(GateState.Open);
    }

    // ---- --wait-start ----

    [Fact]
    public void A_manual_gate_waits_for_the_start_request()
    {
        Live("deploy");
        var gate = new Gate.ManualStart("deploy");
        _evaluator.Evaluate(gate).State.Should().Be(GateState.Closed);

        File.WriteAllText(_dir.RequestPath("deploy", start: true), "");

        _evaluator.Evaluate(gate).State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_skip_request_skips_and_wins_over_a_start_request()
    {
        Live("deploy");
        var gate = new Gate.ManualStart("deploy");
        File.WriteAllText(_dir.RequestPath("deploy", start: false), "");

        (GateState s, string? message) = _evaluator.Evaluate(gate);
        s.Should().Be(GateState.Skipped);
        message.Should().Contain("deploy");

        File.WriteAllText(_dir.RequestPath("deploy", start: true), "");
        _evaluator.Evaluate(gate).State.Should().Be(GateState.Skipped);
    }

    // ---- --stdin-from: the gate names the producer, the evaluator is given the stream ----

    /// <summary>A consumer's stream as the evaluator sees it: what it received, what it refused.</summary>
    private sealed class FakeIncomingStream(string producer) : IIncomingStream
    {
        public string Producer => producer;

        public bool Received { get; set; }

        public string? Problem { get; set; }

        public int Advances { get; private set; }

        public string Rendezvous => "/ctl/" + producer + "/stdout";

        public string? Advance()
        {
            Advances++;
            return Problem;
        }
    }

    [Fact]
    public void A_stream_gate_opens_once_the_producer_started_and_the_given_stream_received_the_pipe()
    {
        var stream = new FakeIncomingStream("produce");
        var evaluator = new GateEvaluator(new DiskGateView(_dir), stream);
        var gate = new Gate.StreamFrom("produce");
        StepHandle producer = Live("produce");

        evaluator.Evaluate(gate).State.Should().Be(GateState.Closed, "the producer has not started");
        stream.Advances.Should().Be(0, "advancing the stream is the waiter's effect, not the evaluator's");

        stream.Received = true;
        evaluator.Evaluate(gate).State.Should().Be(GateState.Closed, "a pipe without a started writer could read a premature EOF");

        producer.MarkRunning(4242, Now);
        evaluator.Evaluate(gate).State.Should().Be(GateState.Open);
    }

    [Fact]
    public void A_stream_gate_fails_when_the_producer_started_without_handing_the_pipe_or_the_stream_is_refused()
    {
        var stream = new FakeIncomingStream("produce");
        var evaluator = new GateEvaluator(new DiskGateView(_dir), stream);
        Live("produce").MarkRunning(4242, Now);

        var gate = new Gate.StreamFrom("produce");

        evaluator.StreamAdvanced(null);
        evaluator.Evaluate(gate).Should().Be(GateVerdict.Closed(Wake.Again),
            "the pipe may have been handed over after the stream last advanced: one more advance settles it");
        evaluator.Evaluate(gate).Should().Be(GateVerdict.Closed(Wake.Again), "still no advance since the start was seen");
        evaluator.StreamAdvanced(null);
        (GateState state, string? message) = evaluator.Evaluate(gate);
        state.Should().Be(GateState.Failed);
        message.Should().Contain("/ctl/produce/stdout").And.Contain("--stdout-to");

        evaluator.StreamAdvanced("refused: a link planted as the socket");
        evaluator.Evaluate(gate).Should().Be(GateVerdict.Failed("refused: a link planted as the socket"));
    }

    [Fact]
    public void A_pipe_handed_over_just_before_the_start_was_seen_opens_on_the_next_advance()
    {
        var stream = new FakeIncomingStream("produce");
        var evaluator = new GateEvaluator(new DiskGateView(_dir), stream);
        var gate = new Gate.StreamFrom("produce");
        evaluator.StreamAdvanced(null);         // the waiter let the stream advance: nothing handed yet
        Live("produce").MarkRunning(4242, Now); // then the producer handed the pipe over and said it started

        evaluator.Evaluate(gate).Should().Be(GateVerdict.Closed(Wake.Again));
        stream.Received = true;                 // the next advance takes the pipe
        evaluator.StreamAdvanced(null);

        evaluator.Evaluate(gate).Should().Be(GateVerdict.Open);
    }

    // ---- the evaluator decides from what it is given ----

    /// <summary>A world made of answers: no file, no lock, no directory behind it.</summary>
    private sealed class ScriptedView : IGateView
    {
        public Dictionary<string, int> ExitCodes { get; } = [];
        public Dictionary<string, StepStatus> Statuses { get; } = [];
        public HashSet<string> Running { get; } = [];
        public Dictionary<string, long> Files { get; } = [];

        public int? ExitCode(string step) => ExitCodes.TryGetValue(step, out int code) ? code : null;
        public StepStatus? Status(string step) => Statuses.GetValueOrDefault(step);
        public bool IsRunning(string step) => Running.Contains(step);
        public bool HasRequest(string step, bool start) => false;
        public long? FileLength(string path) => Files.TryGetValue(path, out long length) ? length : null;
        public bool IsDirectory(string path) => false;
        public IEnumerable<string> DirectoriesToWatch(Gate gate) => [];
    }

    [Fact]
    public void Verdicts_come_from_the_view_alone_and_say_what_can_change_them()
    {
        var view = new ScriptedView();
        var evaluator = new GateEvaluator(view);
        var after = new Gate.AfterStep("fetch");
        var file = new Gate.FileExists("/nowhere/ready", NonEmpty: true);
        var http = new Gate.HttpReady(Emissary.Net.HttpTarget.Parse("http://127.0.0.1:1/ready", "test"));

        evaluator.Evaluate(after).Should().Be(GateVerdict.Closed(Wake.Directories));
        view.Statuses["fetch"] = new StepStatus { Name = "fetch", State = StepState.Running };
        view.Running.Add("fetch");
        evaluator.Evaluate(after).Should().Be(GateVerdict.Closed(Wake.Upstream));
        view.Running.Clear();
        evaluator.Evaluate(after).State.Should().Be(GateState.Failed, "alive once, gone now, no exit code");
        view.ExitCodes["fetch"] = 0;
        evaluator.Evaluate(after).Should().Be(GateVerdict.Open);

        view.Files["/nowhere/ready"] = 0;
        evaluator.Evaluate(file).Should().Be(GateVerdict.Closed(Wake.Directories), "empty, and content was asked for");
        view.Files["/nowhere/ready"] = 3;
        evaluator.Evaluate(file).Should().Be(GateVerdict.Open);

        evaluator.NeedsProbe(http).Should().BeTrue();
        evaluator.Evaluate(http).Should().Be(GateVerdict.Closed(Wake.Probe), "nothing was probed: the evaluator does not probe");
        evaluator.EndpointReady(http);
        evaluator.Evaluate(http).Should().Be(GateVerdict.Open);
        evaluator.NeedsProbe(http).Should().BeFalse("readiness stays once seen");
    }

    [Fact]
    public void A_stream_gate_without_that_producer_s_stream_is_a_wiring_error()
    {
        Live("produce");
        Action none = () => _evaluator.Evaluate(new Gate.StreamFrom("produce"));
        none.Should().Throw<InvalidOperationException>().WithMessage("*'produce'*");
        Action other = () => new GateEvaluator(new DiskGateView(_dir), new FakeIncomingStream("other")).Evaluate(new Gate.StreamFrom("produce"));
        other.Should().Throw<InvalidOperationException>();
    }

    // ---- what to watch ----

    [Fact]
    public void Watches_the_directories_whose_changes_matter()
    {
        new DiskGateView(_dir).DirectoriesToWatch(new Gate.AfterStep("fetch")).Should().Equal(_dir.Root, _dir.StepDirectory("fetch"));
        new DiskGateView(_dir).DirectoriesToWatch(new Gate.ManualStart("deploy")).Should().Equal(_dir.Root);
        new DiskGateView(_dir).DirectoriesToWatch(new Gate.FileExists(Path.Combine(_root, "sub", "ready"), false)).Should().Equal(Path.Combine(_root, "sub"));
        new DiskGateView(_dir).DirectoriesToWatch(new Gate.Fifo(Path.Combine(_root, "go"))).Should().BeEmpty();
        new DiskGateView(_dir).DirectoriesToWatch(new Gate.StreamFrom("produce")).Should().Equal(_dir.Root, _dir.StepDirectory("produce"));
    }
}
