using Emissary.Control;
using Emissary.Events;
using Emissary.Recording;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Interop;
using Emissary.Output;
using Emissary.Sidecars;
using Emissary.Streams;
using Emissary.Supervision;
using Emissary.Supervision.Posix;
using Emissary.Logging;
using Emissary.Foundation.Sequences;
using Emissary.Files;

namespace Emissary.Commands;

/// <summary>Everything <c>emissary run</c> was asked to do, after parsing and validation.</summary>
internal sealed record RunOptions
{
    public required IReadOnlyList<string> Command { get; init; }

    public string? Name { get; init; }

    public string ControlDir { get; init; } = ControlDirectory.DefaultRoot;

    /// <summary>Gates, timeouts, retries, on-error and the supervision policy.</summary>
    public StepRules Rules { get; init; } = new();

    public string? PostFile { get; init; }

    /// <summary><c>--results-dir</c>; null: DIR/NAME/results when the step has a name.</summary>
    public string? ResultsDir { get; init; }

    /// <summary><c>--termination-log</c>; null: /dev/termination-log if it exists (the kubelet mounts it).</summary>
    public string? TerminationLog { get; init; }

    public int TerminationBudget { get; init; } = Results.TerminationMessage.DefaultBudget;

    public Results.TerminationFormat TerminationFormat { get; init; } = Results.TerminationFormat.Emissary;

    public string? StdoutPath { get; init; }

    public string? StderrPath { get; init; }

    public string? ResultFromStdout { get; init; }

    /// <summary><c>--sidecar-of</c>: the steps whose end stops this command.</summary>
    public IReadOnlyList<string> SidecarOf { get; init; } = [];

    /// <summary><c>--quit-url</c>/<c>--quit</c>: injected sidecars to tell to quit when the step ends.</summary>
    public Net.HttpTarget[] QuitUrls { get; init; } = [];

    /// <summary><c>--stdin-from</c>: the producer step whose stdout is the command's stdin.</summary>
    public string? StdinFrom { get; init; }

    /// <summary><c>--stdout-to</c>: the consumer step that reads the command's stdout.</summary>
    public string? StdoutTo { get; init; }

    /// <summary><c>--stream-timeout</c>: how long a producer waits for its consumer.</summary>
    public TimeSpan StreamTimeout { get; init; } = Streams.StreamProducer.DefaultTimeout;

    /// <summary><c>--restart-policy</c>/<c>--restart-rules</c>: whether the kubelet restarts this container after a failure.</summary>
    public KubeletRestart Restart { get; init; } = KubeletRestart.Never;

}

/// <summary><c>emissary run [options] -- COMMAND [ARGS...]</c>: wires the real OS pieces to the step runner.</summary>
internal static partial class RunCommand
{
    /// <summary>Where the kubelet mounts the termination message file by default.</summary>
    public const string DefaultTerminationLog = "/dev/termination-log";

    public static int Execute(RunOptions options, ILogger logger)
    {
        try
        {
            return ExecuteStep(options, logger);
        }
        catch (StepDirectoryRefusedException e)
        {
            Log.Failure(logger, e.Message);
            return ExitCodes.Usage;
        }
        catch (GateSetupException e)
        {
            Log.Failure(logger, e.Message);
            return ExitCodes.EmissaryFailure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The control directory or a marker could not be written: the chain of steps depends on
            // those, so this is emissary's own failure, said in one line.
            Log.ControlFailure(logger, options.ControlDir, ErrorText.Reason(e));
            return ExitCodes.EmissaryFailure;
        }
    }

    /// <summary>
    /// How long a step resumed by a debug request waits, once everything is recorded, before it
    /// exits. The request reaches a paused step through <c>kubectl exec ... emissary debug
    /// continue</c>, often in the step's own container; when this process exits the container ends,
    /// and the runtime kills whatever still runs in it — the requester too, which then reports
    /// exit 137 for a request that was carried out. Its dependants were released already (nobody
    /// waits on this), and a terminating signal ends the wait.
    /// </summary>
    internal static readonly TimeSpan RequesterGrace = TimeSpan.FromMilliseconds(250);

