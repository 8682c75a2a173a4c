using Emissary.Cli;
using Emissary.Foundation;

namespace Emissary.Tests.Unit.Cli;

/// <summary>
/// An empty value on the command line is a usage error for every value and list option, caught
/// once by the parser; an empty environment variable still means "unset".
/// </summary>
public sealed class EmptyValueTests
{
    private static ParsedCommand Parse(CliCommand command, params string[] args) =>
        CliParser.Parse(command, OptionValues.Global, args, command.TakesCommand ? ["true"] : null);

    /// <summary>Every value and list option of every in-pod command, and the global ones.</summary>
    public static TheoryData<string, string> EveryValueOption()
    {
        var data = new TheoryData<string, string>();
        CliCommand[] commands = [RunCli.Build(), InitCli.Build(), ControlCli.Signal(), ControlCli.Start(), ControlCli.Skip(), ControlCli.Status()];
        foreach (CliCommand command in commands)
        {
            foreach (CliOption option in command.Options.Concat(OptionValues.Global).Where(o => o.Kind != ArgKind.Flag))
            {
                data.Add(command.Name, option.Name);
            }
        }
        return data;
    }

    private static CliCommand CommandNamed(string name) => name switch
    {
        "run" => RunCli.Build(),
        "init" => InitCli.Build(),
        "signal" => ControlCli.Signal(),
        "start" => ControlCli.Start(),
        "skip" => ControlCli.Skip(),
        "status" => ControlCli.Status(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(EveryValueOption))]
    public void An_empty_separate_value_is_a_usage_error_naming_the_option(string commandName, string option)
    {
        CliCommand command = CommandNamed(commandName);
        string[] positional = command.Arguments.Where(a => a.Required).Select(_ => "x").ToArray();

        Action parse = () => Parse(command, [.. positional, option, ""]);

        parse.Should().Throw<UsageException>().Which.Message.Should().StartWith(option + ": empty value");
    }

    [Theory]
    [MemberData(nameof(EveryValueOption))]
    public void An_empty_value_after_an_equals_sign_is_a_usage_error(string commandName, string option)
    {
        CliCommand command = CommandNamed(commandName);
        string[] positional = command.Arguments.Where(a => a.Required).Select(_ => "x").ToArray();

        Action parse = () => Parse(command, [.. positional, option + "="]);

        parse.Should().Throw<UsageException>().Which.Message.Should().StartWith(option + ": empty value");
    }

    [Fact]
    public void The_run_command_has_value_and_list_options_to_check()
    {
        // Guards the theories above against an empty member list.
        EveryValueOption().Should().Contain(row => (string)row[1] == "--after")
            .And.Contain(row => (string)row[1] == "--post-file")
            .And.Contain(row => (string)row[1] == "--control-dir")
            .And.Contain(row => (string)row[1] == "--log-level");
    }

    [Theory]
    [InlineData("a,,b")]
    [InlineData(",a")]
    [InlineData("a,")]
    [InlineData("a, ,b")]
    [InlineData(" ")]
    public void An_empty_item_in_a_comma_list_is_a_usage_error(string value)
    {
        Action parse = () => Parse(RunCli.Build(), "--after", value);

        parse.Should().Throw<UsageException>().Which.Message.Should().StartWith("--after");
    }

    [Fact]
    public void Whole_values_and_lists_without_empty_items_parse()
    {
        ParsedCommand parsed = Parse(RunCli.Build(), "--after", "a, b", "--after=c", "--post-file", "/tmp/p");
        var values = new OptionValues(parsed, _ => null);

        values.List(Find(parsed, "--after")).Should().Equal("a", "b", "c");
        values.String(Find(parsed, "--post-file")).Should().Be("/tmp/p");
    }

    [Fact]
    public void An_empty_environment_variable_means_unset()
    {
        ParsedCommand parsed = Parse(RunCli.Build());
        var values = new OptionValues(parsed, name => name is "EMISSARY_AFTER" or "EMISSARY_POST_FILE" ? "" : null);

        values.List(Find(parsed, "--after")).Should().BeEmpty();
        values.String(Find(parsed, "--post-file")).Should().BeNull();
    }

    [Fact]
    public void An_empty_item_in_a_list_variable_is_a_usage_error_naming_the_variable()
    {
        ParsedCommand parsed = Parse(RunCli.Build());
        var values = new OptionValues(parsed, name => name == "EMISSARY_AFTER" ? "a,,b" : null);

        Action list = () => values.List(Find(parsed, "--after"));

        list.Should().Throw<UsageException>().Which.Message.Should().StartWith("EMISSARY_AFTER='a,,b': empty item");
    }

    [Fact]
    public void A_flag_given_an_empty_value_is_still_refused()
    {
        Action parse = () => Parse(RunCli.Build(), "--wait-start=");

        parse.Should().Throw<UsageException>();
    }

    private static CliOption Find(ParsedCommand parsed, string name) => parsed.Command.Options.Single(o => o.Name == name);
}
