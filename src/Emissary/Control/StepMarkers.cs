using System.Globalization;

namespace Emissary.Control;

/// <summary>Where a step's progress and outcome are recorded (the control directory, the post file).</summary>
internal interface IStepRecorder
{
    void MarkRunning(int pid, DateTimeOffset startedAt);

    /// <summary>Writes the final markers. Called exactly once per step.</summary>
    void Finish(StepStatus final);
}

/// <summary>
/// The real recorder: the step's control-directory entry (when the step has a --name) and the
/// Tekton-style post file (<c>--post-file</c>: empty PATH on success, PATH.err holding the exit
/// code on failure). Everything is written atomically.
/// </summary>
internal sealed class StepMarkers(StepHandle? handle, string? postFile) : IStepRecorder
{
    public void MarkRunning(int pid, DateTimeOffset startedAt) => handle?.MarkRunning(pid, startedAt);

    public void Finish(StepStatus final)
    {
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
    }
}
