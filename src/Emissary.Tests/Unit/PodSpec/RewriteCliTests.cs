using Emissary.Cli;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.PodSpec;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>The options of `emissary rewrite`, and the short alias and repeated argument the parser gained for them.</summary>
public sealed class RewriteCliTests
{
    private static RewriteOptions Bind(string[] args, Dictionary<string, string>? environment = null)
    {
        CliCommand command = RewriteCli.Build();
        ParsedCommand parsed = CliParser.Parse(command, OptionValues.Global, args, payload: null);
        return RewriteCli.Bind(new OptionValues(parsed, name => environment?.GetValueOrDefault(name)));
    }

    [Fact]
    public void Without_arguments_it_reads_stdin_and_writes_stdout_with_the_defaults()
    {
        RewriteOptions options = Bind([]);

        options.Inputs.Should().BeEmpty();
        options.Output.Should().BeNull();
        options.Image.Should().Be(RewriteSettings.DefaultImage);
        options.Entrypoints.Should().BeNull();
        options.NativeSidecars.Should().BeFalse();
    }

    [Theory]
    [InlineData("-o", "out.yaml")]
    [InlineData("--output", "out.yaml")]
    [InlineData("-o=out.yaml", null)]
    [InlineData("--output=out.yaml", null)]
    public void The_output_is_given_with_o_or_output(string option, string? value)
    {
        string[] args = value is null ? ["a.yaml", option] : ["a.yaml", option, value];

        Bind(args).Output.Should().Be("out.yaml");
    }

    [Fact]
    public void Any_number_of_files_can_be_given_with_dash_for_stdin()
    {
        RewriteOptions options = Bind(["a.yaml", "-", "b.json", "--native-sidecars", "--image", "my/emissary:1", "--entrypoints", "ep.yaml"]);

        options.Inputs.Should().Equal("a.yaml", "-", "b.json");
        options.NativeSidecars.Should().BeTrue();
        options.Image.Should().Be("my/emissary:1");
        options.Entrypoints.Should().Be("ep.yaml");
    }

    [Fact]
    public void Options_can_come_from_the_environment()
    {
        RewriteOptions options = Bind([], new Dictionary<string, string>
        {
            ["EMISSARY_IMAGE"] = "env/emissary:2",
            ["EMISSARY_NATIVE_SIDECARS"] = "yes",
        });

        options.Image.Should().Be("env/emissary:2");
        options.NativeSidecars.Should().BeTrue();
    }

    [Theory]
    [InlineData(new[] { "-x" }, "unknown option '-x' for 'emissary rewrite' (see: emissary rewrite --help)")]
    [InlineData(new[] { "--ouptut", "f" }, "unknown option '--ouptut' for 'emissary rewrite' (did you mean '--output'?) (see: emissary rewrite --help)")]
    [InlineData(new[] { "-o" }, "--output needs a value (FILE)")]
    public void Bad_usage_is_a_usage_error(string[] args, string message)
    {
        var bind = () => Bind(args);

        bind.Should().Throw<UsageException>().WithMessage(message);
    }

    [Fact]
    public void A_command_without_a_repeated_argument_still_rejects_extra_arguments()
    {
        var parse = () => CliParser.Parse(InitCli.Build(), OptionValues.Global, ["a", "b"], payload: null);

        parse.Should().Throw<UsageException>().WithMessage("unexpected argument 'b' (usage: emissary init DEST)");
    }

    [Fact]
    public void The_help_shows_the_short_alias()
    {
        RewriteCli.Build().Help(OptionValues.Global).Should().Contain("  -o, --output FILE ").And.Contain("FILE...");
    }

    [Fact]
    public void An_image_with_spaces_is_a_usage_error()
    {
        var run = () => RewriteCommand.Execute(new RewriteOptions { Image = "a b", Inputs = ["/nonexistent"] });

        run.Should().Throw<UsageException>().WithMessage("--image: 'a b' is not an image reference");
    }
}
