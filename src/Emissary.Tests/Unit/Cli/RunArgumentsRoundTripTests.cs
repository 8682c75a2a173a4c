using System.Text.Json;
using CsCheck;
using Emissary.Cli;
using Emissary.Commands;
using Emissary.Events;
using Emissary.Gates;
using Emissary.Results;
using Emissary.Sidecars;
using Emissary.Supervision;
using Emissary.Tools.PodSpec;

namespace Emissary.Tests.Unit.Cli;

/// <summary>
/// The arguments the tools write for <c>emissary run</c> (<see cref="RunArguments.Format"/>) mean
/// what they were written from, both to <c>emissary run</c> itself (<see cref="RunCli"/>'s parser
/// and binder) and to the tools reading a rewritten command back (<see cref="EmissaryRun.ParseWrapped"/>
/// through a pod's graph).
/// </summary>
public sealed class RunArgumentsRoundTripTests
{
    private static readonly Gen<TimeSpan?> Durations =
        Gen.Long[0, 100L * 3600 * 1000].Select(TimeSpan.FromMilliseconds).Nullable();

    private static readonly Gen<int?> StopSignals = Gen.Int[1, 64].Nullable();

    private static readonly Gen<string?> Presets = Gen.OneOf<string?>(null, "istio", "linkerd");

    private static readonly Gen<string?> ResultNames = Gen.OneOf<string?>(null, "digest", "out.txt", "a-1_b");

    /// <summary>Flags that no step field describes: passed through as they are.</summary>
    private static readonly Gen<string[]> PassThrough = Gen.OneOf(
        new[] { "--wait-file", "/tmp/go" }, ["--single-child"], ["--post-file=/tmp/done"], ["--stdout-path", "/tmp/out"])
        .Array[0, 3].Select(parts => parts.SelectMany(p => p).ToArray());

    /// <summary>Everything <see cref="RunArguments"/> can say, as <c>emissary run</c> accepts it.</summary>
    private static readonly Gen<RunArguments> AnyArguments =
        Gen.Select(
            Gen.Select(Gen.OneOf<string?>(null, "main", "build-2", "db.cache"), Gen.OneOf("fetch", "lint", "s3_up").Array[0, 3], Gen.Bool, Gen.Bool, Presets, Gen.OneOf("fetch", "lint").Array[0, 2]),
            Gen.Select(StopSignals, Durations, Durations, Gen.Int[0, 1000].Nullable(), Durations, Gen.Bool.Nullable()),
            Gen.Select(ResultNames, PassThrough, Presets, Gen.OneOf<string?>(null, "/tmp/message"), Gen.Int[TerminationMessage.MinimumBudget, 1 << 20].Nullable()),
            Gen.Select(Gen.OneOf<string?>(null, "gen", "src.1"), Gen.OneOf<string?>(null, "sink", "next_2"), Gen.OneOf("server", "worker").Array[0, 2]),
            (a, b, c, d) => new RunArguments
            {
                Observe = d.Item3, // accepted and validated, nothing run does: no setting to compare below
                // A stream needs a named step that runs once.
                StdinFrom = a.Item1 is not null && (b.Item4 ?? 0) == 0 ? d.Item1 : null,
                StdoutTo = a.Item1 is not null && (b.Item4 ?? 0) == 0 ? d.Item2 : null,
                Name = a.Item1,
                After = a.Item2,
                WaitStart = a.Item3 && a.Item1 is not null, // --wait-start needs --name
                RunOnUpstreamFailure = a.Item4,
                WaitProxy = a.Item5,
                SidecarOf = a.Item6,
                StopSignal = b.Item1,
                Grace = b.Item2,
                Timeout = b.Item3,
                Retries = b.Item4,
                RetryDelay = b.Item5,
                ContinueOnError = b.Item6,
                ResultFromStdout = c.Item1,
                Extra = c.Item2,
                Quit = c.Item3,
                TerminationLog = c.Item4,
                TerminationBudget = c.Item5,
            });

