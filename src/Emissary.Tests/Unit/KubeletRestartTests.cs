using Emissary.Control;
using Emissary.Foundation;
using Emissary.Gates;

namespace Emissary.Tests.Unit;

/// <summary>
/// What follows a step's exit as the kubelet decides it (KEP-5307: rules first, then the
/// container's or pod's restartPolicy), and what a dependant's gate reads from a restarting or
/// stale (earlier incarnation) record.
/// </summary>
public sealed class KubeletRestartTests : IDisposable
{
    private static KubeletRestart With(RestartPolicy policy, string? rules = null) =>
        new() { Policy = policy, Rules = rules is null ? [] : KubeletRestart.ParseRules(rules, "--restart-rules") };

    [Theory]
    [InlineData("Never", null, 1, "Final")]
    [InlineData("Never", null, 0, "Final")]
    [InlineData("OnFailure", null, 1, "Container")]
    [InlineData("OnFailure", null, 0, "Final")]
    [InlineData("Always", null, 0, "Container")]
    [InlineData("Never", """[{"action":"Restart","exitCodes":{"operator":"In","values":[42,43]}}]""", 43, "Container")]
    [InlineData("Never", """[{"action":"Restart","exitCodes":{"operator":"In","values":[42,43]}}]""", 44, "Final")]
    [InlineData("OnFailure", """[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]""", 1, "Container")]
    [InlineData("Never", """[{"action":"Restart","exitCodes":{"operator":"NotIn","values":[0,3]}}]""", 3, "Final")]
    [InlineData("Never", """[{"action":"Restart","exitCodes":{"operator":"NotIn","values":[0,3]}}]""", 137, "Container")]
    [InlineData("Never", """[{"action":"RestartAllContainers","exitCodes":{"operator":"In","values":[9]}},{"action":"Restart","exitCodes":{"operator":"NotIn","values":[0]}}]""", 9, "Pod")]
    [InlineData("Never", """[{"action":"RestartAllContainers","exitCodes":{"operator":"In","values":[9]}},{"action":"Restart","exitCodes":{"operator":"NotIn","values":[0]}}]""", 8, "Container")]
    public void The_first_matching_rule_decides_else_the_policy(string policy, string? rules, int exitCode, string expected)
    {
        With(KubeletRestart.ParsePolicy(policy, "--restart-policy"), rules).After(exitCode).ToString().Should().Be(expected);
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("""[{"action":"Restart"}]""")]
    [InlineData("""[{"action":"Restart","exitCodes":{"operator":"Maybe","values":[1]}}]""")]
    [InlineData("""[{"action":"Restart","exitCodes":{"operator":"In","values":[1.5]}}]""")]
    [InlineData("""[{"action":"Restart","exitCodes":{"operator":"In","values":[99999999999]}}]""")]
    [InlineData("""{"action":"Restart"}""")]
    public void Malformed_rules_are_a_usage_error(string rules)
    {
        FluentActions.Invoking(() => KubeletRestart.ParseRules(rules, "--restart-rules")).Should().Throw<UsageException>()
            .Which.Message.Should().StartWith("--restart-rules");
    }

    // ---- what a dependant reads ----

    private readonly string _root = Directory.CreateTempSubdirectory("emissary-restart-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ControlDirectory Dir => new(Path.Combine(_root, "ctl"));

    private void Write(string name, string statusJson, int? exitCode)
    {
        Directory.CreateDirectory(Dir.StepDirectory(name));
        File.WriteAllText(Dir.PathOf(name, ControlDirectory.StatusFile), statusJson);
        if (exitCode is { } code)
        {
            File.WriteAllText(Dir.PathOf(name, ControlDirectory.ExitCodeFile), $"{code}\n");
        }
    }

    [Fact]
    public void A_restarting_upstream_keeps_the_gate_closed_until_its_next_run_registers()
    {
        Write("build", """{"name":"build","state":"restarting","exitCode":1}""", exitCode: null);

        new GateEvaluator(new DiskGateView(Dir)).Evaluate(new Gate.AfterStep("build")).Should().Be(GateVerdict.Closed(Wake.Directories));
        new GateEvaluator(new DiskGateView(Dir)).IsOver("build").Should().Be(StepProgress.NotStarted, "a sidecar keeps serving a step that runs again");
    }

    [Fact]
    public void A_record_of_an_earlier_incarnation_reads_as_not_yet_run_even_with_an_exitcode()
    {
        Write("build", """{"name":"build","state":"succeeded","exitCode":0,"incarnation":"aaaa"}""", exitCode: 0);
        Write("lint", """{"name":"lint","state":"failed","exitCode":1}""", exitCode: 1);
        var evaluator = new GateEvaluator(new DiskGateView(Dir));
        evaluator.Evaluate(new Gate.AfterStep("build")).Should().Be(GateVerdict.Open, "the current incarnation: no pod restart happened");

        Incarnation.Begin(Dir);

        evaluator.Evaluate(new Gate.AfterStep("build")).Should().Be(GateVerdict.Closed(Wake.Directories));
        evaluator.Evaluate(new Gate.AfterStep("lint")).Should().Be(GateVerdict.Closed(Wake.Directories), "a record without an incarnation is from before the first");
        evaluator.IsOver("build").Should().Be(StepProgress.NotStarted);
    }

    [Fact]
    public void A_restarted_container_counts_its_runs_and_a_new_incarnation_starts_again_from_zero()
    {
        using (StepHandle first = StepHandle.Register(Dir, "build", DateTimeOffset.UnixEpoch, [], false, incarnation: null))
        {
            first.Status.Restarts.Should().Be(0);
            first.MarkRestarting(first.Status with { State = StepState.Failed, ExitCode = 1 });
        }
        using (StepHandle second = StepHandle.Register(Dir, "build", DateTimeOffset.UnixEpoch, [], false, incarnation: null))
        {
            second.Status.Restarts.Should().Be(1);
        }
        string id = Incarnation.Begin(Dir);
        Incarnation.Read(Dir).Should().Be(id);
        using StepHandle third = StepHandle.Register(Dir, "build", DateTimeOffset.UnixEpoch, [], false, incarnation: id);
        third.Status.Restarts.Should().Be(0);
        third.Status.Incarnation.Should().Be(id);
    }
}
