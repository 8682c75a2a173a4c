using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>
/// Follows the steps' states in their records (<see cref="ControlLayout"/>): on each look, reads every step's status
/// into its <see cref="StepView"/> and reports each state change once, in order, at the time the
/// step recorded for it.
/// </summary>
internal sealed class StepTracker(IReadOnlyList<StepView> views, ControlLayout layout, ControlDirectoryWatcher watcher, Action<StepView, StepStatus, DateTimeOffset> changed)
{
    public void Refresh()
    {
        foreach (StepView view in views)
        {
            (ControlDirectory dir, string entry) = layout.Record(view.Name);
            if (!watcher.IsWatching(view.Name) && dir.StepExists(entry))
            {
                watcher.WatchStep(view.Name, layout.StepDirectory(view.Name));
            }
            StepStatus? status = dir.ReadStatus(entry);
            // A run started again (every step is, when the pod restarts) may have ended as the one
            // before did, between two looks: the same state and exit code, another run.
            bool newRun = status?.StartedAt is { } thisRun && view.Status?.StartedAt is { } before && thisRun != before;
            if (status is null || !newRun && status.State == view.State && status.ExitCode == view.Status?.ExitCode && !NewPause(view, status))
            {
                continue;
            }
            FollowPauses(view, status);
            // Fast steps go through several states between two looks: report each state once, in
            // order, at the time the step recorded for it.
            StepState? previous = newRun ? null : view.State;
            view.Status = status;
            view.State = status.State;
            if (previous is null && status.WaitingSince is { } waiting && status.State != StepState.Waiting)
            {
                changed(view, status with { State = StepState.Waiting, ExitCode = null, Reason = null, Message = null }, waiting);
            }
            if (previous != StepState.Running && status.StartedAt is { } started && status.State.IsFinal())
            {
                changed(view, status with { State = StepState.Running, ExitCode = null, Reason = null, Message = null }, started);
            }
            changed(view, status, status.State switch
            {
                StepState.Waiting => status.WaitingSince,
                StepState.Running => status.StartedAt,
                _ => status.FinishedAt,
            } ?? DateTimeOffset.UtcNow);
        }
    }

    /// <summary>A rerun that paused again between two looks: the same state, but another pause.</summary>
    internal static bool NewPause(StepView view, StepStatus status) =>
        status.Pause is { } p && (view.Status?.Pause?.Since != p.Since || view.Status?.Attempts != status.Attempts);

    /// <summary>Opens a pause when the step is seen paused, closes it when it is seen going on (at its end if it ended).</summary>
    internal static void FollowPauses(StepView view, StepStatus status)
    {
        int last = view.Pauses.Count - 1;
        if (last >= 0 && view.Pauses[last].To is null && (status.State != StepState.Paused || status.Pause?.Since != view.Pauses[last].From))
        {
            view.Pauses[last] = (view.Pauses[last].From, status.State.IsFinal() && status.FinishedAt is { } f ? f : DateTimeOffset.UtcNow);
        }
        if (status is { State: StepState.Paused, Pause: { } p } && (view.Pauses.Count == 0 || view.Pauses[^1].From != p.Since))
        {
            view.Pauses.Add((p.Since, null));
        }
    }

    /// <summary>
    /// Reads the results of every finished step, once all are over: a step writes its termination
    /// message (where the results are) after the markers that release its dependants.
    /// </summary>
    public void ReadResults()
    {
        foreach (StepView view in views)
        {
            if (view.State?.IsFinal() == true)
            {
                (ControlDirectory dir, string entry) = layout.Record(view.Name);
                view.Results = StepResults.Read(dir, entry);
            }
        }
    }
}
