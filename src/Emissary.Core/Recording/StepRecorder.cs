using System.Globalization;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Output;
using Emissary.Results;
using Emissary.Logging;
using Emissary.Files;

namespace Emissary.Recording;

/// <summary>Where a step's progress and outcome are recorded.</summary>
internal interface IStepRecorder
{
    /// <param name="attempts">The attempt in place (`emissary debug rerun`), 0 before any rerun.</param>
    void MarkRunning(int pid, DateTimeOffset startedAt, int attempts);

    /// <summary>Records the step as paused (<paramref name="paused"/>'s state is Paused) and, for `emissary debug env`, what its command runs with (<see cref="StepContext"/>).</summary>
    void MarkPaused(StepStatus paused, IReadOnlyList<string> argv, string? directory, IReadOnlyDictionary<string, string> added);

    /// <summary>
    /// Records the end of the step, exactly once: collects results (which may turn a success into a
    /// results failure), writes the termination message and the markers. Returns the status as recorded.
    /// </summary>
    StepStatus Finish(StepStatus final);
}

/// <summary>Where results and the termination message go.</summary>
internal sealed record ReportSettings
{
    /// <summary>
    /// <c>--results-dir</c>, or null: then a named step's own DIR/NAME/results, read through the
    /// step directory's descriptor.
    /// </summary>
    public string? ResultsDirectory { get; init; }

    /// <summary><c>--result-from-stdout NAME</c>: the captured stdout also becomes this result.</summary>
    public string? ResultFromStdout { get; init; }

    /// <summary>The termination log, or null when none is to be written.</summary>
    public string? TerminationLog { get; init; }

    public int Budget { get; init; } = TerminationMessage.DefaultBudget;

    public TerminationFormat Format { get; init; } = TerminationFormat.Emissary;
}

/// <summary>
/// The real recorder (Tekton's PostWriter, grown up). At the end of a step, in this order: the
/// output capture is drained, results are collected and the termination message rendered (both
/// may turn a success into a failure), then the post file, status.json and the exitcode marker —
/// whose presence says status.json is final — which release the dependants; only then the
/// control directory's copy of the termination message and the termination log, which nobody
/// waits on (the kubelet reads the log once the container has exited).
/// </summary>
internal sealed partial class StepRecorder(StepHandle? handle, string? postFile, OutputCapture? capture, ReportSettings report, ILogger logger) : IStepRecorder
{
    /// <summary><c>--restart-policy</c>/<c>--restart-rules</c>: whether the kubelet restarts the container after a failure, which makes it not final.</summary>
    public KubeletRestart Restart { get; init; } = KubeletRestart.Never;

    public void MarkRunning(int pid, DateTimeOffset startedAt, int attempts) => handle?.MarkRunning(pid, startedAt, attempts);

    public void MarkPaused(StepStatus paused, IReadOnlyList<string> argv, string? directory, IReadOnlyDictionary<string, string> added) =>
        handle?.MarkPaused(paused, StepContext.Describe(argv, directory, added));

    public StepStatus Finish(StepStatus final)
    {
        capture?.Finish();
        (IReadOnlyList<Result> results, final) = CollectResults(final);
        // Only results can be too large for the message (which fails the step): without any, the
        // message cannot change the outcome and is rendered once the dependants are released, off
        // their path (the same message: from the outcome as recorded before the markers).
        byte[]? message = null;
        if (results.Count > 0)
        {
            (final, message) = RenderTerminationMessage(final, results);
        }
        StepStatus recorded = final;
        // Null until rendered; rendering again a message that goes nowhere (null) costs nothing.
        byte[]? Message() => message ??= RenderTerminationMessage(recorded, results).Message;
        try
        {
            final = WriteMarkers(final);
            if (Message() is { } copy && handle is not null)
            {
                // A copy in the control directory: readable by the other steps, `emissary local`
                // and runtimes that do not read terminationMessagePath (podman). The outcome is
                // recorded already: a copy that cannot be written (a full disk) is said, not fatal.
                try
                {
                    handle.WriteTermination(copy);
                }
                catch (IOException e)
                {
                    Log.NoTerminationCopy(logger, handle.DisplayPath(ControlDirectory.TerminationFile), e.Message);
                }
            }
        }
        finally
        {
            // Written even when the markers could not be.
            if (report.TerminationLog is { } path && Message() is { } bytes && TerminationMessage.Write(path, bytes) is { } failure)
            {
                // The step's outcome is not changed by a missing or read-only log.
                Log.NoTerminationLog(logger, failure);
            }
        }
        return final;
    }

