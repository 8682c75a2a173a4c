using Emissary.Supervision;

namespace Emissary.Tekton;

// The seams between TektonStep's outcome logic and the machine, as in Tekton's pkg/entrypoint
// (Waiter, Runner, PostWriter): TektonHost builds the real ones, the unit tests hold fakes, so
// that breakpoints, on-error, cancel, timeout, skips and results are table-tested.

/// <summary>Waits for a file another step (or the user, through the debug scripts) writes.</summary>
internal interface ITektonWaiter
{
    /// <summary>See <see cref="TektonWaiter.Wait"/>: ends on the file, FILE.err, a vanished step or a terminating signal.</summary>
    WaitOutcome Wait(string file, bool expectContent, bool errorFileMeansReady, bool detectVanished);
}

/// <summary>Runs the step's command to its end.</summary>
internal interface ITektonRunner
{
    /// <summary>
    /// Resolves and starts <paramref name="argv"/> with <paramref name="environment"/> added, waits
    /// for it (cancel file, forwarded signals) and kills it at <paramref name="deadline"/> (none when
    /// null, as Go() sets no context deadline for a zero -timeout); throws <see cref="LaunchException"/>
    /// when it cannot start, an empty argv included.
    /// </summary>
    ChildOutcome Run(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, TimeSpan? deadline);
}

/// <summary>What the step leaves behind for the next step and the controller.</summary>
internal interface ITektonPostWriter
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="file"/>, making its directory, as Tekton's
    /// PostWriter does: the post file or POST.err (empty, what the next step waits for) and
    /// STEP_METADATA_DIR/exitCode ("0", the code, or "killed"). Which file, and whether at all, is
    /// <see cref="TektonStep"/>'s decision.
    /// </summary>
    void Write(string file, string content);

    /// <summary>Appends to the termination message; throws <see cref="TektonMessageTooLongException"/> past 4096 bytes.</summary>
    void AppendMessage(IReadOnlyList<TektonEntry> entries);
}
