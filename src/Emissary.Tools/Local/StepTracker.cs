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
            (ControlDirectory dir, string name) = layout.Record(view.Name);
            if (!watcher.IsWatching(view.Name) && dir.StepExists(name))
            {
                watcher.WatchStep(view.Name, layout.StepDirectory(view.Name));
            }
            StepStatus? status = dir.ReadStatus(name);
            if (status is null || status.State == view.State && status.ExitCode == view.Status?.ExitCode)
            {
                continue;
            }
            // Fast steps go through several states between two looks: report each state once, in
            // order, at the time the step recorded for it.
            string previous = view.State;
            view.Status = status;
            view.State = status.State;
            if (previous == "pending" && status.WaitingSince is { } waiting && status.State != StepStates.Waiting)
            {
                changed(view, status with { State = StepStates.Waiting, ExitCode = null, Reason = null, Message = null }, waiting);
            }
            if (previous != StepStates.Running && status.StartedAt is { } started && StepStates.IsFinal(status.State))
            {
                changed(view, status with { State = StepStates.Running, ExitCode = null, Reason = null, Message = null }, started);
            }
            if (StepStates.IsFinal(status.State))
            {
                view.Results = StepResults.Read(dir, name);
            }
            changed(view, status, status.State switch
            {
                StepStates.Waiting => status.WaitingSince,
                StepStates.Running => status.StartedAt,
                _ => status.FinishedAt,
            } ?? DateTimeOffset.UtcNow);
        }
    }
}
