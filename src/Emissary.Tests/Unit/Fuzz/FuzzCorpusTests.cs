using Emissary.Fuzz;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Fuzz;

/// <summary>
/// Replays every input of every fuzz corpus (fuzz/TARGET/: the seeds and the regression inputs
/// of what the campaigns found) through its target, the same <see cref="FuzzTarget.Run"/> that
/// afl-fuzz runs (docs/fuzzing.md): a parser that throws an undocumented exception, allocates past
/// its bound or takes longer than <see cref="PerInput"/> on one of them fails here. The inputs
/// only, not a campaign: a few seconds in all.
/// </summary>
public sealed class FuzzCorpusTests
{
    /// <summary>Far above any parse (microseconds), far below a hang (a loop that never ends).</summary>
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(10);

    private static string Corpora => Path.Combine(Artifacts.RepoRoot, "fuzz");

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Every_input_of_the_corpus_runs_within_the_targets_contract(string name)
    {
        FuzzTarget target = FuzzTargets.Find(name)!;
        string[] files = Directory.Exists(Path.Combine(Corpora, name)) ? Directory.GetFiles(Path.Combine(Corpora, name)) : [];
        files.Should().NotBeEmpty($"fuzz/{name}/ holds the seeds afl-fuzz starts from");
        var failures = new List<string>();
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            byte[] input = File.ReadAllBytes(file);
            // On a thread of its own, so that a hang is a failure with the file's name, not a test run that never ends.
            var run = Task.Factory.StartNew(() => target.Run(input), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try
            {
                await run.WaitAsync(PerInput);
            }
            catch (TimeoutException)
            {
                failures.Add($"{Path.GetFileName(file)}: still running after {PerInput.TotalSeconds:0} s (a hang)");
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        failures.Should().BeEmpty($"every input of fuzz/{name}/ must keep the target's contract ({target.Never})");
    }

    [Fact]
    public async Task The_reference_scan_stays_linear_on_many_unclosed_index_selectors()
    {
        // fuzz/step-result-refs/regression-unclosed-index-quadratic at the size where it hurt: each
        // "[" was searched for its "]" to the end of the text, 4 MB took 25 s (1 MB: 1.4 s); now ~0.1 s.
        byte[] input = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("$(steps.a.results.b[", 200_000)));
        FuzzTarget target = FuzzTargets.Find("step-result-refs")!;
        Task run = Task.Factory.StartNew(() => target.Run(input), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Func<Task> waiting = () => run.WaitAsync(TimeSpan.FromSeconds(5));
        await waiting.Should().NotThrowAsync("a 4 MB argument is scanned in linear time");
    }

    [Fact]
    public void Every_corpus_directory_names_a_target()
    {
        string[] directories = Directory.GetDirectories(Corpora).Select(Path.GetFileName).Where(d => d != "findings").ToArray()!;
        directories.Should().BeEquivalentTo(FuzzTargets.All.Select(t => t.Name), "fuzz/TARGET/ is the corpus of TARGET (fuzz/findings/ is afl-fuzz's, git-ignored)");
    }

    [Fact]
    public void A_target_fails_on_an_exception_its_parser_does_not_document_and_on_a_runaway_allocation()
    {
        // The contract is enforced by FuzzTarget.Run, so check that it can fail.
        var throwing = new FuzzTarget("t", "", "", [typeof(FormatException)], _ => 1 << 20, _ => throw new InvalidOperationException("boom"));
        FluentActions.Invoking(() => throwing.Run([1])).Should().Throw<InvalidOperationException>();
        var documented = new FuzzTarget("t", "", "", [typeof(FormatException)], _ => 1 << 20, _ => throw new FormatException("bad input"));
        FluentActions.Invoking(() => documented.Run([1])).Should().NotThrow();
        var greedy = new FuzzTarget("t", "", "", [], n => 1000 * n, input => GC.KeepAlive(new byte[input.Length * 2000]));
        FluentActions.Invoking(() => greedy.Run(new byte[10])).Should().Throw<FuzzFinding>().WithMessage("*allocated*bound is 10000*");
    }
}
