using Emissary.Control;
using Emissary.Recording;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Results;
using Emissary.Logging;
using Emissary.Sidecars;

namespace Emissary.Supervision;

/// <summary>How a step waits and runs, whatever its command: what `emissary run`'s flags decide.</summary>
internal sealed record StepRules
{
    public SupervisionPolicy Policy { get; init; } = new();

    public IReadOnlyList<Gate> Gates { get; init; } = [];

    public TimeSpan? WaitTimeout { get; init; }

    public bool RunOnUpstreamFailure { get; init; }

    public bool ContinueOnError { get; init; }

    public int Retries { get; init; }

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>--breakpoint</c>: where the step pauses (before its command, after it, on its failure).</summary>
    public PausePoint Breakpoints { get; init; }

    /// <summary><c>--breakpoint-timeout</c>: how long one pause lasts at most; then the step goes on as after `debug continue`.</summary>
    public TimeSpan BreakpointTimeout { get; init; } = DefaultBreakpointTimeout;

    public static readonly TimeSpan DefaultBreakpointTimeout = TimeSpan.FromHours(1);
}

/// <summary>What one step is: its command, how it is started, and its rules.</summary>
internal sealed record StepPlan
{
    public required string Name { get; init; }

    public required ResolvedCommand? Command { get; init; }

    /// <summary>Set instead of <see cref="Command"/> when the command could not be resolved (126/127).</summary>
    public LaunchException? CommandProblem { get; init; }

    public LaunchSettings Launch { get; init; } = new();

    public StepRules Rules { get; init; } = new();

    /// <summary>For a sidecar: when to stop the command (its steps are over).</summary>
    public IStopCondition? StopWhen { get; init; }

    /// <summary>For a stream producer (<c>--stdout-to</c>): wait for the consumer once the gates are open, before the command starts.</summary>
    public Streams.IConsumerWait? AwaitConsumer { get; init; }

    /// <summary>Emissary's copy of a stream end the command inherited (<c>--stdin-from</c>): closed once the command started, so the producer gets EPIPE when the command is gone.</summary>
    public IDisposable? ReleaseAfterStart { get; init; }

    /// <summary>
    /// Called once the gates are open, before anything starts: the plan with the step-result
    /// references of its command and environment replaced (<c>$(steps.NAME.results.KEY)</c>), or
    /// a <see cref="Results.StepResultMissingException"/> that fails the step with exit 125.
    /// </summary>
    public Func<StepPlan, StepPlan>? Prepare { get; init; }
}

/// <summary>
/// One step from start to end: gates → command (with retries) → markers. Returns emissary's exit
/// code. It sees only interfaces (gates, the supervisor's launcher and events, the recorder), so
/// it is unit-tested with fakes.
/// </summary>
internal sealed partial class StepRunner(IGateWaiter gates, Supervisor supervisor, ISupervisorEvents events, IStepRecorder recorder, IClock clock, ILogger logger)
{
    /// <summary>Where `emissary debug` requests reach the step (its signal FIFO); none by default.</summary>
    public IDebugRequests Debug { get; init; } = NoDebugRequests.Instance;

    /// <summary>Runs the step and returns the final status (ExitCode is what emissary exits with, before --on-error).</summary>
    public StepStatus Run(StepPlan plan)
    {
        DateTimeOffset waitingSince = clock.UtcNow;
        var status = new StepStatus { Name = plan.Name, State = StepState.Waiting, WaitingSince = waitingSince };

        GateOutcome gate = gates.Wait(plan.Rules.Gates, plan.Rules.WaitTimeout, plan.Rules.RunOnUpstreamFailure);
        Observer.GatesDone();
        StepStatus final = gate switch
        {
            GateOutcome.Open open => RunCommand(plan, status, open),
            GateOutcome.UpstreamFailed failed => Skip(status, failed.Message),
            GateOutcome.SkippedByRequest => Skip(status, $"step '{plan.Name}' was skipped with 'emissary skip'"),
            GateOutcome.TimedOut timedOut => Fail(status, ExitCodes.EmissaryFailure,
                $"gave up after waiting {Duration.Format(plan.Rules.WaitTimeout ?? TimeSpan.Zero)} for {timedOut.Pending}"),
            GateOutcome.Interrupted interrupted => Fail(status, ExitCodes.ForSignal(interrupted.Signal),
                $"{Signals.Name(interrupted.Signal)} received while waiting: the command was not started"),
            _ => throw new InvalidOperationException(gate.ToString()),
        };
        return recorder.Finish(Observer.Ended(final));
    }

    /// <summary>The process exit code for a final status: 0 for a failure let through by --on-error continue.</summary>
    public static int ExitCodeOf(StepStatus final) => final.ContinueOnError ? ExitCodes.Success : final.ExitCode ?? ExitCodes.EmissaryFailure;

