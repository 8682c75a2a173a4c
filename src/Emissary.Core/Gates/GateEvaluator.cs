using Emissary.Control;
using Emissary.Foundation;
using Emissary.Foundation.Sequences;

namespace Emissary.Gates;

/// <summary>Where one gate stands right now.</summary>
internal enum GateState
{
    Closed,
    Open,
    Failed,
    Skipped,
}

/// <summary>What can change a closed gate, so what the waiter must arm before it looks again.</summary>
internal enum Wake
{
    /// <summary>Nothing: the gate is decided.</summary>
    Nothing,

    /// <summary>A change in the gate's directories (inotify on them).</summary>
    Directories,

    /// <summary>The upstream is running: its end (alive FIFO hangup or released lock) says when to look.</summary>
    Upstream,

    /// <summary>A write to the gate's FIFO.</summary>
    Fifo,

    /// <summary>Nothing announces it (a remote endpoint's readiness): probe again on a timer.</summary>
    Probe,

    /// <summary>Look again at once, after the waiter has let the stream advance once more.</summary>
    Again,
}

/// <summary>One gate's state, why (for a failure or a skip), and what can change it.</summary>
internal readonly record struct GateVerdict(GateState State, string? Message, Wake Wake)
{
    public static readonly GateVerdict Open = new(GateState.Open, null, Wake.Nothing);

    public static GateVerdict Closed(Wake wake) => new(GateState.Closed, null, wake);

    public static GateVerdict Failed(string message) => new(GateState.Failed, message, Wake.Nothing);

    public void Deconstruct(out GateState state, out string? message) => (state, message) = (State, Message);
}

/// <summary>Whether a step a sidecar watches is over (see <see cref="GateEvaluator.IsOver"/>).</summary>
internal enum StepProgress
{
    NotStarted,
    Running,
    Over,
}

/// <summary>
/// Decides whether each gate is open from what it is given and says what can change it. It does
/// no I/O of its own: it looks only through the <see cref="IGateView"/>, and the effects — reading
/// a FIFO, probing an endpoint, letting a stream connect and claim — are the waiter's, which
/// reports them here (<see cref="FifoWritten"/>, <see cref="EndpointReady"/>,
/// <see cref="StreamAdvanced"/>). It never waits: the waiter calls it again whenever something
/// it armed says a change may have happened.
/// </summary>
internal sealed class GateEvaluator(IGateView view, IIncomingStream? incoming = null)
{
    private readonly HashSet<string> _openedFifos = new(StringComparer.Ordinal);
    private readonly HashSet<Gate> _readyEndpoints = [];
    private string? _streamProblem;
    private bool _advancedSinceStartSeen;
    private bool _startSeen;

    /// <summary>The waiter read something written to FIFO gate <paramref name="path"/>: that gate stays open.</summary>
    public void FifoWritten(string path) => _openedFifos.Add(path);

    /// <summary>The waiter's probe of an HTTP or TCP gate succeeded: readiness stays once seen (a proxy that answered once is up).</summary>
    public void EndpointReady(Gate gate) => _readyEndpoints.Add(gate);

    /// <summary>Whether the waiter should probe <paramref name="gate"/> before the next evaluation.</summary>
    public bool NeedsProbe(Gate gate) => gate is Gate.HttpReady or Gate.TcpReady && !_readyEndpoints.Contains(gate);

    /// <summary>The waiter let the incoming stream do what it could (connect, claim, take the pipe); <paramref name="problem"/> is why it was refused, or null.</summary>
    public void StreamAdvanced(string? problem)
    {
        _streamProblem = problem;
        _advancedSinceStartSeen = _startSeen;
    }

    /// <summary>What can change <paramref name="gate"/> before anything was looked at (an --after gate's first look finds out whether its upstream runs).</summary>
    public static Wake WakeBeforeLooking(Gate gate) => gate switch
    {
        Gate.FileExists or Gate.ManualStart or Gate.StreamFrom => Wake.Directories,
        Gate.Fifo => Wake.Fifo,
        Gate.HttpReady or Gate.TcpReady => Wake.Probe,
        _ => Wake.Nothing,
    };

