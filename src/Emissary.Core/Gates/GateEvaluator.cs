using Emissary.Control;
using Emissary.Foundation;
using Emissary.Net;
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

/// <summary>
/// Decides, from what is on disk right now, whether each gate is open. It never waits: the
/// waiter calls it again whenever inotify, a FIFO or a released lock says something changed.
/// <paramref name="incoming"/> is the step's stream, for its <see cref="Gate.StreamFrom"/> gate.
/// </summary>
internal sealed class GateEvaluator(ControlDirectory? controlDirectory, IIncomingStream? incoming = null)
{
    private readonly HashSet<string> _openedFifos = new(StringComparer.Ordinal);
    private readonly HashSet<string> _runningUpstreams = new(StringComparer.Ordinal);

    /// <summary>Upstream steps seen alive (lock held) but unfinished: the waiter watches their locks.</summary>
    public IReadOnlySet<string> RunningUpstreams => _runningUpstreams;

    /// <summary>How long one readiness probe may take; the waiter probes again at its polling interval.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(250);

    private readonly HashSet<Gate> _readyEndpoints = [];

    /// <summary>Tells the evaluator that something was written to FIFO gate <paramref name="path"/>: that gate stays open.</summary>
    public void FifoWritten(string path) => _openedFifos.Add(path);

    /// <summary>Whether any gate can only be polled (a remote endpoint's readiness has no event to wait on).</summary>
    public static bool NeedsPolling(IEnumerable<Gate> gates) => gates.Any(g => g is Gate.HttpReady or Gate.TcpReady);

    public (GateState State, string? Message) Evaluate(Gate gate) => gate switch
    {
        Gate.HttpReady or Gate.TcpReady when _readyEndpoints.Contains(gate) => (GateState.Open, null),
        Gate.HttpReady http => Probe(gate, () => LoopbackHttp.Request(http.Target, "GET", ProbeTimeout) is >= 200 and < 300),
        Gate.TcpReady tcp => Probe(gate, () => LoopbackHttp.CanConnect(tcp.Endpoint, ProbeTimeout)),
        Gate.AfterStep after => EvaluateAfter(after.Step),
        Gate.FileExists file => EvaluateFile(file),
        Gate.Fifo fifo => _openedFifos.Contains(fifo.Path) ? (GateState.Open, null) : (GateState.Closed, null),
        Gate.ManualStart manual => EvaluateManual(manual.Step),
        Gate.StreamFrom stream => EvaluateStream(stream),
        _ => throw new ArgumentOutOfRangeException(nameof(gate)),
    };

    /// <summary>Directories whose changes can change this gate's state (for inotify).</summary>
    public IEnumerable<string> DirectoriesToWatch(Gate gate) => gate switch
    {
        Gate.AfterStep after => [Dir.Root, Dir.StepDirectory(after.Step)],
        Gate.FileExists file => [Path.GetDirectoryName(Path.GetFullPath(file.Path)) ?? "/"],
        Gate.ManualStart => [Dir.Root],
        Gate.StreamFrom stream => [Dir.Root, Dir.StepDirectory(stream.Step)],
        _ => [],
    };

    /// <summary>Readiness stays once seen: a proxy that answered once is up.</summary>
    private (GateState, string?) Probe(Gate gate, Func<bool> probe)
    {
        bool ready;
        try
        {
            ready = probe();
        }
        catch (IOException)
        {
            ready = false;
        }
        if (ready)
        {
            _readyEndpoints.Add(gate);
            return (GateState.Open, null);
        }
        return (GateState.Closed, null);
    }

    /// <summary>
    /// For sidecars: whether step NAME is over, whatever the outcome — finished (exitcode), or
    /// its emissary gone without finishing. A step that has not started is not over.
    /// </summary>
    public bool IsOver(string step)
    {
        if (Dir.ReadExitCode(step) is not null)
        {
            return true;
        }
        if (Dir.ReadStatus(step) is null)
        {
            return false;
        }
        if (Dir.IsLockHeld(step))
        {
            _runningUpstreams.Add(step);
            return false;
        }
        return true;
    }

    private ControlDirectory Dir => controlDirectory ?? throw new InvalidOperationException("this gate needs the control directory");