    /// <summary>
    /// Whether the results stay readable when the message cannot hold them: they are the files of
    /// DIR/NAME/results (no --results-dir, no result taken from stdout, which exists only in
    /// memory), where $(steps.NAME.results.KEY) and `emissary status --json` read them. Tekton's
    /// controller knows no other place: its format keeps failing the step.
    /// </summary>
    private bool ResultsKept => handle is not null && report.ResultsDirectory is null && report.ResultFromStdout is null && report.Format == TerminationFormat.Emissary;

    private (IReadOnlyList<Result>, StepStatus) CollectResults(StepStatus final)
    {
        var results = new List<Result>();
        var problems = new List<string>();
        bool tooLarge = false;
        // How much of one result is read: the budget in Tekton's format; what a compressed message
        // can carry in ours; what $(steps...) references accept when the files stay readable.
        (int cap, string limit) = report.Format == TerminationFormat.Tekton ? (report.Budget, ResultsCollector.BudgetLimit)
            : ResultsKept ? (Math.Max(report.Budget, StepResultFiles.MaxValueBytes), "the limit for a result kept in the control directory")
            : (Math.Max(report.Budget, TerminationMessage.MaxInflated), "the limit for a result in a compressed termination message");
        ResultsCollection? collected = report.ResultsDirectory is { } directory
            ? ResultsCollector.Collect(directory, cap, limit)
            : handle is null ? null : ResultsCollector.Collect(handle.DirectoryFd, ControlDirectory.ResultsDirectory, handle.DefaultResultsDirectory, cap, limit);
        if (collected is not null)
        {
            results.AddRange(collected.Results);
            problems.AddRange(collected.Errors);
            tooLarge |= collected.AnyTooLarge;
        }
        if (report.ResultFromStdout is { } name && capture?.StdoutForResult is { } stdout)
        {
            if (stdout.Length > report.Budget)
            {
                tooLarge = true;
                problems.Add($"result '{name}' (from stdout) is over {report.Budget} bytes, the termination message budget");
            }
            else
            {
                results.RemoveAll(r => r.Name == name);
                results.Add(new Result(name, stdout));
            }
        }
        foreach (string problem in problems)
        {
            Log.ResultProblem(logger, problem);
        }
        if (problems.Count > 0)
        {
            // All or nothing: a partial set would look complete to whoever reads it.
            results.Clear();
            final = FailForResults(final, tooLarge ? StepReasons.ResultsTooLarge : StepReasons.Error, problems[0]);
        }
        return (results, final);
    }

    /// <summary>Renders the termination message (results that do not fit fail the step); null when it goes nowhere.</summary>
    private (StepStatus Final, byte[]? Message) RenderTerminationMessage(StepStatus final, IReadOnlyList<Result> results)
    {
        if (report.TerminationLog is null && handle is null && results.Count == 0)
        {
            return (final, null); // a plain `emissary run`: nowhere to put a message, nothing to check
        }
        Rendering rendering = TerminationMessage.Render(ReportOf(final), results, report.Format, report.Budget, ResultsKept);
        if (rendering.TooLarge)
        {
            Log.ResultProblem(logger, rendering.Problem ?? "results do not fit the termination message");
            final = FailForResults(final, StepReasons.ResultsTooLarge, rendering.Problem ?? "results too large");
            rendering = TerminationMessage.Render(ReportOf(final), results, report.Format, report.Budget);
        }
        else if (rendering.Problem is { } note)
        {
            Log.ResultNote(logger, note);
        }
        return (final, rendering.Bytes);
    }