    private StepStatus Skip(StepStatus status, string message)
    {
        Log.SkippingStep(logger, message);
        return status with { State = StepState.Skipped, ExitCode = ExitCodes.Skipped, Reason = StepReasons.Skipped, Message = message, FinishedAt = clock.UtcNow };
    }

    private StepStatus Fail(StepStatus status, int exitCode, string message)
    {
        Log.StepFailed(logger, message);
        return status with { State = StepState.Failed, ExitCode = exitCode, Reason = StepReasons.Error, Message = message, FinishedAt = clock.UtcNow };
    }

    private StepStatus RunCommand(StepPlan plan, StepStatus status, GateOutcome.Open open)
    {
        foreach (string failure in open.UpstreamFailures)
        {
            Log.RunningAnyway(logger, failure);
        }
        if (plan.Prepare is { } prepare)
        {
            try
            {
                plan = prepare(plan);
            }
            catch (Results.StepResultMissingException e)
            {
                return Fail(status with { StartedAt = clock.UtcNow }, ExitCodes.EmissaryFailure, e.Message);
            }
        }
        if (plan.Command is null)
        {
            LaunchException problem = plan.CommandProblem ?? new LaunchException("no command", ExitCodes.EmissaryFailure);
            return Fail(status with { StartedAt = clock.UtcNow }, problem.ExitCode, problem.Message);
        }

        if (Debug.PauseAsked || (plan.Rules.Breakpoints & PausePoint.Before) != 0)
        {
            DebugRequest? resume = Pause(plan, ref status, PausePoint.Before, out int? signal);
            if (signal is { } s)
            {
                return Fail(status, ExitCodes.ForSignal(s), Signals.Name(s) + " received while paused");
            }
            if (resume == DebugRequest.Fail)
            {
                return Fail(status, ExitCodes.FailedByRequest, FailedByRequest);
            }
        }

        if (plan.AwaitConsumer?.WaitForConsumer() is Streams.ConsumerOutcome.GaveUp gaveUp)
        {
            return Fail(status, gaveUp.ExitCode, gaveUp.Message);
        }

        status = status with { StartedAt = clock.UtcNow };
        for (int attempts = 0; ; )
        {
            StepStatus ended = RunAttempts(plan, status, attempts, attempts == 0 ? plan.Rules.Retries : 0, out bool pausable);
            bool failed = ended.State == StepState.Failed;
            if (!pausable || !(Debug.PauseAsked || (plan.Rules.Breakpoints & PausePoint.After) != 0 || (failed && (plan.Rules.Breakpoints & PausePoint.OnFailure) != 0)))
            {
                return ended;
            }
            DebugRequest? resume = Pause(plan, ref ended, failed ? PausePoint.OnFailure : PausePoint.After, out int? signal);
            switch (resume)
            {
                case null when signal is { } s:
                    return Fail(ended, ExitCodes.ForSignal(s), Signals.Name(s) + " received while paused");
                case DebugRequest.Fail when !failed || ended.ContinueOnError:
                    return Fail(ended with { ContinueOnError = false }, failed ? ended.ExitCode ?? ExitCodes.FailedByRequest : ExitCodes.FailedByRequest, FailedByRequest);
                case DebugRequest.Rerun:
                    // A new attempt in place, numbered from 2: the first one is the one that paused.
                    attempts = attempts == 0 ? 2 : attempts + 1;
                    status = status with { Pause = ended.Pause, Attempts = attempts };
                    continue;
            }
            return ended; // continue, or the pause's timeout: the recorded outcome stands
        }
    }

    private const string FailedByRequest = "emissary debug fail";

    /// <summary>
    /// Runs the command (with up to <paramref name="retries"/> retries) and returns the status it
    /// ended with, and whether a breakpoint may hold it there: not when the pod is going away
    /// (a terminating signal) or a sidecar was stopped.
    /// </summary>
    private StepStatus RunAttempts(StepPlan plan, StepStatus status, int attempts, int retries, out bool pausable)
    {
        pausable = true;
        DateTimeOffset startedAt = status.StartedAt ?? clock.UtcNow;
        ChildOutcome? outcome = null;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                outcome = supervisor.Run(plan.Command!, plan.Rules.Policy, WithAttemptEnvironment(plan.Launch), pid =>
                {
                    status = status with { State = StepState.Running, Pid = pid };
                    plan.ReleaseAfterStart?.Dispose();
                    recorder.MarkRunning(pid, startedAt, attempts);
                    Observer.AttemptRunning();
                }, plan.StopWhen);
                Observer.AttemptEnded(outcome.Pid, outcome.ExitCode);
            }
            catch (LaunchException e)
            {
                Observer.AttemptEnded(0, e.ExitCode);
                // Not found / not executable: a retry would not change that (a pause might).
                return Fail(status, e.ExitCode, e.Message);
            }

