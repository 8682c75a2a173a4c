using Emissary.Cli;
using Emissary.Tools.PodSpec;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// Reading a rewritten command (<see cref="EmissaryRun.ParseWrapped"/>) knows which of run's
/// options take a value from the options run parses with, so a flag added to run cannot make the
/// reader swallow the next argument.
/// </summary>
public sealed class WrappedCommandTests
{
    private static IEnumerable<CliOption> RunOptions(Func<CliOption, bool> which) =>
        RunCli.Build().Options.Concat(OptionValues.Global).Where(which);

    [Fact]
    public void Every_value_less_option_of_run_is_read_without_taking_the_next_argument()
    {
        CliOption[] flags = RunOptions(o => o.Kind == ArgKind.Flag).ToArray();
        flags.Should().Contain(o => o.Name == "--wait-start").And.Contain(o => o.Name == "--single-child");

        foreach (CliOption flag in flags)
        {
            // A reader that took --timeout as the flag's value would lose the step's timeout.
            WrappedRun wrapped = EmissaryRun.ParseWrapped([EmissaryRun.Binary, "run", flag.Name, "--timeout", "5s", "--", "x"])!;

            wrapped.Settings.Should().EndWith([(StepField.Timeout, "5s")], $"{flag.Name} takes no value");
            wrapped.Settings.Should().HaveCount(wrapped.ExtraArguments.Count == 0 ? 2 : 1);
            if (wrapped.Settings.Count == 2)
            {
                wrapped.Settings[0].Value.Should().Be("true");
            }
            else
            {
                wrapped.ExtraArguments.Should().Equal(flag.Name);
            }
            wrapped.CommandStart.Should().Be(6);
        }
    }

    [Fact]
    public void Every_option_of_run_that_takes_a_value_takes_the_next_argument_even_when_it_looks_like_a_flag()
    {
        foreach (CliOption option in RunOptions(o => o.Kind != ArgKind.Flag))
        {
            WrappedRun wrapped = EmissaryRun.ParseWrapped([EmissaryRun.Binary, "run", option.Name, "--single-child", "--", "x"])!;

            bool asSetting = wrapped.Settings.Any(s => s.Value == "--single-child");
            bool asExtra = wrapped.ExtraArguments.SequenceEqual([option.Name, "--single-child"]);
            bool derived = wrapped.Settings.Count == 0 && wrapped.ExtraArguments.Count == 0;
            (asSetting || asExtra || derived).Should().BeTrue($"{option.Name} takes --single-child as its value");
            wrapped.ExtraArguments.Should().NotEqual(["--single-child"]);
        }
    }

    [Fact]
    public void The_flags_step_fields_describe_become_settings_and_the_rest_stay_verbatim()
    {
        WrappedRun wrapped = EmissaryRun.ParseWrapped(
        [
            EmissaryRun.Binary, "run", "--name", "a", "--wait-start=false", "--timeout", "1m", "--unknown-flag", "v",
            "--wait-content", "--retries=3", "--quit", "istio", "--", "cmd", "--timeout", "5s",
        ])!;

        wrapped.Settings.Should().Equal((StepField.WaitForStart, "false"), (StepField.Timeout, "1m"), (StepField.Retries, "3"));
        wrapped.ExtraArguments.Should().Equal("--unknown-flag", "v", "--wait-content");
        wrapped.CommandStart.Should().Be(14);
    }

    [Fact]
    public void Commands_that_are_not_emissary_run_are_not_read()
    {
        EmissaryRun.ParseWrapped(["sh", "-c", "emissary run -- x"]).Should().BeNull();
        EmissaryRun.ParseWrapped([EmissaryRun.Binary, "status"]).Should().BeNull();
    }
}
