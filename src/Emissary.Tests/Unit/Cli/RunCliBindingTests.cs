using Emissary.Cli;
using Emissary.Commands;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Gates;
using Emissary.Net;
using Emissary.Results;
using Emissary.Sidecars;
using Emissary.Supervision;

namespace Emissary.Tests.Unit.Cli;

/// <summary>
/// Every option of `emissary run`, given on the command line and through its EMISSARY_*
/// variable, lands in the right field of <see cref="RunOptions"/>; the command line wins over the
/// environment; bad values, from either, are usage errors. The table must name every option
/// <see cref="RunCli"/> defines, so a new flag without a row fails here.
/// </summary>
public sealed class RunCliBindingTests
{
    /// <summary>
    /// One option: <see cref="Value"/> binds to <see cref="Expected"/> as read by <see cref="Read"/>;
    /// <see cref="Other"/> is another valid value that binds to something else (null for flags:
    /// "false"). <see cref="With"/> are command-line arguments the option needs next to it.
    /// </summary>
    private sealed record Case(string Value, string Other, Func<RunOptions, object?> Read, object? Expected, string[]? With = null)
    {
        public bool IsFlag => Value == "true";
    }

    // Gates and URLs compare by what they say (their records hold byte arrays, compared by reference).
    private static object GatesOf(RunOptions o) => o.Rules.Gates.Select(g => $"{g.GetType().Name}: {g}").ToArray();

    private static string[] Gates(params Gate[] gates) => gates.Select(g => $"{g.GetType().Name}: {g}").ToArray();