    [Fact]
    public void Emissary_run_parses_and_binds_the_written_arguments_into_the_settings_they_were_written_from()
    {
        AnyArguments.Sample(written =>
        {
            IReadOnlyList<string> argv = written.Format();
            ParsedCommand parsed = CliParser.Parse(RunCli.Build(), OptionValues.Global, argv, ["true"]);
            RunOptions options = RunCli.Bind(new OptionValues(parsed, _ => null), parsed.Payload);

            StepRules rules = options.Rules;
            options.Name.Should().Be(written.Name);
            rules.Gates.OfType<Gate.AfterStep>().Select(g => g.Step).Should().Equal(written.After);
            rules.Gates.OfType<Gate.ManualStart>().Any().Should().Be(written.WaitStart);
            rules.RunOnUpstreamFailure.Should().Be(written.RunOnUpstreamFailure);
            rules.Gates.OfType<Gate.HttpReady>().Select(g => g.Target.Url).Should().Equal(
                written.WaitProxy is { } ready ? [SidecarQuit.ReadyPresets[ready]] : []);
            options.SidecarOf.Should().Equal(written.SidecarOf);
            rules.Policy.StopSignal.Should().Be(written.StopSignal ?? Signals.TERM);
            rules.Policy.Grace.Should().Be(written.Grace ?? TimeSpan.FromSeconds(10));
            rules.Policy.Timeout.Should().Be(written.Timeout);
            rules.Retries.Should().Be(written.Retries ?? 0);
            rules.RetryDelay.Should().Be(written.RetryDelay ?? TimeSpan.FromSeconds(1));
            rules.ContinueOnError.Should().Be(written.ContinueOnError ?? false);
            options.ResultFromStdout.Should().Be(written.ResultFromStdout);
            options.StdinFrom.Should().Be(written.StdinFrom);
            options.StdoutTo.Should().Be(written.StdoutTo);
            options.QuitUrls.Select(u => u.Url).Should().Equal(written.Quit is { } quit ? [SidecarQuit.QuitPresets[quit]] : []);
            options.TerminationLog.Should().Be(written.TerminationLog);
            options.TerminationBudget.Should().Be(written.TerminationBudget ?? TerminationMessage.DefaultBudget);
            // The pass-through flags reach run too.
            rules.Gates.OfType<Gate.FileExists>().Any().Should().Be(written.Extra.Contains("--wait-file"));
            rules.Policy.OwnProcessGroup.Should().Be(!written.Extra.Contains("--single-child"));
            (options.PostFile is not null).Should().Be(written.Extra.Contains("--post-file=/tmp/done"));
            (options.StdoutPath is not null).Should().Be(written.Extra.Contains("--stdout-path"));
        }, iter: 500);
    }

    /// <summary>
    /// The settings of a step named main in a pod with two other steps (fetch, lint): what a
    /// rewritten command can carry there, given that the rewrite derives the name, the proxy flags,
    /// the termination budget and whose sidecar it is from the pod.
    /// </summary>
    private static readonly Gen<(RunArguments Arguments, string? Proxy)> MainStep =
        Gen.Select(
            Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, Gen.Bool, Presets, Gen.OneOf<string?>(null, "/tmp/message")),
            Gen.Select(StopSignals, Durations, Durations, Gen.Int[0, StepFields.MaxRetries].Nullable(), Durations, Gen.Bool.Nullable()),
            Gen.Select(ResultNames, PassThrough, Gen.Bool, Gen.Bool),
            (a, b, c) =>
            {
                (bool sidecar, bool afterFetch, bool afterLint, bool waitStart, bool runOnUpstreamFailure, string? proxy, string? terminationLog) = a;
                string? preset = sidecar ? null : proxy; // sidecars neither wait for the proxy nor quit it
                return (new RunArguments
                {
                    Name = "main",
                    After = sidecar ? [] : new[] { afterFetch ? "fetch" : null, afterLint ? "lint" : null }.OfType<string>().ToArray(),
                    Observe = new[] { c.Item3 ? "fetch" : null, c.Item4 ? "lint" : null }.OfType<string>().ToArray(),
                    WaitStart = waitStart,
                    RunOnUpstreamFailure = runOnUpstreamFailure,
                    WaitProxy = preset,
                    SidecarOf = sidecar ? ["fetch", "lint"] : [],
                    StopSignal = b.Item1,
                    Grace = b.Item2,
                    Timeout = b.Item3,
                    Retries = b.Item4,
                    RetryDelay = b.Item5,
                    ContinueOnError = b.Item6,
                    ResultFromStdout = c.Item1,
                    Extra = c.Item2,
                    Quit = preset, // main is a final step: nothing waits for it
                    TerminationLog = terminationLog,
                    TerminationBudget = EmissaryRun.PodTerminationBudget / 3,
                }, proxy);
            });

    [Fact]
    public void A_rewritten_command_read_back_through_the_pods_graph_gives_the_settings_and_the_arguments_it_was_written_from()
    {
        MainStep.Sample(sample =>
        {
            (RunArguments written, string? proxy) = sample;
            string[] command = [EmissaryRun.Binary, "run", .. written.Format(), "--", "sh", "-c", "echo $HOME"];
            string pod = $$"""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: p
                {{(proxy is null ? "" : $"  annotations:\n    emissary.dev/proxy: {proxy}\n")}}spec:
                  restartPolicy: Never
                  containers:
                    - {name: fetch, image: x, command: [f]}
                    - {name: lint, image: x, command: [l]}
                    - name: main
                      image: x
                {{(written.TerminationLog is { } log ? $"      terminationMessagePath: {log}\n" : "")}}      command: {{JsonSerializer.Serialize(command)}}
                """;
            var errors = new List<ManifestError>();
            ManifestObject manifest = ManifestSet.Read(pod, "p.yaml").Documents.SelectMany(d => d.Objects).Single();

            PodGraph? graph = PodGraph.Extract(manifest, new PodGraphOptions(), errors);

            errors.Select(e => e.ToString()).Should().BeEmpty();
            StepSpec main = graph!.Find("main")!;
            main.Command.Should().Equal("sh", "-c", "echo $HOME");
            EmissaryRun.ArgumentsFor(main, graph).Should().BeEquivalentTo(written, o => o.WithStrictOrdering());
            EmissaryRun.RunArguments(main, graph).Should().Equal(written.Format());
        }, iter: 300);
    }
}