    private static int ExecuteStep(RunOptions options, ILogger logger)
    {
        if (Subreaper.Become() is { } noSubreaper)
        {
            Log.NoSubreaper(logger, noSubreaper);
        }
        var clock = new SystemClock();
        Events.Signals.UseContainerStopSignal(options.Rules.Policy.StopSignal);
        if (Libc.GetPid() == 1)
        {
            // The container's init: nobody else will stop what the command leaves running.
            options = options with { Rules = options.Rules with { Policy = options.Rules.Policy with { KillAfterStopSignal = true } } };
        }
        var controlDirectory = new ControlDirectory(options.ControlDir, logger);

        // Resolve first, but report a missing command only once the gates have opened: a step
        // whose upstream failed must be skipped, not fail with 127.
        ResolvedCommand? command = null;
        LaunchException? problem = null;
        try
        {
            command = CommandResolver.Resolve(options.Command, Environment.GetEnvironmentVariable("PATH"), FileProbe.Probe);
        }
        catch (LaunchException e)
        {
            problem = e;
        }

        using var reactor = new Reactor();
        using StepHandle? handle = options.Name is { } name ? StepHandle.Register(controlDirectory, name, clock.UtcNow,
            [.. options.Rules.Gates.Select(g => g.ToString()),
             .. options.StdinFrom is { } producer ? [$"step '{producer}' to start streaming"] : Array.Empty<string>(),
             .. options.StdoutTo is { } reader ? [$"step '{reader}' to take the stream"] : Array.Empty<string>()],
            options.Rules.Gates.Any(g => g is Gate.ManualStart), Incarnation.Read(controlDirectory)) : null;
        // A consumer's stdin: a descriptor reserved now, filled with the pipe's read end while the
        // waiter evaluates the stream's gate (which names the producer; the waiter is given the stream).
        using StreamConsumer? stdin = options.StdinFrom is not null ? new StreamConsumer(controlDirectory, options.StdinFrom, handle!, reactor) : null;
        if (stdin is not null)
        {
            options = options with { Rules = options.Rules with { Gates = [.. options.Rules.Gates, new Gate.StreamFrom(stdin.Producer)] } };
        }
        using SignalRequests? requests = handle is not null ? SignalRequests.Listen(handle, reactor, logger) : null;
        using var gates = new GateWaiter(controlDirectory, reactor, logger, clock, stdin);
        using StreamProducer? stdout = options.StdoutTo is { } consumer ? StreamProducer.Create(handle!, controlDirectory, consumer, options.StreamTimeout, reactor, gates, logger) : null;

        string? resultsDirectory = options.ResultsDir ?? handle?.DefaultResultsDirectory;
        var environment = new Dictionary<string, string>();
        if (resultsDirectory is not null)
        {
            if (options.ResultsDir is not null)
            {
                // Often on a shared volume: made without following a link another container planted.
                using SafeFd made = WritePath.OpenDirectory(options.ResultsDir, create: true);
            }
            else
            {
                handle!.CreateResultsDirectory();
            }
            environment["EMISSARY_RESULTS"] = Path.GetFullPath(resultsDirectory);
        }
        if (handle is not null)
        {
            // So the command can read other steps' results wherever the control directory is
            // (in a pod, or in `emissary local`'s temporary one).
            environment["EMISSARY_CONTROL_DIR"] = Path.GetFullPath(controlDirectory.Root);
        }
        var launch = new LaunchSettings { ExtraEnvironment = environment, StdinFd = stdin?.Stdin.Fd ?? -1, StdoutFd = stdout?.WriteEnd ?? -1 };
        // A producer's captured stdout is pumped into the stream instead of emissary's own stdout.
        using OutputCapture? capture = OutputCapture.Start(
            new CaptureOptions(options.StdoutPath, options.StderrPath, options.ResultFromStdout is not null, options.TerminationBudget),
            reactor.Watch, logger, stdoutConsole: stdout?.WriteEnd ?? 1, stderrConsole: 2);
        if (capture is not null)
        {
            launch = launch with
            {
                StdoutFd = capture.ChildStdout >= 0 ? capture.ChildStdout : launch.StdoutFd,
                StderrFd = capture.ChildStderr,
            };
        }
        var report = new ReportSettings
        {
            ResultsDirectory = options.ResultsDir,
            ResultFromStdout = options.ResultFromStdout,
            // One statx (File.Exists normalises the path and stats it through the runtime's own layer).
            TerminationLog = options.TerminationLog ?? (Libc.KindFollowing(DefaultTerminationLog) is { } kind && kind != FileType.Directory ? DefaultTerminationLog : null),
            Budget = options.TerminationBudget,
            Format = options.TerminationFormat,
        };

        Func<StepPlan, StepPlan>? prepare = StepResultSubstitution.For(options.Command, controlDirectory);

        var supervisor = new Supervisor(new PosixProcessLauncher(), reactor, clock, logger);
        string stepName = options.Name ?? Path.GetFileName(options.Command[0]);
        var telemetry = new Telemetry.StepTelemetry(stepName, options.Command[0], Environment.GetEnvironmentVariable, logger);
        // Measured when the figures have somewhere to go: a step record, a termination log, spans.
        bool measured = handle is not null || report.TerminationLog is not null || telemetry.Exporting;
        var runner = new StepRunner(gates, supervisor, reactor, new StepRecorder(handle, options.PostFile, capture, report, logger) { Restart = options.Restart }, clock, logger)
        {
            Observer = measured ? telemetry : Telemetry.NoObserver.Instance,
            Debug = requests is not null ? requests : NoDebugRequests.Instance,
        };
        StepStatus final = runner.Run(new StepPlan
        {
            Name = stepName,
            Command = command,
            CommandProblem = problem,
            Launch = launch,
            Rules = options.Rules,
            StopWhen = options.SidecarOf.Count > 0 ? new SidecarStop(options.SidecarOf, gates) : null,
            AwaitConsumer = stdout,
            ReleaseAfterStart = stdin,
            Prepare = prepare,
        });
        // The outcome is recorded: now the consumer may read EOF.
        stdout?.Dispose();
        // After the step is recorded (dependants already released), before a proxy is told to quit.
        telemetry.Export(final);
        SidecarQuit.Notify(options.QuitUrls, logger);
        if (requests is { Answered: true })
        {
            reactor.SleepUnlessTerminated(clock, RequesterGrace);
        }
        return StepRunner.ExitCodeOf(final);
    }

    private static class Log
    {
        public static void NoSubreaper(ILogger logger, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot become a child subreaper ({reason}): orphans of the command will not be reaped here");
            }
        }

        /// <summary>A failure whose exception already says it in one line (a refused step directory, a gate that cannot be set up).</summary>
        public static void Failure(ILogger logger, string message)
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                logger.Write(LogLevel.Error, $"{message}");
            }
        }

        public static void ControlFailure(ILogger logger, string controlDir, string reason)
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                logger.Write(LogLevel.Error, $"cannot record the step in {controlDir}: {reason}");
            }
        }
    }
}