    private static object QuitUrlsOf(RunOptions o) => o.QuitUrls.Select(u => u.Url).ToArray();

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["--name"] = new("build", "test", o => o.Name, "build"),
        ["--control-dir"] = new("/x/ctl", "/y/ctl", o => o.ControlDir, "/x/ctl"),
        ["--after"] = new("fetch,lint", "other", GatesOf, Gates(new Gate.AfterStep("fetch"), new Gate.AfterStep("lint"))),
        ["--wait-file"] = new("/tmp/a", "/tmp/b", GatesOf, Gates(new Gate.FileExists("/tmp/a", false))),
        ["--wait-content"] = new("true", "false", GatesOf, Gates(new Gate.FileExists("/tmp/a", true)), ["--wait-file", "/tmp/a"]),
        ["--wait-fifo"] = new("/tmp/f", "/tmp/g", GatesOf, Gates(new Gate.Fifo("/tmp/f"))),
        ["--wait-start"] = new("true", "false", GatesOf, Gates(new Gate.ManualStart("build")), ["--name", "build"]),
        ["--wait-http"] = new("http://127.0.0.1:8080/ready", "http://127.0.0.1:8081/", GatesOf,
            Gates(new Gate.HttpReady(HttpTarget.Parse("http://127.0.0.1:8080/ready", "test")))),
        ["--wait-tcp"] = new("127.0.0.1:5432", "127.0.0.1:5433", GatesOf, Gates(new Gate.TcpReady(NetEndpoint.Parse("127.0.0.1:5432", "test")))),
        ["--wait-proxy"] = new("istio", "linkerd", GatesOf,
            Gates(new Gate.HttpReady(HttpTarget.Parse(SidecarQuit.ReadyPresets["istio"], "test")))),
        ["--wait-timeout"] = new("90s", "1m", o => o.Rules.WaitTimeout, TimeSpan.FromSeconds(90)),
        ["--run-on-upstream-failure"] = new("true", "false", o => o.Rules.RunOnUpstreamFailure, true),
        ["--sidecar-of"] = new("a,b", "c", o => o.SidecarOf, new[] { "a", "b" }),
        ["--stop-signal"] = new("INT", "QUIT", o => o.Rules.Policy.StopSignal, Signals.INT),
        ["--quit-url"] = new("http://127.0.0.1:9000/quit", "http://127.0.0.1:9001/", QuitUrlsOf, new[] { "http://127.0.0.1:9000/quit" }),
        ["--quit"] = new("linkerd", "istio", QuitUrlsOf, new[] { SidecarQuit.QuitPresets["linkerd"] }),
        ["--results-dir"] = new("/r", "/s", o => o.ResultsDir, "/r"),
        ["--termination-log"] = new("/t/log", "/t/other", o => o.TerminationLog, "/t/log"),
        ["--termination-budget"] = new("8192", "2048", o => o.TerminationBudget, 8192),
        ["--termination-format"] = new("tekton", "emissary", o => o.TerminationFormat, TerminationFormat.Tekton),
        ["--stdout-path"] = new("/o/out", "/o/other", o => o.StdoutPath, "/o/out"),
        ["--stderr-path"] = new("/o/err", "/o/other", o => o.StderrPath, "/o/err"),
        ["--result-from-stdout"] = new("digest", "other", o => o.ResultFromStdout, "digest"),
        ["--single-child"] = new("true", "false", o => o.Rules.Policy.OwnProcessGroup, false),
        ["--timeout"] = new("5m", "1m", o => o.Rules.Policy.Timeout, TimeSpan.FromMinutes(5)),
        ["--grace"] = new("3s", "4s", o => o.Rules.Policy.Grace, TimeSpan.FromSeconds(3)),
        ["--on-error"] = new("continue", "stopAndFail", o => o.Rules.ContinueOnError, true),
        ["--retries"] = new("4", "2", o => o.Rules.Retries, 4),
        ["--retry-delay"] = new("250ms", "2s", o => o.Rules.RetryDelay, TimeSpan.FromMilliseconds(250)),
        ["--restart-policy"] = new("OnFailure", "Always", o => o.Restart.Policy, Emissary.Control.RestartPolicy.OnFailure),
        ["--restart-rules"] = new("""[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]""", "[]",
            o => o.Restart.Rules.Select(r => $"{r.Action} {r.In} {string.Join(',', r.Values)}").ToArray(), new[] { "Restart True 42" }),
        ["--post-file"] = new("/p/done", "/p/other", o => o.PostFile, "/p/done"),
        ["--breakpoint"] = new("before", "after", o => o.Rules.Breakpoints, Emissary.Control.PausePoint.Before, ["--name", "build"]),
        ["--breakpoint-timeout"] = new("5m", "1m", o => o.Rules.BreakpointTimeout, TimeSpan.FromMinutes(5), ["--name", "build"]),
        ["--stdin-from"] = new("gen", "other", o => o.StdinFrom, "gen", ["--name", "build"]),
        ["--stdout-to"] = new("sink", "other", o => o.StdoutTo, "sink", ["--name", "build"]),
        ["--stream-timeout"] = new("30s", "1m", o => o.StreamTimeout, TimeSpan.FromSeconds(30), ["--name", "build", "--stdout-to", "sink"]),
    };

    /// <summary>
    /// Options run validates and binds to nothing: <c>--observe</c> only tells <c>emissary rewrite</c>
    /// which records to mount (tested below).
    /// </summary>
    private static readonly string[] Declarations = ["--observe"];

    public static TheoryData<string> Options => new(Cases.Keys);

    private static string EnvName(string option) => "EMISSARY_" + option.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    private static RunOptions Bind(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        CliCommand command = RunCli.Build();
        ParsedCommand parsed = CliParser.Parse(command, OptionValues.Global, args.ToArray(), ["work"]);
        return RunCli.Bind(new OptionValues(parsed, name => environment?.GetValueOrDefault(name)), parsed.Payload);
    }

    private static string[] OnCommandLine(string option, string value, Case c) =>
        [.. c.With ?? [], .. c.IsFlag ? (value == "true" ? [option] : [$"{option}=false"]) : new[] { option, value }];

    private static void ShouldBind(RunOptions options, Case c, string because) =>
        c.Read(options).Should().BeEquivalentTo(c.Expected, because);

    [Fact]
    public void The_table_covers_every_option_of_run_and_their_environment_names()
    {
        CliCommand command = RunCli.Build();

        command.Options.Select(o => o.Name).Should().BeEquivalentTo(Cases.Keys.Concat(Declarations));
        command.Options.Select(o => o.EnvName).Should().BeEquivalentTo(Cases.Keys.Concat(Declarations).Select(EnvName));
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Without_the_option_its_field_differs_from_what_the_option_sets(string option)
    {
        Case c = Cases[option];

        c.Read(Bind(c.With ?? [])).Should().NotBeEquivalentTo(c.Expected, "else the binding tests below could not fail");
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Each_option_on_the_command_line_binds_to_its_field(string option)
    {
        Case c = Cases[option];

        ShouldBind(Bind(OnCommandLine(option, c.Value, c)), c, $"{option} {c.Value}");
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Each_option_from_its_environment_variable_binds_to_its_field(string option)
    {
        Case c = Cases[option];

        ShouldBind(Bind(c.With ?? [], new Dictionary<string, string> { [EnvName(option)] = c.Value }), c, $"{EnvName(option)}={c.Value}");
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void The_command_line_wins_over_the_environment(string option)
    {
        Case c = Cases[option];
        var environment = new Dictionary<string, string> { [EnvName(option)] = c.Other };
        c.Read(Bind(c.With ?? [], environment)).Should().NotBeEquivalentTo(c.Expected, "the other value alone binds differently");

        ShouldBind(Bind(OnCommandLine(option, c.Value, c), environment), c, $"{option} {c.Value} with {EnvName(option)}={c.Other}");
    }

    [Theory]
    [InlineData("--single-child")]
    [InlineData("--wait-start")]
    public void A_flag_given_as_false_on_the_command_line_wins_over_true_in_the_environment(string option)
    {
        Case c = Cases[option];
        var environment = new Dictionary<string, string> { [EnvName(option)] = "1" };
        ShouldBind(Bind(c.With ?? [], environment), c, "the variable alone sets it");

        c.Read(Bind(OnCommandLine(option, "false", c), environment)).Should().NotBeEquivalentTo(c.Expected);
    }

    [Theory]
    [InlineData("--wait-timeout", "soon")]
    [InlineData("--timeout", "soon")]
    [InlineData("--grace", "soon")]
    [InlineData("--retry-delay", "soon")]
    [InlineData("--retries", "-1")]
    [InlineData("--retries", "1001")]
    [InlineData("--retries", "two")]
    [InlineData("--termination-budget", "lots")]
    [InlineData("--termination-budget", "99999999")]
    [InlineData("--termination-format", "yaml")]
    [InlineData("--on-error", "ignore")]
    [InlineData("--stop-signal", "NOPE")]
    [InlineData("--quit", "envoy")]
    [InlineData("--wait-proxy", "envoy")]
    [InlineData("--quit-url", "not a url")]
    [InlineData("--wait-http", "not a url")]
    [InlineData("--wait-tcp", "no-port")]
    [InlineData("--name", "Not A Name!")]
    [InlineData("--after", "Not A Name!")]
    [InlineData("--sidecar-of", "Not A Name!")]
    [InlineData("--observe", "Not A Name!")]
    [InlineData("--observe", "a,Not A Name!")]
    [InlineData("--result-from-stdout", "-x")]
    public void A_bad_value_on_the_command_line_or_in_the_environment_is_a_usage_error(string option, string value)
    {
        var onCommandLine = () => Bind([option, value]);
        var fromEnvironment = () => Bind([], new Dictionary<string, string> { [EnvName(option)] = value });

        onCommandLine.Should().Throw<UsageException>().Which.Message.Should().ContainAny(option, value);
        fromEnvironment.Should().Throw<UsageException>();
    }

    [Fact]
    public void Observe_takes_step_names_from_the_command_line_or_the_environment_and_changes_nothing_run_does()
    {
        RunOptions plain = Bind(["--name", "untrusted"]);

        Bind(["--name", "untrusted", "--observe", "server", "--observe", "worker,db"]).Should().BeEquivalentTo(plain);
        Bind(["--name", "untrusted"], new Dictionary<string, string> { ["EMISSARY_OBSERVE"] = "server,worker" }).Should().BeEquivalentTo(plain);
    }

    [Theory]
    [InlineData("--retries", "two")]
    [InlineData("--timeout", "soon")]
    [InlineData("--termination-format", "yaml")]
    public void A_bad_value_from_the_environment_names_the_variable(string option, string value)
    {
        var bind = () => Bind([], new Dictionary<string, string> { [EnvName(option)] = value });

        bind.Should().Throw<UsageException>().Which.Message.Should().Contain($"{option} (from {EnvName(option)})").And.Contain(value);
    }

    [Theory]
    [InlineData("--single-child")]
    [InlineData("--wait-start")]
    [InlineData("--run-on-upstream-failure")]
    public void A_flag_variable_that_is_not_a_boolean_is_a_usage_error(string option)
    {
        var bind = () => Bind(["--name", "build"], new Dictionary<string, string> { [EnvName(option)] = "maybe" });

        bind.Should().Throw<UsageException>().Which.Message.Should().Contain($"{EnvName(option)}=maybe");
    }

    [Theory]
    [InlineData(new[] { "--wait-content" }, "--wait-content needs --wait-file")]
    [InlineData(new[] { "--wait-start" }, "--wait-start needs --name")]
    [InlineData(new[] { "--name", "a", "--after", "a" }, "cannot wait for itself")]
    [InlineData(new[] { "--name", "a", "--sidecar-of", "a" }, "cannot be its own sidecar")]
    [InlineData(new[] { "--single-child=maybe" }, "takes no value")]
    public void Options_that_contradict_each_other_are_usage_errors(string[] args, string message)
    {
        var bind = () => Bind(args);

        bind.Should().Throw<UsageException>().Which.Message.Should().Contain(message);
    }
}
