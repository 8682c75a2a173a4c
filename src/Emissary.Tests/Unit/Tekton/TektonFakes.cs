using Emissary.Supervision;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton;

/// <summary>Answers each wait from a table (Ready for a file it does not know), journalling "wait FILE".</summary>
internal sealed class FakeTektonWaiter(List<string> journal, IReadOnlyDictionary<string, WaitOutcome> answers) : ITektonWaiter
{
    /// <summary>Every file waited for, in order, as given (Tekton's fakeWaiter.waited).</summary>
    public List<string> Waited { get; } = [];

    /// <summary>When set, every wait ends so (Tekton's fakeErrorWaiter, or fakeWaiter{skipStep}).</summary>
    public WaitOutcome? Always { get; init; }

    public WaitOutcome Wait(string file, bool expectContent, bool errorFileMeansReady, bool detectVanished)
    {
        journal.Add("wait " + Path.GetFileName(file));
        Waited.Add(file);
        return Always ?? (answers.TryGetValue(file, out WaitOutcome outcome) ? outcome : new WaitOutcome(WaitVerdict.Ready));
    }
}

/// <summary>Ends the command as told (or fails to start it), journalling "run ARGV" and taking the time it says.</summary>
internal sealed class FakeTektonRunner(List<string> journal, FakeClock clock, ChildOutcome? outcome, TimeSpan takes) : ITektonRunner
{
    public IReadOnlyDictionary<string, string>? Environment { get; private set; }

    /// <summary>The argv it was asked to run, null when it was not (Tekton's fakeRunner.args).</summary>
    public IReadOnlyList<string>? Argv { get; private set; }

    /// <summary>The deadline it was given (Tekton's runners look at ctx.Deadline()).</summary>
    public TimeSpan? Deadline { get; private set; }

    /// <summary>What the command does while it runs (Tekton's fakeResultsWriter writes result files).</summary>
    public Action? WhileRunning { get; init; }

    /// <summary>The message of the LaunchException thrown when there is no outcome.</summary>
    public string? LaunchError { get; init; }

    public ChildOutcome Run(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, TimeSpan? deadline)
    {
        journal.Add("run " + string.Join(' ', argv));
        Argv = argv;
        Environment = environment;
        Deadline = deadline;
        WhileRunning?.Invoke();
        clock.Advance(takes);
        return outcome ?? throw new LaunchException(LaunchError ?? "exec: \"" + argv.FirstOrDefault() + "\": executable file not found in $PATH", 127);
    }
}

/// <summary>
/// Journals "post", "post.err" and "exitCode X" and keeps what Tekton's fakePostWriter keeps: the
/// last post file written, the exitCode file and its content; keeps the termination message's entries.
/// </summary>
internal sealed class FakeTektonPostWriter(List<string> journal) : ITektonPostWriter
{
    public List<TektonEntry> Message { get; } = [];

    public string? Wrote { get; private set; }

    public string? ExitCodeFile { get; private set; }

    public string? ExitCode { get; private set; }

    public void Write(string file, string content)
    {
        if (content.Length == 0)
        {
            Wrote = file;
            journal.Add(file.EndsWith(".err", StringComparison.Ordinal) ? "post.err" : "post");
        }
        else
        {
            (ExitCodeFile, ExitCode) = (file, content);
            journal.Add("exitCode " + content);
        }
    }

    public void AppendMessage(IReadOnlyList<TektonEntry> entries) => Message.AddRange(entries);
}
