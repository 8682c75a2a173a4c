using Emissary.Control;
using Emissary.Foundation;
using Emissary.Supervision;

namespace Emissary.Tools.Local;

/// <summary>The exit code of `emissary local`: the pod's outcome from its steps.</summary>
internal static class PodOutcome
{
    /// <summary>
    /// 0 when every step succeeded; else the exit code of the first step that failed; 123 if steps
    /// were only skipped. A step fails when its final state is failed (without --on-error
    /// continue), or when it never reached a final state and its emissary (or its container) ended
    /// with a code other than 0: it crashed, and that code is its outcome.
    /// </summary>
    public static int Of(IReadOnlyList<StepView> views)
    {
        StepView? failed = views
            .Where(v => NeverFinished(v) ? v.ProcessExitCode is not 0 : v.State == StepState.Failed && v.Status?.ContinueOnError != true)
            .OrderBy(v => v.Status?.FinishedAt ?? DateTimeOffset.MaxValue)
            .FirstOrDefault();
        if (failed is not null)
        {
            return (NeverFinished(failed) ? failed.ProcessExitCode : failed.Status?.ExitCode) ?? ExitCodes.EmissaryFailure;
        }
        return views.Any(v => v.State == StepState.Skipped) ? ExitCodes.Skipped : ExitCodes.Success;
    }

    /// <summary>Interrupted (Ctrl-C and the like): the signal's exit code, whatever the steps did.</summary>
    public static int Interrupted(int signal) => ExitCodes.ForSignal(signal);

    /// <summary>At the end of a run: the step never recorded a final state (its emissary or container died, or never started).</summary>
    private static bool NeverFinished(StepView view) => view.State?.IsFinal() != true;
}
