using Emissary.Logging;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Sidecars;

namespace Emissary.Supervision;

/// <summary>How the supervised command is run.</summary>
internal sealed record SupervisionPolicy
{
    /// <summary>Own process group (signals go to the whole group) or emissary's (<c>--single-child</c>).</summary>
    public bool OwnProcessGroup { get; init; } = true;

    /// <summary><c>--timeout</c>: SIGTERM to the group when it expires, then SIGKILL after <see cref="Grace"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>--stop-signal</c>: what a sidecar is stopped with when its steps are over, and the container's stop signal.</summary>
    public int StopSignal { get; init; } = Signals.TERM;

    /// <summary>
    /// As PID 1: a terminating signal (the container's stop signal included) is forwarded as it
    /// arrived, and the group gets SIGKILL if it is still there <see cref="Grace"/> later — so
    /// the outcome is recorded by emissary, before the runtime's own KILL ends the whole container.
    /// </summary>
    public bool KillAfterStopSignal { get; init; }
}

/// <summary>How one run of the command ended.</summary>
internal sealed record ChildOutcome(ExitStatus Status, bool TimedOut, int Pid)
{
    /// <summary>The last terminating signal (TERM, INT, HUP, QUIT) received while the child ran: the pod is going away, do not retry.</summary>
    public int? TerminatingSignal { get; init; }

    /// <summary>We stopped it (a sidecar whose steps are over): being stopped by us is success.</summary>
    public bool Stopped { get; init; }

    /// <summary>The exit code emissary reports: 124 on timeout, otherwise the child's (128+S when signalled).</summary>
    public int ExitCode => TimedOut ? ExitCodes.TimedOut : Stopped ? ExitCodes.Success : Status.ToExitCode();
}

/// <summary>
/// The run loop: start the child, forward every signal to it, reap every child (the main one and
/// orphans re-parented to us), enforce the timeout, and return as soon as the main child has
/// exited — background grandchildren are not waited for (Argo #6375 hung exactly there).
/// </summary>
internal sealed partial class Supervisor(IProcessLauncher launcher, ISupervisorEvents events, IClock clock, ILogger logger)
{
    public ChildOutcome Run(ResolvedCommand command, SupervisionPolicy policy, LaunchSettings settings, Action<int>? onStarted = null, IStopCondition? stopWhen = null)
    {
        int pid = launcher.Start(command, settings with { OwnProcessGroup = policy.OwnProcessGroup });
        Log.Started(logger, command.Path, pid);
        onStarted?.Invoke(pid);
        int? terminatingSignal = null;
        bool stopped = false;

        TimeSpan? termAt = policy.Timeout is { } t ? clock.Elapsed + t : null;
        TimeSpan? killAt = null;
        bool timedOut = false;
        ChildOutcome? leaderOutcome = null;

        void StopIfDue()
        {
            if (!stopped && !timedOut && stopWhen is not null && stopWhen.ShouldStop())
            {
                stopped = true;
                Log.Stopping(logger, stopWhen.Reason, Signals.Name(policy.StopSignal), pid);
                launcher.Signal(pid, policy.OwnProcessGroup, policy.StopSignal);
                termAt = null;
                killAt = clock.Elapsed + policy.Grace;
            }
        }
        StopIfDue();

        while (true)
        {
            TimeSpan? recheck = stopped ? null : stopWhen?.RecheckEvery;
            TimeSpan? nextDeadline = killAt ?? termAt;
            if (recheck is { } every && (nextDeadline is null || clock.Elapsed + every < nextDeadline))
            {
                nextDeadline = clock.Elapsed + every;
            }
            TimeSpan? wait = nextDeadline is { } d ? Max(d - clock.Elapsed, TimeSpan.Zero) : null;

            switch (events.Next(wait))
            {
                case SupervisorEvent.SignalReceived received:
                    Forward(pid, policy, received);
                    if (Signals.IsTerminating(received.Signal))
                    {
                        terminatingSignal = received.Signal;
                        if (policy.KillAfterStopSignal && killAt is null)
                        {
                            killAt = clock.Elapsed + policy.Grace;
                        }
                    }
                    break;

                case SupervisorEvent.ChildExited exited when exited.Pid == pid:
                    Log.Exited(logger, pid, exited.Status);
                    var outcome = new ChildOutcome(exited.Status, timedOut, pid) { TerminatingSignal = terminatingSignal, Stopped = stopped };
                    if ((timedOut || stopped) && policy.OwnProcessGroup && killAt is not null && launcher.Signal(pid, toGroup: true, 0))
                    {
                        // We asked the group to stop and the leader went first: the rest of the group
                        // keeps its grace period (it may be cleaning up), then gets SIGKILL.
                        leaderOutcome = outcome;
                        break;
                    }
                    return outcome;

                case SupervisorEvent.ChildExited when leaderOutcome is not null:
                    if (!launcher.Signal(pid, toGroup: true, 0))
                    {
                        return leaderOutcome; // the group is empty
                    }
                    break;

                case SupervisorEvent.ChildExited orphan:
                    Log.ReapedOrphan(logger, orphan.Pid, orphan.Status);
                    break;

                case SupervisorEvent.DeadlineReached when killAt is { } k && clock.Elapsed >= k:
                    Log.Killing(logger, pid, Duration.Format(policy.Grace));
                    launcher.Signal(pid, policy.OwnProcessGroup, Signals.KILL);
                    killAt = null;
                    termAt = null;
                    if (leaderOutcome is not null)
                    {
                        return leaderOutcome;
                    }
                    break;

                case SupervisorEvent.DeadlineReached when !timedOut && termAt is { } tt && clock.Elapsed >= tt:
                    Log.TimedOut(logger, Duration.Format(policy.Timeout!.Value), pid);
                    timedOut = true;
                    launcher.Signal(pid, policy.OwnProcessGroup, Signals.TERM);
                    termAt = null;
                    killAt = clock.Elapsed + policy.Grace;
                    break;

                case SupervisorEvent.DeadlineReached:
                case SupervisorEvent.Wakeup:
                    StopIfDue();
                    break;
            }
        }
    }

