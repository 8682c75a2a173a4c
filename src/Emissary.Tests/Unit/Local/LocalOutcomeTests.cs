using Emissary.Cli;
using Emissary.Commands;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.Local;

namespace Emissary.Tests.Unit.Local;

/// <summary>The pod's outcome as `emissary local` reports it, from the steps' final states, and the options that choose the engine.</summary>
public sealed class LocalOutcomeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 28, 7, 0, 0, TimeSpan.Zero);

    private static StepView Step(string name, StepState? state, int? exitCode = null, double finishedAfter = 1, bool continueOnError = false, int? processExitCode = null)
    {
        var view = new StepView(name, isSidecar: false) { State = state, ProcessExitCode = processExitCode };
        if (state is { } recorded)
        {
            view.Status = new StepStatus
            {
                Name = name,
                State = recorded,
                WaitingSince = T0,
                StartedAt = recorded == StepState.Skipped ? null : T0,
                FinishedAt = recorded.IsFinal() ? T0.AddSeconds(finishedAfter) : null,
                ExitCode = exitCode,
                Reason = exitCode is 0 ? "Completed" : exitCode is 123 ? "Skipped" : exitCode is null ? null : "Error",
                ContinueOnError = continueOnError,
            };
        }
        return view;
    }

    [Fact]
    public void Every_step_succeeded_is_0()
    {
        PodOutcome.Of([Step("a", StepState.Succeeded, 0), Step("b", StepState.Succeeded, 0)]).Should().Be(0);
    }

    [Fact]
    public void A_failure_is_the_exit_code_of_the_step_that_failed_first()
    {
        PodOutcome.Of(
        [
            Step("late", StepState.Failed, 7, finishedAfter: 5),
            Step("early", StepState.Failed, 2, finishedAfter: 1),
            Step("after", StepState.Skipped, 123, finishedAfter: 2),
        ]).Should().Be(2);
    }

    [Fact]
    public void A_failure_with_on_error_continue_does_not_fail_the_pod()
    {
        PodOutcome.Of([Step("lint", StepState.Failed, 2, continueOnError: true), Step("b", StepState.Succeeded, 0)]).Should().Be(0);
    }

    [Fact]
    public void Skipped_steps_without_a_failure_are_123()
    {
        PodOutcome.Of([Step("a", StepState.Succeeded, 0), Step("b", StepState.Skipped, 123)]).Should().Be(123);
    }

    [Fact]
    public void A_step_whose_emissary_died_without_a_final_state_fails_the_pod_with_that_exit_code()
    {
        StepView crashed = Step("build", StepState.Running, processExitCode: 137);

        PodOutcome.Of([Step("a", StepState.Succeeded, 0), crashed]).Should().Be(137);
        Timeline.Summary(crashed).Should().Be("crashed while running (exit 137)");
    }

    [Fact]
    public void A_step_that_never_registered_is_reported_with_its_process_exit_code()
    {
        StepView never = Step("bad", null, processExitCode: 125);

        PodOutcome.Of([never]).Should().Be(125);
        Timeline.Summary(never).Should().Be("exit 125 (never registered)");
    }

    private static LocalRequest Bind(string[] args, Dictionary<string, string>? environment = null)
    {
        CliCommand command = LocalCli.Build();
        ParsedCommand parsed = CliParser.Parse(command, OptionValues.Global, args, payload: null);
        return LocalCli.Bind(new OptionValues(parsed, name => environment?.GetValueOrDefault(name)));
    }

    [Fact]
    public void The_process_engine_is_the_default_and_podman_uses_the_local_dev_image_by_default()
    {
        LocalRequest request = Bind(["pod.yaml"]);

        request.Engine.Should().Be(LocalEngineKind.Process);
        request.Image.Should().Be("localhost/emissary:dev");
        request.Grace.Should().Be(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Engine_and_image_come_from_the_command_line_or_the_environment()
    {
        Bind(["pod.yaml", "--engine", "podman", "--image", "localhost/emissary:e2e"]).Should().Match<LocalRequest>(r =>
            r.Engine == LocalEngineKind.Podman && r.Image == "localhost/emissary:e2e");
        Bind(["pod.yaml"], new() { ["EMISSARY_ENGINE"] = "podman" }).Engine.Should().Be(LocalEngineKind.Podman);
    }

    [Fact]
    public void An_unknown_engine_is_a_usage_error_naming_the_choices()
    {
        Action bind = () => Bind(["pod.yaml", "--engine", "docker"]);

        bind.Should().Throw<UsageException>().WithMessage("--engine: 'docker' is not one of process, podman");
    }
}
