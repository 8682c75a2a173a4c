using Emissary.Supervision;

namespace Emissary.Tests.Unit;

public sealed class CommandResolverTests
{
    private readonly Dictionary<string, FileKind> _files = new()
    {
        ["/usr/bin/tool"] = FileKind.Executable,
        ["/bin/tool"] = FileKind.Executable,
        ["/opt/bin/data"] = FileKind.NotExecutable,
        ["/usr/bin/data"] = FileKind.Executable,
        ["/opt/bin/only-data"] = FileKind.NotExecutable,
        ["/usr/bin/adir"] = FileKind.Directory,
        ["./local"] = FileKind.Executable,
        ["local"] = FileKind.Executable,
    };

    private ResolvedCommand Resolve(string path, params string[] argv) =>
        CommandResolver.Resolve(argv, path, p => _files.GetValueOrDefault(p, FileKind.Missing));

    [Fact]
    public void Takes_the_first_executable_on_PATH()
    {
        Resolve("/nope:/usr/bin:/bin", "tool", "x").Path.Should().Be("/usr/bin/tool");
    }

    [Fact]
    public void Keeps_argv_as_typed()
    {
        ResolvedCommand command = Resolve("/usr/bin", "tool", "-c", "x");
        command.Argv.Should().Equal("tool", "-c", "x");
        command.Arguments.Should().Equal("-c", "x");
    }

    [Fact]
    public void Skips_a_non_executable_match_like_execvp()
    {
        Resolve("/opt/bin:/usr/bin", "data").Path.Should().Be("/usr/bin/data");
    }

    [Fact]
    public void A_match_that_is_never_executable_is_126()
    {
        FluentActions.Invoking(() => Resolve("/opt/bin:/usr/bin", "only-data"))
            .Should().Throw<LaunchException>().Where(e => e.ExitCode == 126 && e.Message.Contains("/opt/bin/only-data"));
    }

    [Fact]
    public void A_missing_command_is_127()
    {
        FluentActions.Invoking(() => Resolve("/usr/bin", "missing"))
            .Should().Throw<LaunchException>().Where(e => e.ExitCode == 127 && e.Message.Contains("missing"));
    }

    [Fact]
    public void Directories_on_PATH_are_not_commands()
    {
        FluentActions.Invoking(() => Resolve("/usr/bin", "adir"))
            .Should().Throw<LaunchException>().Which.ExitCode.Should().Be(127);
    }

    [Fact]
    public void A_path_with_a_slash_is_not_searched()
    {
        Resolve("/usr/bin", "./local").Path.Should().Be("./local");
        FluentActions.Invoking(() => Resolve("/usr/bin", "/usr/bin/adir"))
            .Should().Throw<LaunchException>().Where(e => e.ExitCode == 126 && e.Message.Contains("is a directory"));
        FluentActions.Invoking(() => Resolve("/usr/bin", "/no/such"))
            .Should().Throw<LaunchException>().Which.ExitCode.Should().Be(127);
    }

    [Fact]
    public void An_empty_PATH_entry_means_the_current_directory()
    {
        Resolve(":/usr/bin", "local").Path.Should().Be("local");
    }

    [Fact]
    public void An_unset_PATH_uses_the_execvp_default()
    {
        CommandResolver.Resolve(["tool"], null, p => _files.GetValueOrDefault(p, FileKind.Missing)).Path.Should().Be("/usr/bin/tool");
    }
}