            // A child killed by the forwarded terminating signal reports that signal itself.
            bool killedByIt = outcome.TerminatingSignal is { } stop && outcome.ExitCode == ExitCodes.ForSignal(stop);
            if (outcome.ExitCode == ExitCodes.Success || killedByIt || outcome.Stopped || attempt >= retries)
            {
                break;
            }
            // The attempt failed with another attempt due. A terminating signal that came while it
            // ran, or just after the child exited on its own (when the exit and the signal are
            // pending together the loop can see the signal first, so the two cannot be told
            // apart), means what it means during the retry delay: the pod is going away, give up
            // with 128+signal and start no further attempt.
            int? giveUp = outcome.TerminatingSignal;
            if (giveUp is null)
            {
                Log.Retrying(logger, attempt + 1, retries + 1, outcome.ExitCode, Duration.Format(plan.Rules.RetryDelay));
                giveUp = events.SleepUnlessTerminated(clock, plan.Rules.RetryDelay);
            }
            if (giveUp is { } signal)
            {
                pausable = false;
                return Fail(status, ExitCodes.ForSignal(signal), $"{Signals.Name(signal)} received before retrying: giving up");
            }
        }

        int code = outcome.ExitCode;
        string reason = outcome.Stopped ? StepReasons.Stopped
            : code == 0 ? StepReasons.Completed
            : outcome.TimedOut ? StepReasons.TimeoutExceeded
            : StepReasons.Error;
        bool failed = code != 0;
        if (failed && plan.Rules.ContinueOnError)
        {
            Log.ContinuingOnError(logger, code);
        }
        pausable = outcome.TerminatingSignal is null && !outcome.Stopped;
        return status with
        {
            State = failed ? StepState.Failed : StepState.Succeeded,
            ExitCode = code,
            Reason = reason,
            FinishedAt = clock.UtcNow,
            ContinueOnError = failed && plan.Rules.ContinueOnError,
        };
    }

    /// <summary>
    /// The step's one pause, wherever it comes: recorded as paused (dependants keep waiting: no
    /// exitcode, lock held), then waits in the event loop — no --timeout runs here — for a resume
    /// from `emissary debug` (woken by the signal FIFO that carries it), a terminating signal, or
    /// the breakpoint timeout (which goes on as `continue` would). Returns the request (null on a
    /// signal or the timeout) and the <paramref name="signal"/>; <paramref name="status"/> gets the
    /// pause and how it ended (and keeps its own state, not Paused).
    /// </summary>
    private DebugRequest? Pause(StepPlan plan, ref StepStatus status, PausePoint at, out int? signal)
    {
        signal = null;
        Debug.Clear();
        var pause = new StepPause(at, clock.UtcNow);
        Log.Paused(logger, at.Name(), plan.Name);
        recorder.MarkPaused(status with { State = StepState.Paused, Pause = pause }, plan.Command?.Argv ?? [], plan.Launch.WorkingDirectory, plan.Launch.ExtraEnvironment);
        DebugRequest? resume = null;
        switch (DecisionWait.Await(events, clock, () => (resume = Debug.TakeResume()) is not null, plan.Rules.BreakpointTimeout, out int received))
        {
            case DecisionEnd.Decided:
                status = status with { Pause = pause.ResumedWith(resume!.Value.Word()) };
                return resume;
            case DecisionEnd.TimedOut:
                status = status with { Pause = pause.ResumedWith("timeout") };
                return null;
            default:
                signal = received;
                status = status with { Pause = pause.ResumedWith(Signals.Name(received)) };
                return null;
        }
    }

    private static class Log
    {
        public static void Paused(ILogger logger, string at, string name)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, "paused " + at + ": emissary debug continue|fail|rerun " + name);
            }
        }


        public static void SkippingStep(ILogger logger, string message)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"not running the command: {message}");
            }
        }

        public static void StepFailed(ILogger logger, string message)
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                logger.Write(LogLevel.Error, $"{message}");
            }
        }

        public static void RunningAnyway(ILogger logger, string failure)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"running anyway (--run-on-upstream-failure): {failure}");
            }
        }

        public static void Retrying(ILogger logger, int attempt, int attempts, int code, string delay)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"attempt {attempt} of {attempts} failed with exit code {code}: retrying in {delay}");
            }
        }

        public static void ContinuingOnError(ILogger logger, int code)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"the command failed with exit code {code}; continuing (--on-error continue)");
            }
        }
    }
}

/// <summary>A step without a control directory: nobody can send it a debug request.</summary>
internal sealed class NoDebugRequests : IDebugRequests
{
    public static readonly NoDebugRequests Instance = new();

    public bool PauseAsked => false;

    public DebugRequest? TakeResume() => null;

    public void Clear()
    {
    }
}
