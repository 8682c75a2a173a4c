using Emissary.Control;
using Emissary.Files;
using Emissary.Interop;

namespace Emissary.Results;

/// <summary>
/// A step's results as whoever looks at the pod sees them (<c>emissary status</c>): what its
/// termination message (DIR/NAME/termination.json, plain or compressed) carries, and, when the
/// message left them out for size ("resultsOmitted"), the files of DIR/NAME/results it kept them
/// in. Both were written by the step's own container: read without following links, never
/// blocking, each within a bound.
/// </summary>
internal static class ReportedResults
{
    /// <summary>The most of termination.json that is read: the largest budget `run` accepts.</summary>
    public const int MaxMessageBytes = 1 << 20;

    /// <summary>The step's results; empty when it reported none or the record cannot be read.</summary>
    public static IReadOnlyList<Result> Read(ControlDirectory dir, string step)
    {
        using SafeFd? stepFd = dir.OpenStep(step);
        if (stepFd is null)
        {
            return [];
        }
        BoundedRead message = UntrustedFile.Read(stepFd.Fd, ControlDirectory.TerminationFile, MaxMessageBytes);
        if (message.Outcome != ReadOutcome.Read || TerminationMessageReader.Read(message.Bytes!) is not { } reported)
        {
            return [];
        }
        if (reported.Omitted == 0)
        {
            return reported.Results;
        }
        // Each file within what a $(steps...) reference accepts; one that is not a valid result
        // now (swapped for a link, grown) is left out here as the reference would refuse it.
        ResultsCollection kept = ResultsCollector.Collect(stepFd.Fd, ControlDirectory.ResultsDirectory,
            dir.PathOf(step, ControlDirectory.ResultsDirectory), StepResultFiles.MaxValueBytes);
        return kept.Results;
    }
}
