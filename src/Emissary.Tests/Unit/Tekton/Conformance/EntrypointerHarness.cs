using Emissary.Events;
using Emissary.Supervision;
using Emissary.Tekton;
using Emissary.Tests.Unit.Fakes;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// What Tekton's entrypointer_test.go builds in each case, for <see cref="TektonStep"/>: a temporary
/// /tekton root, the fakes of our seams in the roles of its fakeWaiter, fakeRunner and
/// fakePostWriter, and the Entrypointer fields as <see cref="TektonStepOptions"/>. Where Tekton
/// passes an empty or "." StepMetadataDir (the working directory), the step's directory is the
/// temporary root instead, so that no test writes in its working directory.
/// </summary>
public abstract class EntrypointerHarness : IDisposable
{
    protected readonly string Root = Directory.CreateTempSubdirectory("emissary-tekton-conformance-").FullName;
    protected readonly List<string> Journal = [];
    internal readonly FakeClock Clock = new();

    protected string StepDir => Root + "/status";

    internal TektonPaths Paths => new(Root);

    internal static ChildOutcome Exited(int code) => new(ExitStatus.Exited(code), false, 100);

    /// <summary>Options with the test's termination path and step directory; <paramref name="with"/> sets the case's fields.</summary>
    internal TektonStepOptions Options(Func<TektonStepOptions, TektonStepOptions>? with = null)
    {
        var options = new TektonStepOptions { TerminationPath = Root + "/termination", StepMetadataDir = StepDir };
        return with is null ? options : with(options);
    }

    internal FakeTektonWaiter Waiter(WaitOutcome? always = null) => new(Journal, new Dictionary<string, WaitOutcome>()) { Always = always };

    internal FakeTektonRunner Runner(ChildOutcome? outcome, string? launchError = null, Action? whileRunning = null) =>
        new(Journal, Clock, outcome, TimeSpan.FromSeconds(1)) { LaunchError = launchError, WhileRunning = whileRunning };

    internal FakeTektonPostWriter PostWriter() => new(Journal);

    /// <summary>Go() and main.go: the exit code, and the step to ask what Go() returned.</summary>
    internal (int ExitCode, TektonStep Step) Go(TektonStepOptions options, ITektonWaiter waiter, ITektonRunner runner,
        ITektonPostWriter post, List<string> command)
    {
        var step = new TektonStep(options, Paths, waiter, runner, post, Clock);
        int exitCode = step.Go(command, TektonWhenExpressions.Parse(options.WhenExpressions));
        return (exitCode, step);
    }

    /// <summary>The message as the controller's termination.ParseMessage returns it: last entry per key wins, sorted by key; StartedAt's time blanked, as getTermination does.</summary>
    internal static List<TektonEntry> Parsed(IEnumerable<TektonEntry> message) =>
        message.GroupBy(e => e.Key).Select(g => g.Last())
            .Select(e => e.Key == "StartedAt" ? e with { Value = "" } : e)
            .OrderBy(e => e.Key, StringComparer.Ordinal).ToList();

    internal static TektonEntry Internal(string key, string value) => new(key, value, TektonResultType.InternalTektonResult);

    /// <summary>A result file of step NAME where <c>$(steps.NAME.results.KEY)</c> finds it (a plain directory, as a test's stepDir).</summary>
    protected void WriteStepResult(string step, string key, string content)
    {
        string directory = $"{Root}/steps/step-{step}/results";
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, key), content);
    }

    public void Dispose()
    {
        Directory.Delete(Root, recursive: true);
        GC.SuppressFinalize(this);
    }
}
