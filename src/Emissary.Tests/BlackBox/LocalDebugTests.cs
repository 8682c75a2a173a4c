using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// `emissary local --debug` (issue #27) through a real terminal (tmux): a failing step pauses, a
/// shell opens in its context (working directory, env, EMISSARY_RESULTS), and the answer after
/// the shell (rerun, fail, continue) is acted on; a rerun that pauses again opens a new shell;
/// SIGTERM while the shell is open ends everything; without a terminal, --debug says so and
/// changes nothing.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LocalDebugTests : BlackBoxTest
{
    private const int SIGTERM = 15;

    private static string ToolsPath => Path.Combine(Artifacts.Directory, "emissary-tools");

    /// <summary>
    /// A directory with pod.yaml (build, in the directory, fails with 3 until a file named marker
    /// exists there; publish after it) and run.sh, which runs `emissary local --debug` there with
    /// $SHELL=/bin/sh, keeps its pid in local.pid and its exit code in exit.
    /// </summary>
    private string Workspace()
    {
        string dir = TempDir("ldbg");
        File.WriteAllText(Path.Combine(dir, "pod.yaml"), $$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: dbg}
            spec:
              containers:
                - name: build
                  image: busybox
                  workingDir: {{dir}}
                  env: [{name: GREETING, value: hello}]
                  command: [sh, -c, "test -f marker || { echo build fails; exit 3; }; echo build ok"]
                - name: publish
                  image: busybox
                  waitForTermination: [build]
                  command: [sh, -c, "echo publish runs"]
            """);
        File.WriteAllText(Path.Combine(dir, "inner.sh"), $"""
            echo $$ > local.pid
            exec env SHELL=/bin/sh PS1='dbg$ ' {ToolsPath} local pod.yaml --debug --events events.jsonl
            """);
        File.WriteAllText(Path.Combine(dir, "run.sh"), """
            sh ./inner.sh
            echo $? > exit
            exec sleep 600
            """);
        return dir;
    }

    private Tmux Terminal(string dir) => new((file, args) => Run(file, args), $"cd {dir} && sh ./run.sh");

    /// <summary>emissary local's exit code, once it has ended (run.sh writes it to DIR/exit).</summary>
    internal static int ExitCode(string dir, Tmux terminal, double seconds = 20)
    {
        string path = Path.Combine(dir, "exit");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(path) || File.ReadAllText(path).Trim().Length == 0)
        {
            if (clock.Elapsed.TotalSeconds > seconds)
                throw new XunitException($"emissary local did not end within {seconds} s; the terminal shows:\n{terminal.Screen()}");
            Thread.Sleep(100);
        }
        return int.Parse(File.ReadAllText(path).Trim());
    }

    private static List<(string Step, string State, DateTimeOffset Time)> Events(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "events.jsonl")).Where(l => l.Length > 0).Select(l =>
        {
            using JsonDocument doc = JsonDocument.Parse(l);
            return (doc.RootElement.GetProperty("step").GetString()!, doc.RootElement.GetProperty("state").GetString()!, doc.RootElement.GetProperty("time").GetDateTimeOffset());
        }).ToList();

    [BlackBoxFact]
    public void A_failing_step_opens_a_shell_in_its_context_and_rerun_turns_it_into_a_success_then_the_dependant_runs()
    {
        string dir = Workspace();
        using Tmux terminal = Terminal(dir);

        terminal.WaitFor("── build: paused on-failure (exit 3)");
        terminal.Type("echo \"cwd=$(pwd) greeting=$GREETING results=$EMISSARY_RESULTS\"");
        string screen = terminal.WaitFor($"cwd={dir} greeting=hello results=");
        Regex.IsMatch(screen, $@"cwd={Regex.Escape(dir)} greeting=hello results=/\S+/build/results").Should().BeTrue(
            "the shell runs in the step's directory, with its env and EMISSARY_RESULTS\n{0}", screen);
        screen.Should().Contain("command:   sh -c 'test -f marker", "the step's command is printed first");

        // A rerun that fails again pauses again: a new shell, for attempt 2.
        terminal.Type("exit");
        terminal.WaitFor("── build: [c]ontinue, [f]ail, [r]erun?");
        terminal.Type("r");
        terminal.WaitFor("── build: paused on-failure (exit 3), attempt 2");

        terminal.Type("touch marker; exit");
        terminal.WaitFor("── build: [c]ontinue, [f]ail, [r]erun?", times: 2);
        terminal.Type("r");

        ExitCode(dir, terminal).Should().Be(0, "the rerun succeeded and so did the dependant\n{0}", terminal.Screen());
        screen = terminal.Screen();
        screen.Should().Contain("▒ paused", "the timeline's legend has the paused mark\n{0}", screen);
        Regex.IsMatch(screen, @"build\s+\|[^|]*▒[^|]*\| exit 0 Completed .*paused on-failure, resumed by rerun, attempt 3").Should().BeTrue("{0}", screen);
        var events = Events(dir);
        events.Count(e => e is { Step: "build", State: "paused" }).Should().Be(2, "two pauses, each reported\n{0}", string.Join("\n", events));
        var built = events.Single(e => e is { Step: "build", State: "succeeded" });
        var published = events.Single(e => e is { Step: "publish", State: "running" });
        published.Time.Should().BeOnOrAfter(built.Time, "publish waited for build through both pauses");
    }

    [BlackBoxTheory]
    [InlineData("f", "fail")]
    [InlineData("c", "continue")]
    public void After_the_shell_fail_or_continue_ends_the_step_with_its_failure_and_skips_the_dependant(string key, string word)
    {
        string dir = Workspace();
        using Tmux terminal = Terminal(dir);

        terminal.WaitFor("── build: paused on-failure (exit 3)");
        terminal.Type("exit");
        terminal.WaitFor("── build: [c]ontinue, [f]ail, [r]erun?");
        terminal.Type(key);

        ExitCode(dir, terminal).Should().Be(3, "the failed command's code stands\n{0}", terminal.Screen());
        string screen = terminal.Screen();
        screen.Should().Contain($"── build: {word}");
        Regex.IsMatch(screen, $@"build\s+\|[^|]*\| exit 3 Error .*paused on-failure, resumed by {word}").Should().BeTrue("{0}", screen);
        var events = Events(dir);
        events.Should().Contain(e => e.Step == "publish" && e.State == "skipped", "a failed step skips its dependant");
        events.Should().NotContain(e => e.Step == "publish" && e.State == "running");
    }

    [BlackBoxFact]
    public void Sigterm_while_the_shell_is_open_ends_the_shell_and_every_step()
    {
        string dir = Workspace();
        using Tmux terminal = Terminal(dir);

        terminal.WaitFor("── build: paused on-failure (exit 3)");
        terminal.Type("echo $$ > shell.pid");
        string shellPid = Path.Combine(dir, "shell.pid");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(shellPid) || File.ReadAllText(shellPid).Trim().Length == 0)
        {
            clock.Elapsed.TotalSeconds.Should().BeLessThan(10, "the shell runs the line typed\n{0}", terminal.Screen());
            Thread.Sleep(50);
        }
        int shell = int.Parse(File.ReadAllText(shellPid).Trim());
        int local = int.Parse(File.ReadAllText(Path.Combine(dir, "local.pid")).Trim());

        Libc.Kill(local, SIGTERM);

        ExitCode(dir, terminal).Should().Be(143, "interrupted by SIGTERM\n{0}", terminal.Screen());
        Directory.Exists($"/proc/{shell}").Should().BeFalse("the debug shell ends with emissary local\n{0}", terminal.Screen());
        Events(dir).Should().Contain(e => e.Step == "build" && e.State == "failed", "the paused step ends as at pod deletion");
    }

    [BlackBoxFact]
    public void Without_a_terminal_debug_says_so_in_one_line_and_changes_nothing()
    {
        string dir = Workspace();

        var result = Run("/bin/sh", "-c", $"cd {dir} && {ToolsPath} local pod.yaml --debug --plain < /dev/null");

        result.ExitCode.Should().Be(3, "the failure stands, without a pause\n{0}", result);
        AssertNoStackTrace(result);
        result.StderrLines.Should().ContainSingle(l => l.Contains("--debug needs a terminal on stdin")).Which.Should().StartWith("emissary");
        result.Stdout.Should().NotContain("paused").And.NotContain("[c]ontinue");
        result.Stderr.Should().NotContain("paused");
    }
}
