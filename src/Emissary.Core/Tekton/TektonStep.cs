using Emissary.Foundation.Sequences;
using System.Collections;
using System.Globalization;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Results;
using Emissary.Supervision;
using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>Why a step did not end in plain success: what Tekton's Go() returns and main.go maps to an exit code.</summary>
internal abstract record StepFailure
{
    /// <summary>The previous step failed (FILE.err) or vanished (its lock released without an outcome).</summary>
    public sealed record Skipped(bool Vanished) : StepFailure;

    public sealed record DebugBeforeStep : StepFailure;

    public sealed record TimedOut(TimeSpan Timeout) : StepFailure;

    public sealed record Cancelled : StepFailure;

    /// <summary>The command ran and exited non-zero or was killed by a signal.</summary>
    public sealed record Exited(ExitStatus Status) : StepFailure;

    /// <summary>The results did not fit 4096 bytes.</summary>
    public sealed record TooLong : StepFailure;

    /// <summary>A terminating signal while waiting: the pod is going away.</summary>
    public sealed record Interrupted(int Signal) : StepFailure;

    /// <summary>Anything else (the command could not start, a CEL expression that fails to compile or evaluate, a wait error): exit 1.</summary>
    public sealed record Other(string Message) : StepFailure;
}

/// <summary>
/// One step in Tekton mode, in the order of pkg/entrypoint/entrypointer.go's Go() and
/// cmd/entrypoint/main.go: wait, StartedAt, substitutions, when, run, post file and exitCode file,
/// results, then the termination message and the exit code. The outcome logic only: waiting,
/// running, writing and the time come through the seams in TektonSeams.cs, which
/// <see cref="TektonHost"/> fills with the real ones and the unit tests with fakes.
/// </summary>
internal sealed class TektonStep(TektonStepOptions options, TektonPaths paths,
    ITektonWaiter waiter, ITektonRunner runner, ITektonPostWriter post, IClock clock)
{
    private const string DebugContinueHelp = "debug before step breakpoint has taken effect, waiting for user's decision:";
    private readonly List<TektonEntry> _output = [];

    /// <summary>What Go() returned (null: success), for the tests; the exit code is what main.go makes of it.</summary>
    internal StepFailure? Failure { get; private set; }

    /// <summary>The step after main.go's refusals: returns the exit code, the termination message written.</summary>
    public int Go(List<string> command, IReadOnlyList<TektonWhenExpression> when)
    {
        StepFailure? failure;
        try
        {
            failure = Steps(command, when);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            failure = new StepFailure.Other(e.Message);
        }
        finally
        {
            if (_output.Count == 0)
            {
                _output.Add(StartedAt()); // whatever happened, the process lived: say when
            }
        }
        Failure = failure;
        try
        {
            post.AppendMessage(_output);
        }
        catch (Exception e) when (e is IOException or TektonMessageTooLongException)
        {
            GoLog.Print($"Error while writing message: {e.Message}");
            return 1;
        }
        return ExitCodeOf(failure);
    }

    private StepFailure? Steps(List<string> command, IReadOnlyList<TektonWhenExpression> when)
    {
        // filepath.Join(e.StepMetadataDir, "results"): without the flag, relative to the working directory.
        Directory.CreateDirectory(Path.Join(options.StepMetadataDir, "results"));
        Directory.CreateDirectory(Path.Join(options.StepMetadataDir, "artifacts"));
        foreach (string file in options.WaitFiles)
        {
            WaitOutcome waited = waiter.Wait(file, options.WaitFileContent, options.BreakpointOnFailure, detectVanished: true);
            if (waited.Verdict == WaitVerdict.Ready)
            {
                continue;
            }
            if (!options.BreakpointOnFailure)
            {
                WritePostFile(failed: true);
            }
            _output.Add(StartedAt());
            switch (waited.Verdict)
            {
                case WaitVerdict.PreviousFailed:
                case WaitVerdict.PreviousVanished:
                    _output.Add(Reason("Skipped"));
                    return new StepFailure.Skipped(waited.Verdict == WaitVerdict.PreviousVanished);
                case WaitVerdict.Interrupted:
                    return new StepFailure.Interrupted(waited.Signal);
                default:
                    return new StepFailure.Other(waited.Problem ?? "wait failed");
            }
        }

        StepFailure? failure = null;
        if (options.DebugBeforeStep)
        {
            GoLog.Print(DebugContinueHelp);
            GoLog.Print("1) continue, use cmd: /tekton/debug/scripts/debug-beforestep-continue");
            GoLog.Print("2) fail-continue, use cmd: /tekton/debug/scripts/debug-beforestep-fail-continue");
            WaitOutcome decision = waiter.Wait(options.PostFile + ".beforestepexit", expectContent: false, errorFileMeansReady: false, detectVanished: false);
            failure = decision.Verdict switch
            {
                WaitVerdict.Ready => null,
                WaitVerdict.Interrupted => new StepFailure.Interrupted(decision.Signal),
                _ => new StepFailure.DebugBeforeStep(),
            };
        }
        _output.Add(StartedAt());
        if (options.Timeout < TimeSpan.Zero)
        {
            failure = new StepFailure.Other("negative timeout specified");
        }
        if (failure is null)
        {
            var resolver = new TektonStepResultResolver(paths, TektonTerminationMessage.MaxResultBytes(options.CompressTerminationMessage));
            Dictionary<string, string> environment = SubstituteEnvironment(resolver);
            try
            {
                when = TektonWhenExpressions.Substitute(when, resolver);
                command = command.SelectMany(resolver.SubstituteArgument).ToList();
            }
            catch (StepResultMissingException e)
            {
                GoLog.Print("Error while substituting step results: " + e.Message);
            }
            command = new TektonArtifacts(paths).Substitute(command, environment);
            bool allowed = TektonWhenExpressions.AllowsExecution(when, out string? celError);
            if (celError is not null)
            {
                failure = new StepFailure.Other(celError);
            }
            else if (!allowed)
            {
                GoLog.Print("Step was skipped due to when expressions were evaluated to false.");
                _output.Add(Reason("Skipped"));
                WritePostFile(failed: false);
                WriteExitCodeFile("0");
                return null;
            }
            else
            {
                failure = RunCommand(command, environment);
            }
        }

        switch (failure)
        {
            case StepFailure.DebugBeforeStep:
                WritePostFile(failed: true);
                break;
            case StepFailure.Cancelled:
                _output.Add(Reason("Cancelled"));
                WritePostFile(failed: true);
                WriteExitCodeFile("killed");
                break;
            case StepFailure.TimedOut:
                WritePostFile(failed: true);
                _output.Add(Reason("TimeoutExceeded"));
                break;
            case not null when options.BreakpointOnFailure:
                break; // the user decides, through the debug scripts
            case StepFailure.Exited exited when options.ContinueOnError:
                string code = exited.Status.Signaled ? "-1" : exited.Status.Code.ToString(CultureInfo.InvariantCulture);
                _output.Add(new TektonEntry("ExitCode", code, TektonResultType.InternalTektonResult));
                WritePostFile(failed: false);
                WriteExitCodeFile(code);
                break;
            case null:
                WritePostFile(failed: false);
                WriteExitCodeFile("0");
                break;
            default:
                WritePostFile(failed: true);
                break;
        }

        // Results are read whatever the outcome; a message over 4096 bytes replaces the outcome (exit 1).
        if (!ReadResults(paths.Results, options.Results, TektonResultType.TaskRunResult)
            || !ReadResults(Path.Join(options.StepMetadataDir, "results"), options.StepResults, TektonResultType.StepResult))
        {
            return new StepFailure.TooLong();
        }
        if (options.ResultsInTerminationMessage)
        {
            AddArtifacts(Path.Join(options.StepMetadataDir, "artifacts", "provenance.json"), TektonResultType.StepArtifacts);
            AddArtifacts(paths.Artifacts + "/provenance.json", TektonResultType.TaskRunArtifacts);
        }
        return failure;
    }

    /// <summary>Runs the command: null on success, else how it ended (cancelled, timed out, exited non-zero, could not start).</summary>
    private StepFailure? RunCommand(List<string> argv, Dictionary<string, string> environment)
    {
        ChildOutcome outcome;
        try
        {
            // Go() puts a deadline on the context only for a positive timeout (zero: none).
            outcome = runner.Run(argv, environment, options.Timeout > TimeSpan.Zero ? options.Timeout : null);
        }
        catch (LaunchException e)
        {
            return new StepFailure.Other(e.Message);
        }
        return outcome switch
        {
            { Stopped: true } => new StepFailure.Cancelled(),
            { TimedOut: true } => new StepFailure.TimedOut(options.Timeout),
            { Status: { Signaled: false, Code: 0 } } => null,
            _ => new StepFailure.Exited(outcome.Status),
        };
    }

    /// <summary>Environment variables whose value holds a step-result reference, substituted (replaceEnv).</summary>
    private static Dictionary<string, string> SubstituteEnvironment(TektonStepResultResolver resolver)
    {
        var changed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Value is string value && StepResultReferences.Contains(value))
            {
                try
                {
                    changed[(string)variable.Key] = StepResultReferences.Substitute(value, resolver.Resolve);
                }
                catch (StepResultMissingException e)
                {
                    GoLog.Print("Error while substituting step results: " + e.Message);
                }
            }
        }
        return changed;
    }

    /// <summary>Reads result files into the termination message; false when they do not fit.</summary>
    private bool ReadResults(string directory, IReadOnlyList<string> names, int type)
    {
        var entries = new List<TektonEntry>();
        int dirFd = -1;
        foreach (string name in names.Where(n => n.Length > 0))
        {
            if (dirFd < 0 && (dirFd = Libc.OpenRetrying(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0)) < 0)
            {
                break; // no results directory: no results
            }
            BoundedRead read = UntrustedFile.Read(dirFd, name, TektonTerminationMessage.MaxResultBytes(options.CompressTerminationMessage));
            switch (read.Outcome)
            {
                case ReadOutcome.Read:
                    entries.Add(new TektonEntry(name, TektonTerminationMessage.ValueOf(read.Bytes!), type));
                    break;
                case ReadOutcome.TooLarge:
                    Libc.Close(dirFd);
                    GoLog.Print(new TektonMessageTooLongException().Message);
                    return false;
                case ReadOutcome.Missing:
                    break;
                default:
                    // A link or FIFO planted by another container is never followed or read.
                    GoLog.Print($"Error reading result {directory}/{name}: {read.Problem}: left out");
                    break;
            }
        }
        if (dirFd >= 0)
        {
            Libc.Close(dirFd);
        }
        if (entries.Count == 0 || !options.ResultsInTerminationMessage)
        {
            return true;
        }
        try
        {
            post.AppendMessage(entries);
            return true;
        }
        catch (TektonMessageTooLongException e)
        {
            GoLog.Print(e.Message);
            return false;
        }
    }

    private void AddArtifacts(string path, int type)
    {
        string full = Path.GetFullPath(path);
        int dirFd = Libc.OpenRetrying(Path.GetDirectoryName(full) ?? "/", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
        {
            return;
        }
        using var dir = new SafeFd(dirFd);
        BoundedRead read = UntrustedFile.Read(dirFd, "provenance.json", TektonTerminationMessage.MaxResultBytes(options.CompressTerminationMessage));
        if (read.Outcome == ReadOutcome.Read)
        {
            _output.Add(new TektonEntry(path, TektonTerminationMessage.ValueOf(read.Bytes!), type));
        }
        else if (read.Outcome != ReadOutcome.Missing)
        {
            // Tekton's log.Fatalf here leaves no message at all; a link or FIFO is left out instead.
            GoLog.Print($"Error while handling artifacts: {path}: {read.Problem ?? "too large"}: left out");
        }
    }

    /// <summary>main.go's switch on Go()'s error, including the breakpoint-on-failure pause.</summary>
    private int ExitCodeOf(StepFailure? failure)
    {
        switch (failure)
        {
            case null:
                return 0;
            case StepFailure.DebugBeforeStep:
                GoLog.Print("Skipping execute step script because before step breakpoint fail-continue");
                return 1;
            case StepFailure.Skipped { Vanished: true }:
                GoLog.Print("Skipping step because the previous step's entrypoint ended without writing its outcome (killed?); failing so the TaskRun ends now instead of at its timeout");
                return 1;
            case StepFailure.Skipped:
                GoLog.Print("Skipping step because a previous step failed");
                return 1;
            case StepFailure.TooLong:
                return 1;
            case StepFailure.Cancelled:
                GoLog.Print("Step was cancelled");
                return Signals.KILL;
            case StepFailure.TimedOut timedOut:
                GoLog.Print($"context deadline exceeded: the step ran longer than its timeout of {Duration.Format(timedOut.Timeout)}");
                return 1;
            case StepFailure.Interrupted interrupted:
                GoLog.Print($"{Signals.Name(interrupted.Signal)} received while waiting: the step did not run");
                return ExitCodes.ForSignal(interrupted.Signal);
            case StepFailure.Exited exited:
                if (BreakpointExit() is { } chosen)
                {
                    return chosen;
                }
                // Go's os.Exit(-1) for a signalled child: the container ends with 255.
                return options.ContinueOnError ? 0 : exited.Status.Signaled ? 255 : exited.Status.Code;
            case StepFailure.Other other:
                if (BreakpointExit() is { } decided)
                {
                    return decided;
                }
                GoLog.Print("Error executing command: " + other.Message);
                return 1;
            default:
                return 1;
        }
    }

    /// <summary>With -breakpoint_on_failure: wait for POST.breakpointexit and exit with the number in it (0 if unreadable).</summary>
    private int? BreakpointExit()
    {
        if (!options.BreakpointOnFailure)
        {
            return null;
        }
        GoLog.Print("debug onFailure breakpoint has taken effect, waiting for user's decision:");
        GoLog.Print("1) continue, use cmd: /tekton/debug/scripts/debug-continue");
        GoLog.Print("2) fail-continue, use cmd: /tekton/debug/scripts/debug-fail-continue");
        string file = options.PostFile + ".breakpointexit";
        WaitOutcome decision = waiter.Wait(file, expectContent: false, errorFileMeansReady: false, detectVanished: false);
        if (decision.Verdict == WaitVerdict.Interrupted)
        {
            return ExitCodes.ForSignal(decision.Signal);
        }
        try
        {
            string text = File.ReadAllText(file);
            text = text.EndsWith('\n') ? text[..^1] : text;
            GoLog.Print("Breakpoint exiting with exit code " + text);
            return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int code) ? code & 0xff : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            GoLog.Print("error occurred while reading breakpoint exit code : " + e.Message);
            return 0;
        }
    }

    /// <summary>WritePostFile: POST, or POST.err after a failure; nothing without -post_file.</summary>
    private void WritePostFile(bool failed)
    {
        if (options.PostFile.Length > 0)
        {
            post.Write(failed ? options.PostFile + ".err" : options.PostFile, "");
        }
    }

    /// <summary>WriteExitCodeFile: STEP_METADATA_DIR/exitCode (relative to the working directory without the flag).</summary>
    private void WriteExitCodeFile(string code) => post.Write(Path.Join(options.StepMetadataDir, "exitCode"), code);

    private TektonEntry StartedAt() => new("StartedAt", Rfc3339.Format(clock.UtcNow), TektonResultType.InternalTektonResult);

    private static TektonEntry Reason(string reason) => new("Reason", reason, TektonResultType.InternalTektonResult);
}

