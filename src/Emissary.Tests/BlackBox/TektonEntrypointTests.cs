using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using Xunit.Abstractions;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// artifacts/entrypoint as Tekton's controller drives it: the flags it emits, the subcommands of
/// its init containers, the /tekton file protocol, exit codes, and termination messages checked
/// with <see cref="TektonMessageChecker"/> (the controller's parsing rules). The /tekton root is a
/// temp dir through EMISSARY_TEKTON_ROOT; every path the controller passes as a flag is given as
/// the controller would give it, under that root.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TektonEntrypointTests : BlackBoxTest
{
    private readonly string _root;
    private readonly ITestOutputHelper output;

    public TektonEntrypointTests(ITestOutputHelper output)
    {
        this.output = output;
        _root = TempDir("tekton");
        foreach (string dir in new[] { "results", "steps", "run/0", "run/1", "run/2", "downward", "home" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
        for (int i = 0; i < 3; i++)
            File.CreateSymbolicLink(Path.Combine(_root, "steps", $"step-s{i}"), Path.Combine(_root, "run", i.ToString(), "status"));
    }

    private string Termination(int step) => Path.Combine(_root, $"termination-{step}");

    private string Run(int step, string file = "") => Path.Combine(_root, "run", step.ToString(), file);

    private Dictionary<string, string> Env => new() { ["EMISSARY_TEKTON_ROOT"] = _root, ["HOME"] = Path.Combine(_root, "home") };

    /// <summary>The flags pkg/pod/entrypoint.go emits for step <paramref name="step"/>, in its order, then extra flags and the command.</summary>
    private string[] StepArgs(int step, string[] extra, params string[] command)
    {
        var args = new List<string>();
        if (step == 0)
            args.AddRange(["-wait_file", Path.Combine(_root, "downward", "ready"), "-wait_file_content"]);
        else
            args.AddRange(["-wait_file", Run(step - 1, "out")]);
        args.AddRange(["-post_file", Run(step, "out"), "-termination_path", Termination(step), "-step_metadata_dir", Run(step, "status")]);
        args.AddRange(extra);
        args.AddRange(["-entrypoint", command[0], "--", .. command[1..]]);
        return args.ToArray();
    }

    private RunningProcess StartStep(int step, string[] extra, params string[] command) =>
        Start(Artifacts.Entrypoint, StepArgs(step, extra, command), Env);

    private ProcessResult RunStep(int step, string[] extra, params string[] command)
    {
        if (step == 0)
            File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
        return StartStep(step, extra, command).WaitForExit();
    }

    private ProcessResult RunEntrypoint(params string[] args) => Start(Artifacts.Entrypoint, args, Env).WaitForExit();

    // ---- command line (Go flag syntax) ----

    [BlackBoxFact]
    public void An_unknown_flag_prints_Gos_error_and_usage_and_exits_2()
    {
        var result = RunEntrypoint("-no_such_flag", "x", "--", "true");
        result.ExitCode.Should().Be(2, result.ToString());
        result.StderrLines[0].Should().Be("flag provided but not defined: -no_such_flag");
        result.Stderr.Should().Contain($"Usage of {Artifacts.Entrypoint}:").And.Contain("-wait_file string");
    }

    [BlackBoxFact]
    public void Flag_errors_use_Gos_wording()
    {
        RunEntrypoint("-timeout", "5", "--", "true").StderrLines[0].Should().Be("invalid value \"5\" for flag -timeout: parse error");
        RunEntrypoint("-wait_file_content=maybe").StderrLines[0].Should().Be("invalid boolean value \"maybe\" for -wait_file_content: parse error");
        RunEntrypoint("-post_file").StderrLines[0].Should().Be("flag needs an argument: -post_file");
        RunEntrypoint("---x").StderrLines[0].Should().Be("bad flag syntax: ---x");
        RunEntrypoint("-h").ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Every_form_the_controller_emits_is_accepted()
    {
        // --when_expressions with two dashes, -results "" (every result has a value), =true bools,
        // Go durations as Duration.String() writes them, -on_error, -result_from, -stdout_path.
        var result = RunStep(0, ["-results", "", "--when_expressions", "[{\"input\":\"a\",\"operator\":\"in\",\"values\":[\"a\"]}]",
            "-compress_termination_message=true", "-timeout", "1h2m3.5s", "-on_error", "stopAndFail", "-step_results", "", "--breakpoint_on_failure=false"],
            "/bin/sh", "-c", "echo hello");
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("hello");
        File.Exists(Run(0, "out")).Should().BeTrue();
        File.ReadAllText(Run(0, "status/exitCode")).Should().Be("0");
        TektonMessageChecker.CheckFile(Termination(0)).Should().ContainKey("StartedAt");
    }

    [BlackBoxFact]
    public void Enable_spire_is_refused_never_ignored()
    {
        var result = RunStep(0, ["-enable_spire"], "/bin/true");
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("SPIRE").And.Contain("refusing");
    }

    // ---- subcommands ----

    [BlackBoxFact]
    public void Init_copies_the_binary_with_mode_0311_and_makes_the_step_links()
    {
        string bin = Path.Combine(_root, "bin");
        Directory.CreateDirectory(bin);
        Directory.Delete(Path.Combine(_root, "steps"), recursive: true);
        var result = RunEntrypoint("init", Artifacts.Entrypoint, Path.Combine(bin, "entrypoint"), "step-clone", "step-unnamed-1");
        result.ExitCode.Should().Be(0, result.ToString());
        result.Stderr.Should().MatchRegex(@"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} Entrypoint initialization\n$");
        File.GetUnixFileMode(Path.Combine(bin, "entrypoint")).Should().Be((UnixFileMode)Convert.ToInt32("311", 8));
        File.ReadAllBytes(Path.Combine(bin, "entrypoint")).Should().Equal(File.ReadAllBytes(Artifacts.Entrypoint));
        new FileInfo(Path.Combine(_root, "steps", "step-clone")).LinkTarget.Should().Be(Path.Combine(_root, "run", "0", "status"));
        new FileInfo(Path.Combine(_root, "steps", "1")).LinkTarget.Should().Be(Path.Combine(_root, "run", "1", "status"));
        // Idempotent (a restarted init container).
        RunEntrypoint("step-init", "step-clone", "step-unnamed-1").ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Decode_script_decodes_base64_across_line_breaks_and_keeps_the_mode()
    {
        string script = Path.Combine(_root, "script-0-abcde");
        string encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes("#!/bin/sh\necho decoded\n"));
        File.WriteAllText(script, encoded[..8] + "\n" + encoded[8..] + "\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        var result = RunEntrypoint("decode-script", script);
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllText(script).Should().Be("#!/bin/sh\necho decoded\n");
        File.GetUnixFileMode(script).Should().Be((UnixFileMode)Convert.ToInt32("755", 8));

        File.WriteAllText(script, "not base64!");
        var bad = RunEntrypoint("decode-script", script);
        bad.ExitCode.Should().Be(1);
        bad.Stderr.Should().Contain("decode-script error: error decoding script file");
    }

    [BlackBoxFact]
    public void A_subcommand_with_the_wrong_arity_is_no_subcommand()
    {
        // Tekton: `cp a` matches nothing and runs as a step; with no command that fails with exit 1.
        var result = RunEntrypoint("cp", "a");
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().NotContain("cp error");
    }

    // ---- outcomes, files, exit codes ----

    [BlackBoxFact]
    public void A_failing_command_writes_out_err_and_exits_with_its_code()
    {
        var result = RunStep(0, [], "/bin/sh", "-c", "exit 3");
        result.ExitCode.Should().Be(3, result.ToString());
        File.Exists(Run(0, "out.err")).Should().BeTrue();
        File.Exists(Run(0, "out")).Should().BeFalse();
        File.Exists(Run(0, "status/exitCode")).Should().BeFalse("Tekton writes no exitCode file for a plain failure");
        TektonMessageChecker.CheckFile(Termination(0)).Keys.Should().Equal("StartedAt");
    }

    [BlackBoxFact]
    public void On_error_continue_exits_0_and_records_the_exit_code()
    {
        var result = RunStep(0, ["-on_error", "continue"], "/bin/sh", "-c", "exit 3");
        result.ExitCode.Should().Be(0, result.ToString());
        File.Exists(Run(0, "out")).Should().BeTrue();
        File.ReadAllText(Run(0, "status/exitCode")).Should().Be("3");
        var message = TektonMessageChecker.CheckFile(Termination(0));
        message["ExitCode"].Should().Be(new TektonResult("ExitCode", "3", 3));
    }

    [BlackBoxFact]
    public void A_command_killed_by_a_signal_ends_the_container_with_255()
    {
        var result = RunStep(0, [], "/bin/sh", "-c", "kill -9 $$");
        result.ExitCode.Should().Be(255, result.ToString());
        File.Exists(Run(0, "out.err")).Should().BeTrue();
    }

    [BlackBoxFact]
    public void A_missing_command_fails_with_1()
    {
        var result = RunStep(0, ["-on_error", "continue"], "/no/such/command");
        result.ExitCode.Should().Be(1, result.ToString());
        File.Exists(Run(0, "out.err")).Should().BeTrue("on_error continue does not apply to a command that cannot start");
        result.Stderr.Should().Contain("Error executing command");
    }

    [BlackBoxFact]
    public void The_timeout_kills_the_command_and_records_TimeoutExceeded()
    {
        var clock = Stopwatch.StartNew();
        var result = RunStep(0, ["-timeout", "300ms"], "/bin/sh", "-c", "sleep 20");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));
        result.ExitCode.Should().Be(1, result.ToString());
        File.Exists(Run(0, "out.err")).Should().BeTrue();
        TektonMessageChecker.CheckFile(Termination(0))["Reason"].Value.Should().Be("TimeoutExceeded");
    }

    [BlackBoxFact]
    public void Results_and_step_results_go_into_the_message_with_their_types()
    {
        var result = RunStep(0, ["-results", "commit,missing", "-step_results", "digest"], "/bin/sh", "-c",
            $"printf abc123 > {_root}/results/commit; printf 'sha256:x\\n' > {Run(0, "status/results/digest")}");
        result.ExitCode.Should().Be(0, result.ToString());
        var message = TektonMessageChecker.CheckFile(Termination(0));
        message["commit"].Should().Be(new TektonResult("commit", "abc123", 1));
        message["digest"].Should().Be(new TektonResult("digest", "sha256:x\n", 4));
        message.Should().NotContainKey("missing");
    }

    [BlackBoxFact]
    public void Results_over_4096_bytes_fail_the_step_but_keep_a_valid_message_and_the_post_file()
    {
        File.WriteAllText(Path.Combine(_root, "results", "big"), new string('x', 5000));
        var result = RunStep(0, ["-results", "big"], "/bin/true");
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("Termination message is above max allowed size 4096");
        File.Exists(Run(0, "out")).Should().BeTrue("the post file was written before the results were read");
        var message = TektonMessageChecker.CheckFile(Termination(0));
        message.Keys.Should().Equal("StartedAt");
    }

    [BlackBoxFact]
    public void A_result_planted_as_a_symlink_is_not_followed()
    {
        File.WriteAllText(Path.Combine(_root, "secret"), "do not leak");
        File.CreateSymbolicLink(Path.Combine(_root, "results", "r"), Path.Combine(_root, "secret"));
        var result = RunStep(0, ["-results", "r"], "/bin/true");
        result.ExitCode.Should().Be(0, result.ToString());
        TektonMessageChecker.CheckFile(Termination(0)).Should().NotContainKey("r");
    }

    [BlackBoxFact]
    public void The_compressed_format_is_used_when_shorter_and_parses()
    {
        for (int i = 0; i < 20; i++)
            File.WriteAllText(Path.Combine(_root, "results", $"r{i}"), new string('a', 300));
        var result = RunStep(0, ["-results", string.Join(',', Enumerable.Range(0, 20).Select(i => $"r{i}")), "-compress_termination_message=true"], "/bin/true");
        result.ExitCode.Should().Be(0, result.ToString());
        byte[] raw = File.ReadAllBytes(Termination(0));
        Encoding.ASCII.GetString(raw).Should().StartWith("tknz:");
        var message = TektonMessageChecker.Check(raw);
        message.Should().HaveCount(21);
        message["r7"].Value.Should().HaveLength(300);
    }

    [BlackBoxFact]
    public void What_the_message_already_holds_is_kept()
    {
        File.WriteAllText(Termination(0), "[{\"key\":\"earlier\",\"value\":\"v\",\"type\":\"TaskRunResult\"}]");
        RunStep(0, [], "/bin/true").ExitCode.Should().Be(0);
        var message = TektonMessageChecker.CheckFile(Termination(0));
        message["earlier"].Should().Be(new TektonResult("earlier", "v", 1));
        message.Should().ContainKey("StartedAt");
    }

    [BlackBoxFact]
    public void Stdout_path_copies_the_output_and_still_passes_it_through()
    {
        string file = Path.Combine(_root, "logs", "out.txt");
        var result = RunStep(0, ["-stdout_path", file, "-stderr_path", file], "/bin/sh", "-c", "echo to-out; echo to-err >&2");
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("to-out");
        File.ReadAllText(file).Should().Contain("to-out\n").And.Contain("to-err\n");
    }

    // ---- waiting ----

    [BlackBoxFact(NotUnderQemu = Qemu.LatencyIsTheEmulators)]
    public void A_step_starts_as_soon_as_the_previous_out_appears_not_a_poll_later()
    {
        var step = StartStep(1, [], "/bin/sh", "-c", "echo started");
        // Measure the hand-off, not the start-up: wait until the step has made its status/results
        // (done just before it waits). Under qemu-user on busy cores the start alone took 2 s.
        Steps.WaitUntil(() => Directory.Exists(Run(1, "status/results")), "step 1 to reach its wait");
        Thread.Sleep(300);
        step.HasExited.Should().BeFalse("it waits for run/0/out");
        // Measured to the StartedAt the step records right after its wait ends, not to the line
        // its command prints: spawning a shell and reading its pipe on two cores shared with the
        // rest of the suite once took more than the bound on CI.
        DateTimeOffset written = DateTimeOffset.UtcNow;
        File.WriteAllText(Run(0, "out"), "");
        step.WaitForLine("started");
        step.WaitForExit().ExitCode.Should().Be(0);
        var startedAt = DateTimeOffset.Parse(TektonMessageChecker.CheckFile(Termination(1))["StartedAt"].Value, CultureInfo.InvariantCulture);
        double gap = (startedAt - written).TotalMilliseconds;
        output.WriteLine($"out written {written:O}, step 1 StartedAt {startedAt:O}: {gap:F0} ms (StartedAt has millisecond precision)");
        gap.Should().BeLessThan(500, "the hand-off is event-driven (Tekton polls once a second)");
    }

    [BlackBoxFact]
    public void The_first_step_waits_for_the_ready_file_to_have_content()
    {
        string ready = Path.Combine(_root, "downward", "ready");
        File.WriteAllText(ready, "");
        var step = StartStep(0, [], "/bin/sh", "-c", "echo started");
        Thread.Sleep(400);
        step.HasExited.Should().BeFalse("an empty ready file means the annotation is not there yet");
        // The kubelet swaps the projection in with a rename.
        File.WriteAllText(ready + ".new", "READY");
        File.Move(ready + ".new", ready, overwrite: true);
        step.WaitForLine("started", TimeSpan.FromSeconds(2));
        step.WaitForExit().ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void A_failed_previous_step_makes_this_one_skip()
    {
        File.WriteAllText(Run(0, "out.err"), "");
        var result = RunStep(1, ["-results", "commit"], "/bin/sh", "-c", "echo must-not-run");
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("Skipping step because a previous step failed");
        File.Exists(Run(1, "out.err")).Should().BeTrue();
        var message = TektonMessageChecker.CheckFile(Termination(1));
        message["Reason"].Value.Should().Be("Skipped");
        message.Keys.Should().BeEquivalentTo("StartedAt", "Reason");
    }

    [BlackBoxFact]
    public void A_previous_step_whose_entrypoint_is_SIGKILLed_is_detected_not_waited_on_forever()
    {
        string pidFile = Path.Combine(_root, "child.pid");
        File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
        var first = StartStep(0, [], "/bin/sh", "-c", $"echo $$ > {pidFile}; exec sleep 60");
        var second = StartStep(1, [], "/bin/sh", "-c", "echo must-not-run");
        WaitUntil(() => File.Exists(pidFile) && File.ReadAllText(pidFile).EndsWith('\n'));
        Thread.Sleep(200);
        second.HasExited.Should().BeFalse();
        var clock = Stopwatch.StartNew();
        first.Signal(9); // the entrypoint itself: no code of it runs, nothing is written
        var result = second.WaitForExit(TimeSpan.FromSeconds(5));
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "the lock wakes it (Tekton waits forever); the bound leaves room for two cores shared with the suite");
        Process.GetProcessById(int.Parse(File.ReadAllText(pidFile).Trim())).Kill();
        first.WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().Contain("ended without writing its outcome");
        File.Exists(Run(0, "out")).Should().BeFalse();
        File.Exists(Run(1, "out.err")).Should().BeTrue("so the steps after this one skip too, and the TaskRun ends now");
        TektonMessageChecker.CheckFile(Termination(1))["Reason"].Value.Should().Be("Skipped");
    }

    [BlackBoxFact]
    public void SIGTERM_while_waiting_ends_the_step_at_once()
    {
        var step = StartStep(1, [], "/bin/true");
        Thread.Sleep(300);
        step.Signal(15);
        var result = step.WaitForExit(TimeSpan.FromSeconds(3));
        result.ExitCode.Should().Be(143, result.ToString());
        File.Exists(Run(1, "out.err")).Should().BeTrue();
        TektonMessageChecker.CheckFile(Termination(1)).Should().ContainKey("StartedAt");
    }

    // ---- substitution and when ----

    [BlackBoxFact]
    public void Step_result_references_are_substituted_in_argv_and_env()
    {
        Directory.CreateDirectory(Run(0, "status/results"));
        File.WriteAllText(Run(0, "status/results/list"), "[\"a\",\"b c\"]");
        File.WriteAllText(Run(0, "status/results/obj"), "{\"k\":\"v\"}");
        File.WriteAllText(Run(0, "status/results/str"), "plain");
        File.WriteAllText(Run(0, "out"), "");
        var env = Env;
        env["FROM_RESULT"] = "x-$(steps.s0.results.str)-$(steps.s0.results.obj.k)";
        var result = Start(Artifacts.Entrypoint, StepArgs(1, [], "/bin/sh", "-c", "printf '%s|' \"$@\" \"$FROM_RESULT\"", "sh",
            "$(steps.s0.results.list[*])", "$(steps.s0.results.list[1])", "$(steps.s0.results.str)!"), env).WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("a|b c|b c|plain!|x-plain-v|");
    }

    [BlackBoxFact]
    public void A_link_in_place_of_a_steps_results_directory_is_not_followed_by_a_later_step()
    {
        // Step 0 (its own volume /tekton/run/0) plants results -> a directory of step 1's own file
        // system; before, step 1 read its own secret through it as "step 0's result".
        string secrets = Path.Combine(_root, "home", "secrets");
        Directory.CreateDirectory(secrets);
        File.WriteAllText(Path.Combine(secrets, "token"), "TOP-SECRET");
        Directory.CreateDirectory(Run(0, "status"));
        File.CreateSymbolicLink(Run(0, "status/results"), secrets);
        File.WriteAllText(Run(0, "out"), "");

        var result = Start(Artifacts.Entrypoint, StepArgs(1, [], "/bin/echo", "got=$(steps.s0.results.token)"), Env).WaitForExit();

        result.Stdout.Should().NotContain("TOP-SECRET", "{0}", result);
        result.Stderr.Should().Contain("refusing it");
    }

    [BlackBoxFact]
    public void A_link_in_place_of_a_steps_status_directory_is_not_followed_either()
    {
        string secrets = Path.Combine(_root, "home", "status-secrets");
        Directory.CreateDirectory(Path.Combine(secrets, "results"));
        File.WriteAllText(Path.Combine(secrets, "results", "token"), "TOP-SECRET");
        File.CreateSymbolicLink(Run(0, "status"), secrets);
        File.WriteAllText(Run(0, "out"), "");

        var result = Start(Artifacts.Entrypoint, StepArgs(1, [], "/bin/echo", "got=$(steps.s0.results.token)"), Env).WaitForExit();

        result.Stdout.Should().NotContain("TOP-SECRET", "{0}", result);
    }

    [BlackBoxFact]
    public void A_step_result_holding_a_NUL_byte_fails_the_launch_as_gos_exec_does()
    {
        Directory.CreateDirectory(Run(0, "status/results"));
        File.WriteAllBytes(Run(0, "status/results/v"), [(byte)'a', 0, (byte)'b']);
        File.WriteAllText(Run(0, "out"), "");

        var result = Start(Artifacts.Entrypoint, StepArgs(1, [], "/bin/echo", "--flag=$(steps.s0.results.v)-suffix"), Env).WaitForExit();

        result.ExitCode.Should().Be(1, "{0}", result);
        result.Stdout.Should().BeEmpty("a cut argument (--flag=a) must never reach the command\n{0}", result);
        result.Stderr.Should().Contain("NUL byte");
    }

    [BlackBoxFact]
    public void A_false_when_expression_skips_with_success()
    {
        Directory.CreateDirectory(Run(0, "status/results"));
        File.WriteAllText(Run(0, "status/results/flag"), "no");
        File.WriteAllText(Run(0, "out"), "");
        var result = RunStep(1, ["--when_expressions", "[{\"input\":\"$(steps.s0.results.flag)\",\"operator\":\"in\",\"values\":[\"yes\"]}]"],
            "/bin/sh", "-c", "echo must-not-run");
        result.ExitCode.Should().Be(0, result.ToString());
        result.Stdout.Should().BeEmpty();
        File.Exists(Run(1, "out")).Should().BeTrue();
        File.ReadAllText(Run(1, "status/exitCode")).Should().Be("0");
        TektonMessageChecker.CheckFile(Termination(1))["Reason"].Value.Should().Be("Skipped");
    }

    [BlackBoxFact]
    public void A_true_CEL_when_expression_runs_the_step()
    {
        // Before: every CEL expression was refused (exit 1, out.err).
        var result = RunStep(0, ["--when_expressions", "[{\"cel\":\"'a' in ['a', 'b'] && size('abc') == 3 && 'v1.2'.matches(r'^v[0-9]+\\\\.')\"}]"],
            "/bin/sh", "-c", "echo ran");
        result.ExitCode.Should().Be(0, result.ToString());
        result.Stdout.Trim().Should().Be("ran");
        File.Exists(Run(0, "out")).Should().BeTrue();
    }

    [BlackBoxFact]
    public void A_false_CEL_when_expression_on_a_step_result_skips_with_success()
    {
        // Tekton substitutes $(steps.s0.results.n) into the text first, then evaluates "2 > 5".
        Directory.CreateDirectory(Run(0, "status/results"));
        File.WriteAllText(Run(0, "status/results/n"), "2");
        File.WriteAllText(Run(0, "out"), "");
        var result = RunStep(1, ["--when_expressions", "[{\"cel\":\"$(steps.s0.results.n) > 5\"}]"], "/bin/sh", "-c", "echo must-not-run");
        result.ExitCode.Should().Be(0, result.ToString());
        result.Stdout.Should().BeEmpty();
        File.ReadAllText(Run(1, "status/exitCode")).Should().Be("0");
        TektonMessageChecker.CheckFile(Termination(1))["Reason"].Value.Should().Be("Skipped");
    }

    [BlackBoxFact]
    public void A_CEL_when_expression_that_is_not_a_bool_fails_the_step()
    {
        var notBool = RunStep(0, ["--when_expressions", "[{\"cel\":\"'foo'\"}]"], "/bin/sh", "-c", "echo must-not-run");
        notBool.ExitCode.Should().Be(1, notBool.ToString());
        notBool.Stdout.Should().BeEmpty();
        notBool.Stderr.Should().Contain("the CEL expression 'foo' is not evaluated to a boolean").And.NotContain("   at ");
        File.Exists(Run(0, "out.err")).Should().BeTrue();
    }

    [BlackBoxFact]
    public void A_CEL_when_expression_that_does_not_compile_fails_the_step()
    {
        var undeclared = RunStep(0, ["--when_expressions", "[{\"cel\":\"foo == foo\"}]"], "/bin/sh", "-c", "echo must-not-run");
        undeclared.ExitCode.Should().Be(1, undeclared.ToString());
        undeclared.Stderr.Should().Contain("undeclared reference to 'foo'").And.NotContain("   at ");
    }

    [BlackBoxFact]
    public void Invalid_when_expressions_json_exits_1_and_does_not_leave_the_next_step_waiting()
    {
        var next = StartStep(2, [], "/bin/sh", "-c", "echo must-not-run");
        var refused = RunStep(1, ["--when_expressions", "[{"], "/bin/true");
        refused.ExitCode.Should().Be(1, refused.ToString());
        File.Exists(Run(1, "out.err")).Should().BeFalse("Tekton's log.Fatal writes no post file");
        TektonMessageChecker.CheckFile(Termination(1)).Should().ContainKey("StartedAt");
        // Step 1 never reached its turn (step 0 has not finished), but it is gone: step 2 fails now.
        var result = next.WaitForExit(TimeSpan.FromSeconds(5));
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stdout.Should().BeEmpty();
        File.Exists(Run(2, "out.err")).Should().BeTrue();
    }

    // ---- credentials and breakpoints ----

    [BlackBoxFact]
    public void Basic_git_credentials_are_written_and_copied_home()
    {
        string secret = Path.Combine(_root, "creds-secrets", "gh");
        Directory.CreateDirectory(secret);
        Directory.CreateDirectory(Path.Combine(_root, "creds"));
        File.WriteAllText(Path.Combine(secret, "username"), "bot");
        File.WriteAllText(Path.Combine(secret, "password"), "s3cret");
        var result = RunStep(0, ["-basic-git=gh=https://github.com"], "/bin/true");
        result.ExitCode.Should().Be(0, result.ToString());
        File.ReadAllText(Path.Combine(_root, "creds", ".gitconfig")).Should().Be(
            "[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\tusername = bot\n");
        File.ReadAllText(Path.Combine(_root, "creds", ".git-credentials")).Should().Be("https://bot:s3cret@github.com\n");
        File.ReadAllText(Path.Combine(_root, "home", ".git-credentials")).Should().Be("https://bot:s3cret@github.com\n");
        File.GetUnixFileMode(Path.Combine(_root, "home", ".git-credentials")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var missing = RunStep(0, ["-basic-git=nosuch=https://github.com"], "/bin/true");
        missing.ExitCode.Should().Be(2, "a credential flag's secret is read while parsing");
        missing.StderrLines[0].Should().StartWith("invalid value \"nosuch=https://github.com\" for flag -basic-git: open ");
    }

    [BlackBoxFact]
    public void Docker_and_ssh_credentials_are_written_in_creds_inits_formats()
    {
        string secrets = Path.Combine(_root, "creds-secrets");
        Directory.CreateDirectory(Path.Combine(secrets, "hub"));
        Directory.CreateDirectory(Path.Combine(secrets, "key"));
        Directory.CreateDirectory(Path.Combine(_root, "creds"));
        File.WriteAllText(Path.Combine(secrets, "hub", "username"), "u");
        File.WriteAllText(Path.Combine(secrets, "hub", "password"), "p");
        File.WriteAllText(Path.Combine(secrets, "key", "ssh-privatekey"), "PRIVATE");
        File.WriteAllText(Path.Combine(secrets, "key", "known_hosts"), "github.com ssh-ed25519 AAAA");
        var result = RunStep(0, ["-basic-docker=hub=https://index.docker.io/v1/", "-ssh-git=key=github.com"], "/bin/true");
        result.ExitCode.Should().Be(0, result.ToString());
        string creds = Path.Combine(_root, "creds");
        File.ReadAllText(Path.Combine(creds, ".docker", "config.json")).Should().Be(
            "{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"dTpw\",\"email\":\"not@val.id\"}}}");
        File.ReadAllText(Path.Combine(creds, ".ssh", "config")).Should().Be(
            $"Host github.com\n    HostName github.com\n    Port 22\n    IdentityFile {creds}/.ssh/id_key\n");
        File.ReadAllText(Path.Combine(creds, ".ssh", "id_key")).Should().Be("PRIVATE");
        File.ReadAllText(Path.Combine(creds, ".ssh", "known_hosts")).Should().Be("github.com ssh-ed25519 AAAA");
        File.ReadAllText(Path.Combine(_root, "home", ".ssh", "id_key")).Should().Be("PRIVATE");
    }

    [BlackBoxFact]
    public void Debug_before_step_waits_for_the_continue_file()
    {
        File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
        var step = StartStep(0, ["-debug_before_step"], "/bin/sh", "-c", "echo ran");
        step.WaitForStderr("debug-beforestep-continue");
        step.HasExited.Should().BeFalse();
        File.WriteAllText(Run(0, "out.beforestepexit"), "0\n");
        step.WaitForLine("ran");
        step.WaitForExit().ExitCode.Should().Be(0);
    }

    [BlackBoxFact]
    public void Breakpoint_on_failure_waits_and_exits_with_the_chosen_code()
    {
        File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
        var step = StartStep(0, ["-breakpoint_on_failure"], "/bin/sh", "-c", "exit 4");
        step.WaitForStderr("debug-fail-continue");
        File.Exists(Run(0, "out.err")).Should().BeFalse("on failure nothing is written: the user decides");
        File.WriteAllText(Run(0, "out.err"), "");
        File.WriteAllText(Run(0, "out.breakpointexit"), "1\n");
        step.WaitForExit().ExitCode.Should().Be(1);
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
            Thread.Sleep(20);
        }
    }
}

/// <summary>
/// The TaskRun pod of examples/tekton (rendered as Tekton's controller renders it) in real
/// containers, with Emissary's image in the entrypoint slot (scripts/e2e-tekton.sh); each step's
/// termination message is then checked with the controller's parsing rules.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TektonPodmanTests : BlackBoxTest
{
    [BlackBoxFact(Needs = Needs.Podman)]
    public void A_TaskRun_pod_runs_in_order_with_results_continue_failure_and_skip()
    {
        Requirements.Podman();
        string outDir = TempDir("tekton-e2e");
        var script = Start("/bin/bash", [Path.Combine(Artifacts.RepoRoot, "scripts", "e2e-tekton.sh")], new Dictionary<string, string> { ["TEKTON_E2E_OUT"] = outDir })
            .WaitForExit(TimeSpan.FromMinutes(10)); // the demo pod and Tekton's 17 example TaskRuns, one pod after another (~2.5 min here)
        script.ExitCode.Should().Be(0, script.ToString());

        int Exit(string step) => int.Parse(File.ReadAllText(Path.Combine(outDir, step + ".exit")).Trim());
        IReadOnlyDictionary<string, TektonResult> Message(string step) => TektonMessageChecker.CheckFile(Path.Combine(outDir, step + ".termination"));

        Exit("clone").Should().Be(0);
        Message("clone")["commit"].Should().Be(new TektonResult("commit", "abc123", 1));
        Message("build")["digest"].Should().Be(new TektonResult("digest", "sha256:5e1f", 4));
        Exit("test").Should().Be(0, "onError: continue");
        Message("test")["ExitCode"].Value.Should().Be("3");
        Exit("fail").Should().Be(2);
        Message("fail").Should().NotContainKey("Reason");
        Exit("report").Should().Be(1);
        Message("report")["Reason"].Value.Should().Be("Skipped");
        foreach (string step in new[] { "clone", "build", "test", "fail", "report" })
            Message(step).Should().ContainKey("StartedAt", $"step-{step} lived, so it says when it started");
    }
}