    private void Forward(int pid, SupervisionPolicy policy, SupervisorEvent.SignalReceived received)
    {
        bool delivered = launcher.Signal(pid, policy.OwnProcessGroup, received.Signal);
        if (delivered)
        {
            Log.Forwarded(logger, Signals.Name(received.Signal), received.SenderPid, pid);
        }
        else
        {
            // tini: a warning, not a crash, when the target is already gone.
            Log.TargetGone(logger, Signals.Name(received.Signal), pid);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static class Log
    {
        public static void Started(ILogger logger, string path, int pid)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"started {path} as pid {pid}");
            }
        }

        // The status is formatted only when the line is written: on the path from the child's exit
        // to the dependants' release, nothing is spent on a log level that is off.
        public static void Exited(ILogger logger, int pid, ExitStatus status)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"child {pid} ended: {status}");
            }
        }

        public static void ReapedOrphan(ILogger logger, int pid, ExitStatus status)
        {
            if (logger.IsEnabled(LogLevel.Trace))
            {
                logger.Write(LogLevel.Trace, $"reaped orphan {pid}: {status}");
            }
        }

        public static void Forwarded(ILogger logger, string signal, int sender, int pid)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"forwarded {signal} from pid {sender} to {pid}");
            }
        }

        public static void TargetGone(ILogger logger, string signal, int pid)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"could not forward {signal}: child {pid} is already gone");
            }
        }

        public static void TimedOut(ILogger logger, string timeout, int pid)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"timeout of {timeout} expired: sending SIGTERM to {pid}");
            }
        }

        public static void Stopping(ILogger logger, string reason, string signal, int pid)
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                logger.Write(LogLevel.Information, $"{reason}: stopping {pid} with {signal}");
            }
        }

        public static void Killing(ILogger logger, int pid, string grace)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"child {pid} still running {grace} after being asked to stop: sending SIGKILL");
            }
        }
    }
}