    private (GateState, string?) EvaluateAfter(string step)
    {
        if (Finished(step) is { } finished)
        {
            return finished;
        }
        StepStatus? status = Dir.ReadStatus(step);
        if (status is null)
        {
            return (GateState.Closed, null); // not started yet: that is not a failure
        }
        if (!Dir.IsLockHeld(step))
        {
            // The lock is free but there is no exitcode. The step may have finished between the
            // two reads (it writes exitcode before it exits), so look once more.
            // Say what is known: its emissary is gone without an exit code. Killed (SIGKILL, out of
            // memory) or unable to write it (a full disk) look the same from here.
            return Finished(step) ?? (GateState.Failed,
                $"step '{step}' stopped without recording an exit code (its last status: {status.State.JsonName()}); its emissary died (SIGKILL, out of memory) or could not write (disk full?)");
        }
        _runningUpstreams.Add(step);
        return (GateState.Closed, null);
    }

    private (GateState, string?)? Finished(string step)
    {
        if (Dir.ReadExitCode(step) is not { } code)
        {
            return null;
        }
        if (code == ExitCodes.Success)
        {
            // Only a success is recorded as 0 (a skip is 123, a failure let through by --on-error
            // keeps its own code): the common hand-off needs no status.json.
            return (GateState.Open, null);
        }
        StepStatus? status = Dir.ReadStatus(step);
        if (status?.LetsDependantsRun == true)
        {
            return (GateState.Open, null);
        }
        StepState state = status?.State ?? StepState.Failed;
        return (GateState.Failed, state == StepState.Skipped
            ? $"step '{step}' was skipped"
            : $"step '{step}' {state.JsonName()} with exit code {code}");
    }

    private static (GateState, string?) EvaluateFile(Gate.FileExists gate)
    {
        if (File.Exists(gate.Path + ".err"))
        {
            return (GateState.Failed, $"{gate.Path}.err exists: the step that writes {gate.Path} failed");
        }
        var info = new FileInfo(gate.Path);
        if (info.Exists && (!gate.NonEmpty || info.Length > 0))
        {
            return (GateState.Open, null);
        }
        // A directory counts as existing when content is not asked for.
        if (!gate.NonEmpty && Directory.Exists(gate.Path))
        {
            return (GateState.Open, null);
        }
        return (GateState.Closed, null);
    }

    /// <summary>
    /// A consumer's stream: connect to the producer's socket and claim the stream as soon as the
    /// socket exists (the producer hands the pipe over once its own gates are open, which lets it
    /// start), then wait until the producer has started its command (status with a start time):
    /// from then on a writer holds the pipe until the producer has recorded its outcome. A producer
    /// that ended without starting (skipped, failed in its own gates, gave up on its consumer) or
    /// died fails this gate. The status is read before the connection is looked at: a producer
    /// hands the pipe over before it says it started, so a start seen here means the pipe is there.
    /// </summary>
    private (GateState, string?) EvaluateStream(Gate.StreamFrom gate)
    {
        string step = gate.Step;
        IIncomingStream stream = incoming is { } given && given.Producer == step ? given
            : throw new InvalidOperationException($"a gate waits for a stream from step '{step}', but the waiter was given none from it");
        StepStatus? status = Dir.ReadStatus(step);
        string? problem = stream.Advance();
        if (Dir.ReadExitCode(step) is { } code)
        {
            status = Dir.ReadStatus(step);
            if (status?.StartedAt is not null && stream.Received)
            {
                return (GateState.Open, null); // it ran and wrote into the pipe: what is left there, then EOF
            }
            return Finished(step) is (GateState.Failed, _) failed ? failed
                : (GateState.Failed, $"step '{step}' ended (exit code {code}) without streaming its stdout here (is it run with --stdout-to?)");
        }
        if (problem is not null)
        {
            return (GateState.Failed, problem);
        }
        if (status is null)
        {
            return (GateState.Closed, null);
        }
        if (!Dir.IsLockHeld(step))
        {
            return Dir.ReadExitCode(step) is null
                ? (GateState.Failed, $"step '{step}' stopped without recording an exit code (its last status: {status.State.JsonName()}); its emissary died (SIGKILL, out of memory) or could not write (disk full?)")
                : (GateState.Closed, null); // it finished between the reads: look again
        }
        if (status.StartedAt is not null)
        {
            return stream.Received ? (GateState.Open, null)
                : (GateState.Failed, $"step '{step}' started without handing its stream ({stream.Rendezvous}) to this step: run it with --stdout-to");
        }
        return (GateState.Closed, null);
    }

    private (GateState, string?) EvaluateManual(string step)
    {
        if (Dir.HasRequest(step, start: false))
        {
            return (GateState.Skipped, $"step '{step}' was skipped with 'emissary skip'");
        }
        return Dir.HasRequest(step, start: true) ? (GateState.Open, null) : (GateState.Closed, null);
    }
}
