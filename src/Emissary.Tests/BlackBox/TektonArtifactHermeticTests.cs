using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// artifacts/entrypoint with step artifacts (<c>$(steps.NAME.outputs.KEY)</c>, pkg/entrypoint's
/// applyStepArtifactSubstitutions) and hermetic steps (<c>TEKTON_HERMETIC=1</c>,
/// cmd/entrypoint/namespaces_linux.go's dropNetworking), as a Tekton user runs them, and as a
/// neighbour step attacks them: each test failed on the binary before artifacts and hermetic mode
/// were implemented (references left as written; hermetic refused with exit 1).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TektonArtifactHermeticTests : BlackBoxTest
{
    private const string Provenance = """{"outputs":[{"name":"image","values":[{"digest":{"sha256":"64d0"},"uri":"docker:example.registry.com/outputs"}]}]}""";
    private const string ImageValues = """[{"digest":{"sha256":"64d0"},"uri":"docker:example.registry.com/outputs"}]""";

    private readonly string _root;

    public TektonArtifactHermeticTests()
    {
        _root = TempDir("tekton-art");
        foreach (string dir in new[] { "steps", "run/0/status/artifacts", "run/1", "downward", "home" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
        File.CreateSymbolicLink(Path.Combine(_root, "steps", "step-s0"), Path.Combine(_root, "run", "0", "status"));
        File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
        File.WriteAllText(Path.Combine(_root, "run", "0", "out"), "");
    }

    private string ArtifactsFile => Path.Combine(_root, "run", "0", "status", "artifacts", "provenance.json");

    private Dictionary<string, string> Env => new() { ["EMISSARY_TEKTON_ROOT"] = _root, ["HOME"] = Path.Combine(_root, "home") };

    /// <summary>Step 1 as the controller renders it: waits for step 0's out, then the command.</summary>
    private RunningProcess StartStep(Dictionary<string, string> env, params string[] command) => Start(Artifacts.Entrypoint,
        ["-wait_file", Path.Combine(_root, "run", "0", "out"), "-post_file", Path.Combine(_root, "run", "1", "out"),
         "-termination_path", Path.Combine(_root, "termination"), "-step_metadata_dir", Path.Combine(_root, "run", "1", "status"),
         "-entrypoint", command[0], "--", .. command[1..]], env);

    private ProcessResult EchoArtifact()
    {
        var env = Env;
        env["ART"] = "env=$(steps.s0.outputs.image)";
        return StartStep(env, "/bin/sh", "-c", "printf '%s\\n' \"$1\" \"$ART\"", "sh", "arg=$(steps.s0.outputs.image)").WaitForExit();
    }

    // ---- artifacts ----

    [BlackBoxFact]
    public void Artifact_references_in_args_and_env_become_the_previous_steps_values()
    {
        File.WriteAllText(ArtifactsFile, Provenance);
        var result = EchoArtifact();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().Equal("arg=" + ImageValues, "env=" + ImageValues);
    }

    [BlackBoxFact]
    public void Artifact_reference_in_a_placed_script_is_substituted_in_a_copy()
    {
        File.WriteAllText(ArtifactsFile, Provenance);
        string scripts = Path.Combine(_root, "scripts");
        Directory.CreateDirectory(scripts);
        string script = Path.Combine(scripts, "script-0-abc");
        File.WriteAllText(script, "#!/bin/sh\ncat <<'X'\n$(steps.s0.outputs.image)\nX\necho \"$0\"\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        var result = StartStep(Env, script).WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Should().HaveCount(2, result.ToString());
        result.StdoutLines[0].Should().Be(ImageValues);
        result.StdoutLines[1].Should().StartWith(Path.GetTempPath().TrimEnd('/') + "/script-");
        File.ReadAllText(script).Should().Contain("$(steps.s0.outputs.image)");
        File.Delete(result.StdoutLines[1]); // the copy the entrypoint wrote
    }

    [BlackBoxFact]
    public void A_planted_link_FIFO_or_huge_file_as_provenance_json_is_refused_and_the_reference_left_as_Tekton_leaves_it()
    {
        string secret = Path.Combine(_root, "home", "secret.json");
        File.WriteAllText(secret, Provenance.Replace("docker:example", "TOP-SECRET"));
        foreach (Action plant in new Action[]
        {
            () => File.CreateSymbolicLink(ArtifactsFile, secret),
            () => Run("mkfifo", ArtifactsFile).ExitCode.Should().Be(0),
            () => { using var f = File.Create(ArtifactsFile); f.SetLength(2 * 1024 * 1024); },
        })
        {
            File.Delete(ArtifactsFile);
            plant();
            var result = EchoArtifact();
            result.ExitCode.Should().Be(0, result.ToString());
            result.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "a FIFO is never opened");
            result.StdoutLines.Should().Equal("arg=$(steps.s0.outputs.image)", "env=$(steps.s0.outputs.image)");
            result.Stderr.Should().NotContain("TOP-SECRET");
            result.Stderr.Split('\n').Count(l => l.Contains("Error while substituting step artifacts")).Should().Be(1, result.ToString());
            result.Stderr.Should().Contain("refusing it");
        }
    }

    // ---- hermetic ----

    private Dictionary<string, string> Hermetic
    {
        get
        {
            var env = Env;
            env["TEKTON_HERMETIC"] = "1";
            return env;
        }
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_the_command_sees_only_lo_every_id_mapped_to_itself_and_is_pid_1()
    {
        var result = StartStep(Hermetic, "/bin/sh", "-c", "cat /proc/net/dev; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; echo pid=$$").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Where(l => l.Contains(':')).Select(l => l.Split(':')[0].Trim()).Should().Equal("lo");
        result.StdoutLines.Where(l => l.Contains("4294967295")).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            .Should().Equal("0 0 4294967295", "0 0 4294967295");
        result.StdoutLines.Should().Contain("allow").And.Contain("pid=1");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_the_exit_code_and_a_forwarded_signal_still_arrive()
    {
        var failed = StartStep(Hermetic, "/bin/sh", "-c", "exit 7").WaitForExit();
        failed.ExitCode.Should().Be(7, failed.ToString());
        File.Exists(Path.Combine(_root, "run", "1", "out.err")).Should().BeTrue();

        string started = Path.Combine(_root, "started");
        var step = StartStep(Hermetic, "/bin/sh", "-c", $"trap 'exit 42' TERM; touch {started}; while :; do sleep 0.05; done");
        Steps.WaitUntil(() => File.Exists(started), "the hermetic command to start");
        step.Signal(15);
        var result = step.WaitForExit();
        result.ExitCode.Should().Be(42, result.ToString());
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_where_every_id_cannot_be_mapped_the_step_fails_as_Tektons_fork_exec_does()
    {
        // A user namespace that maps only root: the ids 1..4294967294 Tekton maps have no mapping
        // in it, so writing the child's uid_map fails (EPERM), as Go's forkExec fails there.
        var env = Hermetic;
        var args = new List<string> { "--user", "--map-root-user", Artifacts.Entrypoint,
            "-wait_file", Path.Combine(_root, "run", "0", "out"), "-post_file", Path.Combine(_root, "run", "1", "out"),
            "-termination_path", Path.Combine(_root, "termination"), "-step_metadata_dir", Path.Combine(_root, "run", "1", "status"),
            "-entrypoint", "/bin/true", "--" };
        var result = Start("unshare", args, env).WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("Error executing command: fork/exec /bin/true: operation not permitted");
        File.Exists(Path.Combine(_root, "run", "1", "out.err")).Should().BeTrue();
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_where_the_namespaces_are_refused_the_step_fails_even_with_on_error_continue()
    {
        // Tekton: a command that could not start is no *exec.ExitError, so -on_error continue does
        // not apply; the trampoline's own exit 1 must not be recorded as the command's code.
        var args = new List<string> { "--user", "--map-root-user", Artifacts.Entrypoint,
            "-wait_file", Path.Combine(_root, "run", "0", "out"), "-post_file", Path.Combine(_root, "run", "1", "out"),
            "-termination_path", Path.Combine(_root, "termination"), "-step_metadata_dir", Path.Combine(_root, "run", "1", "status"),
            "-on_error", "continue", "-entrypoint", "/bin/true", "--" };
        var result = Start("unshare", args, Hermetic).WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("Error executing command: fork/exec /bin/true: operation not permitted");
        File.Exists(Path.Combine(_root, "run", "1", "out.err")).Should().BeTrue(result.ToString());
        File.Exists(Path.Combine(_root, "run", "1", "out")).Should().BeFalse(result.ToString());
        File.Exists(Path.Combine(_root, "run", "1", "status", "exitCode")).Should().BeFalse(result.ToString());
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_a_command_that_cannot_be_executed_fails_the_step_even_with_on_error_continue()
    {
        // Executable by its mode, not by its contents: the execve inside the new namespaces fails (ENOEXEC).
        string notAProgram = Path.Combine(_root, "not-a-program");
        Run("/bin/sh", "-c", $"printf 'not a program\\n' > {notAProgram} && chmod 755 {notAProgram}").ExitCode.Should().Be(0);
        var result = Start(Artifacts.Entrypoint,
            ["-wait_file", Path.Combine(_root, "run", "0", "out"), "-post_file", Path.Combine(_root, "run", "1", "out"),
             "-termination_path", Path.Combine(_root, "termination"), "-step_metadata_dir", Path.Combine(_root, "run", "1", "status"),
             "-on_error", "continue", "-entrypoint", notAProgram, "--"], Hermetic).WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain($"Error executing command: {notAProgram}: cannot run: not an executable format");
        File.Exists(Path.Combine(_root, "run", "1", "out.err")).Should().BeTrue(result.ToString());
        File.Exists(Path.Combine(_root, "run", "1", "out")).Should().BeFalse(result.ToString());
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Hermetic_is_off_when_TEKTON_RESOURCE_NAME_is_set_as_runner_go_decides()
    {
        var env = Hermetic;
        env["TEKTON_RESOURCE_NAME"] = "x";
        var result = StartStep(env, "/bin/sh", "-c", "cat /proc/self/uid_map").WaitForExit();
        result.ExitCode.Should().Be(0, result.ToString());
        result.StdoutLines.Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            .Should().Equal(File.ReadAllLines("/proc/self/uid_map").Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
    }
}