    public GateVerdict Evaluate(Gate gate) => gate switch
    {
        Gate.HttpReady or Gate.TcpReady => _readyEndpoints.Contains(gate) ? GateVerdict.Open : GateVerdict.Closed(Wake.Probe),
        Gate.AfterStep after => EvaluateAfter(after.Step),
        Gate.FileExists file => EvaluateFile(file),
        Gate.Fifo fifo => _openedFifos.Contains(fifo.Path) ? GateVerdict.Open : GateVerdict.Closed(Wake.Fifo),
        Gate.ManualStart manual => EvaluateManual(manual.Step),
        Gate.StreamFrom stream => EvaluateStream(stream),
        _ => throw new ArgumentOutOfRangeException(nameof(gate)),
    };

    /// <summary>
    /// For sidecars: whether step NAME is over, whatever the outcome — finished (exitcode), or
    /// its emissary gone without finishing. A step that has not started is not over.
    /// </summary>
    public StepProgress IsOver(string step) =>
        Stale(step) ? StepProgress.NotStarted
        : view.ExitCode(step) is not null ? StepProgress.Over
        : view.Status(step) is not { } status || status.State == StepState.Restarting ? StepProgress.NotStarted
        : view.IsRunning(step) ? StepProgress.Running
        : StepProgress.Over;

    /// <summary>
    /// Whether step NAME's record is from an earlier incarnation of the pod (all containers were
    /// restarted in place since): it reads as "not yet run", whatever it says. Costs a look only
    /// once an in-place restart of the pod happened (DIR/.incarnation exists).
    /// </summary>
    private bool Stale(string step) =>
        view.Incarnation() is { } current && !Control.Incarnation.IsCurrent(view.Status(step)?.Incarnation, current);

    private GateVerdict EvaluateAfter(string step)
    {
        if (Stale(step))
        {
            return GateVerdict.Closed(Wake.Directories); // the step has not registered in this incarnation yet
        }
        if (Finished(step) is { } finished)
        {
            return finished;
        }
        StepStatus? status = view.Status(step);
        if (status is null)
        {
            return GateVerdict.Closed(Wake.Directories); // not started yet: that is not a failure
        }
        if (status.State == StepState.Restarting)
        {
            // Failed, and the kubelet runs it again: its next run registers (a change in its directory).
            return GateVerdict.Closed(Wake.Directories);
        }
        if (!view.IsRunning(step))
        {
            // The lock is free but there is no exitcode. The step may have finished between the
            // two reads (it writes exitcode before it exits), so look once more.
            // Say what is known: its emissary is gone without an exit code. Killed (SIGKILL, out of
            // memory) or unable to write it (a full disk) look the same from here.
            return Finished(step) ?? GateVerdict.Failed(Vanished(step, status));
        }
        return GateVerdict.Closed(Wake.Upstream);
    }

    private static string Vanished(string step, StepStatus status) =>
        $"step '{step}' stopped without recording an exit code (its last status: {status.State.JsonName()}); its emissary died (SIGKILL, out of memory) or could not write (disk full?)";

    private GateVerdict? Finished(string step)
    {
        if (view.ExitCode(step) is not { } code)
        {
            return null;
        }
        if (code == ExitCodes.Success)
        {
            // Only a success is recorded as 0 (a skip is 123, a failure let through by --on-error
            // keeps its own code): the common hand-off needs no status.json.
            return GateVerdict.Open;
        }
        StepStatus? status = view.Status(step);
        if (status?.LetsDependantsRun == true)
        {
            return GateVerdict.Open;
        }
        StepState state = status?.State ?? StepState.Failed;
        return GateVerdict.Failed(state == StepState.Skipped
            ? $"step '{step}' was skipped"
            : $"step '{step}' {state.JsonName()} with exit code {code}");
    }