    /// <summary>Results that cannot be delivered fail a step that had succeeded (exit 122); a failure keeps its own code.</summary>
    private static StepStatus FailForResults(StepStatus final, string reason, string message)
    {
        if (final.State != StepState.Succeeded)
        {
            return final;
        }
        return final with { State = StepState.Failed, ExitCode = ExitCodes.ResultsFailed, Reason = reason, Message = message };
    }

    private StepReport ReportOf(StepStatus s)
    {
        DateTimeOffset started = s.StartedAt ?? s.WaitingSince ?? DateTimeOffset.UtcNow;
        return new StepReport(s.Name, s.ExitCode ?? ExitCodes.EmissaryFailure, s.Reason ?? StepReasons.Error, started, s.FinishedAt ?? started) { Usage = s.Usage, Pause = s.Pause, Attempts = s.Attempts };
    }

    /// <summary>
    /// What the kubelet does after this outcome. Only a failure the container exits with can be
    /// restarting: a skip (123) stays final, or its dependants would wait for a step that will
    /// only be skipped again; a failure let through by --on-error exits 0.
    /// </summary>
    private RestartVerdict RestartAfter(StepStatus final) =>
        Restart.MayRestart && final.State == StepState.Failed && !final.ContinueOnError
            ? Restart.After(final.ExitCode ?? ExitCodes.EmissaryFailure)
            : RestartVerdict.Final;

    private StepStatus WriteMarkers(StepStatus final)
    {
        if (RestartAfter(final) is not RestartVerdict.Final and var verdict)
        {
            int restarts = handle?.Status.Restarts ?? 0;
            string message = verdict == RestartVerdict.Pod
                ? $"exit code {final.ExitCode}: the kubelet restarts every container of the pod (RestartAllContainers)"
                : $"exit code {final.ExitCode}: the kubelet restarts the container (run {restarts + 1} of this step)";
            Log.Restarting(logger, message);
            final = final with { State = StepState.Restarting, Message = final.Message ?? message };
            if (verdict == RestartVerdict.Pod)
            {
                // Before this record says restarting: every record from now on, this one
                // included, is of the old incarnation, which the restarted pod reads as not yet run.
                try
                {
                    handle?.BeginPodIncarnation();
                }
                catch (IOException e)
                {
                    Log.NoIncarnation(logger, e.Message);
                }
            }
            // No post file and no exitcode: nothing that a waiter would read as the end.
            handle?.MarkRestarting(final);
            return final;
        }
        if (postFile is not null)
        {
            if (final.LetsDependantsRun)
            {
                AtomicFile.Write(postFile, "");
            }
            else
            {
                AtomicFile.Write(postFile + ".err", (final.ExitCode ?? 1).ToString(CultureInfo.InvariantCulture) + "\n");
            }
        }
        // Last: the exitcode marker tells waiters that everything else is in place.
        handle?.Finish(final);
        return final;
    }

    private static class Log
    {
        public static void ResultProblem(ILogger logger, string problem)
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                logger.Write(LogLevel.Error, $"{problem}");
            }
        }

        public static void ResultNote(ILogger logger, string note)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"{note}");
            }
        }

        public static void NoTerminationCopy(ILogger logger, string path, string failure)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"{path} not written ({failure}); the step's outcome is recorded");
            }
        }

        public static void Restarting(ILogger logger, string message)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"{message}: recorded as restarting, dependants keep waiting");
            }
        }

        public static void NoIncarnation(ILogger logger, string failure)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"cannot start a new pod incarnation ({failure}): records from before the restart may count");
            }
        }

        public static void NoTerminationLog(ILogger logger, string failure)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"{failure}");
            }
        }
    }
}
