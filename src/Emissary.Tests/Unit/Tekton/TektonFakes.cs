using Emissary.Supervision;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton;

/// <summary>Answers each wait from a table (Ready for a file it does not know), journalling "wait FILE".</summary>
internal sealed class FakeTektonWaiter(List<string> journal, IReadOnlyDictionary<string, WaitOutcome> answers) : ITektonWaiter
{
    public WaitOutcome Wait(string file, bool expectContent, bool errorFileMeansReady, bool detectVanished)
    {
        journal.Add("wait " + Path.GetFileName(file));
        return answers.TryGetValue(file, out WaitOutcome outcome) ? outcome : new WaitOutcome(WaitVerdict.Ready);
    }
}

/// <summary>Ends the command as told (or fails to start it), journalling "run ARGV" and taking the time it says.</summary>
internal sealed class FakeTektonRunner(List<string> journal, FakeClock clock, ChildOutcome? outcome, TimeSpan takes) : ITektonRunner
{
    public IReadOnlyDictionary<string, string>? Environment { get; private set; }

    public ChildOutcome Run(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment)
    {
        journal.Add("run " + string.Join(' ', argv));
        Environment = environment;
        clock.Advance(takes);
        return outcome ?? throw new LaunchException("exec: \"" + argv[0] + "\": executable file not found in $PATH", 127);
    }
}

/// <summary>Journals "post", "post.err" and "exitCode X"; keeps the termination message's entries.</summary>
internal sealed class FakeTektonPostWriter(List<string> journal) : ITektonPostWriter
{
    public List<TektonEntry> Message { get; } = [];

    public void WritePostFile(bool failed) => journal.Add(failed ? "post.err" : "post");

    public void WriteExitCode(string code) => journal.Add("exitCode " + code);

    public void AppendMessage(IReadOnlyList<TektonEntry> entries) => Message.AddRange(entries);
}