    private GateVerdict EvaluateFile(Gate.FileExists gate)
    {
        if (view.FileLength(gate.Path + ".err") is not null)
        {
            return GateVerdict.Failed($"{gate.Path}.err exists: the step that writes {gate.Path} failed");
        }
        if (view.FileLength(gate.Path) is { } length && (!gate.NonEmpty || length > 0))
        {
            return GateVerdict.Open;
        }
        // A directory counts as existing when content is not asked for.
        return !gate.NonEmpty && view.IsDirectory(gate.Path) ? GateVerdict.Open : GateVerdict.Closed(Wake.Directories);
    }

    /// <summary>
    /// A consumer's stream: the waiter lets it connect to the producer's socket and claim the
    /// stream as soon as the socket exists (the producer hands the pipe over once its own gates
    /// are open, which lets it start); this waits until the producer has started its command
    /// (status with a start time): from then on a writer holds the pipe until the producer has
    /// recorded its outcome. A producer that ended without starting (skipped, failed in its own
    /// gates, gave up on its consumer) or died fails this gate.
    /// A producer hands the pipe over before it says it started, but the waiter let the stream
    /// advance before this look: a start seen without the pipe proves nothing until one more
    /// advance has come after it (<see cref="Wake.Again"/>), then it is a producer that does not stream.
    /// </summary>
    private GateVerdict EvaluateStream(Gate.StreamFrom gate)
    {
        string step = gate.Step;
        IIncomingStream stream = incoming is { } given && given.Producer == step ? given
            : throw new InvalidOperationException($"a gate waits for a stream from step '{step}', but the waiter was given none from it");
        if (view.ExitCode(step) is { } code)
        {
            if (view.Status(step)?.StartedAt is not null)
            {
                return stream.Received ? GateVerdict.Open // it ran and wrote into the pipe: what is left there, then EOF
                    : StartedWithoutPipe() ?? GateVerdict.Failed($"step '{step}' ended (exit code {code}) without streaming its stdout here (is it run with --stdout-to?)");
            }
            return Finished(step) is { State: GateState.Failed } failed ? failed
                : GateVerdict.Failed($"step '{step}' ended (exit code {code}) without streaming its stdout here (is it run with --stdout-to?)");
        }
        if (_streamProblem is { } problem)
        {
            return GateVerdict.Failed(problem);
        }
        StepStatus? status = view.Status(step);
        if (status is null || status.State == StepState.Restarting)
        {
            return GateVerdict.Closed(Wake.Directories);
        }
        if (!view.IsRunning(step))
        {
            return view.ExitCode(step) is null ? GateVerdict.Failed(Vanished(step, status))
                : GateVerdict.Closed(Wake.Again); // it finished between the reads: look again
        }
        if (status.StartedAt is not null)
        {
            return stream.Received ? GateVerdict.Open
                : StartedWithoutPipe() ?? GateVerdict.Failed($"step '{step}' started without handing its stream ({stream.Rendezvous}) to this step: run it with --stdout-to");
        }
        return GateVerdict.Closed(Wake.Directories);
    }

    /// <summary>Null once a start seen without the pipe has had one more advance after it; until then, look again.</summary>
    private GateVerdict? StartedWithoutPipe()
    {
        if (_startSeen && _advancedSinceStartSeen)
        {
            return null;
        }
        _startSeen = true;
        _advancedSinceStartSeen = false;
        return GateVerdict.Closed(Wake.Again);
    }

    private GateVerdict EvaluateManual(string step)
    {
        if (view.HasRequest(step, start: false))
        {
            return new GateVerdict(GateState.Skipped, $"step '{step}' was skipped with 'emissary skip'", Wake.Nothing);
        }
        return view.HasRequest(step, start: true) ? GateVerdict.Open : GateVerdict.Closed(Wake.Directories);
    }
}
