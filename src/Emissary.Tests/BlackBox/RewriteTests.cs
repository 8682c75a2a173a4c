using System.Runtime.Versioning;
using Emissary.Tools.PodSpec;
using Xunit.Sdk;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// `emissary rewrite` (issue #6) against the published binaries: artifacts/emissary-tools directly
/// and through artifacts/emissary (which execs it): stdin and files in, stdout and -o out, exit
/// codes 0/1/125 with nothing written on failure, and a rewritten pod whose commands really run
/// under `emissary run` in the declared order.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RewriteTests : BlackBoxTest
{
    private const string Pipeline = """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: pipeline
        spec:
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: db
                image: busybox:1.36
                sidecar: true
                command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"]
              - name: first
                image: busybox:1.36
                command: ["sh", "-c", "echo first >> \"$LOG\""]
              - name: second
                image: busybox:1.36
                waitForTermination: [first]
                timeout: 30s
                command: ["sh", "-c"]
                args: ["echo second >> \"$LOG\""]
        """;

    private const string ConfigMap = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          key: value

        """;

    private static string ToolsPath
    {
        get
        {
            string path = Path.Combine(Artifacts.Directory, "emissary-tools");
            if (!File.Exists(path))
                throw new XunitException($"black-box test binary missing: {path} — build it with scripts/build.sh");
            return path;
        }
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(TempDir("rw"), name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Runs `emissary-tools ARGS < STDIN` through sh (the harness closes the child's own stdin).</summary>
    private ProcessResult RunWithStdin(string stdinFile, string program, params string[] args) =>
        Run("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", stdinFile, program, .. args]);

    private static void AssertSucceededSilently(ProcessResult result)
    {
        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("{0}", result);
    }

    [BlackBoxFact]
    public void Rewrite_reads_stdin_and_writes_the_rewritten_manifest_to_stdout()
    {
        string input = Write("job.yaml", Pipeline);

        var result = RunWithStdin(input, ToolsPath, "rewrite");

        AssertSucceededSilently(result);
        string output = result.Stdout + "\n";
        output.Should().Contain("  - name: emissary-init\n").And.Contain("- /var/run/emissary-bin/emissary\n");
        output.Should().Be(ManifestRewriter.Rewrite([(ManifestSet.StandardInput, Pipeline)], new RewriteSettings()).Output,
            "the binary does what the library does");
    }

    [BlackBoxFact]
    public void Emissary_rewrite_reaches_emissary_tools_with_the_same_arguments()
    {
        string input = Write("job.yaml", Pipeline);

        var viaEmissary = RunEmissary("rewrite", input, "--native-sidecars");
        var direct = Run(ToolsPath, "rewrite", input, "--native-sidecars");

        AssertSucceededSilently(viaEmissary);
        viaEmissary.Stdout.Should().Be(direct.Stdout);
        viaEmissary.Stdout.Should().Contain("restartPolicy: Always");
    }

    [BlackBoxFact]
    public void Emissary_rewrite_help_is_the_help_of_emissary_tools()
    {
        var result = RunEmissary("rewrite", "--help");

        AssertSucceededSilently(result);
        result.Stdout.Should().StartWith("Usage: emissary rewrite [FILE...] [-o FILE]").And.Contain("-o, --output FILE");
    }

    [BlackBoxFact]
    public void Observes_becomes_observe_flags_and_read_only_mounts_and_emissary_run_accepts_the_command_it_wrote()
    {
        string input = Write("pod.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: watch}
            spec:
              containers:
              - {name: server, image: busybox:1.36, command: [sleep, "1"]}
              - {name: untrusted, image: busybox:1.36, command: ["true"], observes: [server]}
            """);

        var result = Run(ToolsPath, "rewrite", input);

        AssertSucceededSilently(result);
        IReadOnlyList<string> command = Unit.PodSpec.PodSpecTestKit.CommandOf(result.Stdout, "untrusted");
        command.Should().ContainInOrder("--observe", "server", "--");
        result.Stdout.Should().Contain("- name: emissary-step-server\n      mountPath: /var/run/emissary/server\n      readOnly: true\n  volumes:", "the last mount of untrusted");
        // The written flags, as the pod binary reads them (only the path of the binary and the control directory differ).
        string dir = TempDir("ctl");
        var run = RunEmissary(["run", "--control-dir", dir, .. command.Skip(2)]);
        run.ExitCode.Should().Be(0, "{0}", run);
    }

    [BlackBoxFact]
    public void Emissary_run_refuses_an_observed_name_that_is_not_a_step_name_with_125()
    {
        var flag = RunEmissary("run", "--observe", "server,Not A Name!", "--", "true");
        var variable = Start(EmissaryPath, ["run", "--", "true"], new Dictionary<string, string> { ["EMISSARY_OBSERVE"] = new string('a', 64) }).WaitForExit();

        foreach ((ProcessResult result, string name) in new[] { (flag, "Not A Name!"), (variable, new string('a', 64)) })
        {
            result.ExitCode.Should().Be(125, "{0}", result);
            AssertOneEmissaryErrorLine(result);
            result.Stderr.Should().Contain($"--observe step '{name}' is not valid", "the name is judged, not the flag (a binary without it says 'unknown option', also 125)\n{0}", result);
        }
    }

    [BlackBoxFact]
    public void Several_files_and_documents_become_one_stream_in_order()
    {
        string first = Write("a.yaml", Pipeline + "\n---\n" + ConfigMap);
        string second = Write("b.yaml", ConfigMap.Replace("settings", "more"));

        var result = RunWithStdin(second, ToolsPath, "rewrite", first, "-");

        AssertSucceededSilently(result);
        var names = ManifestSet.Read(result.Stdout, "out").Documents.Select(d => d.Objects.Single().DisplayName);
        names.Should().Equal("job/pipeline", "configmap/settings", "configmap/more");
    }

    [BlackBoxFact]
    public void Output_goes_to_the_o_file_atomically_and_not_to_stdout()
    {
        string input = Write("job.yaml", Pipeline);
        string dir = TempDir("out");
        string output = Path.Combine(dir, "rewritten.yaml");

        var result = Run(ToolsPath, "rewrite", input, "-o", output);

        AssertSucceededSilently(result);
        result.Stdout.Should().BeEmpty();
        File.ReadAllText(output).Should().Be(Run(ToolsPath, "rewrite", input).Stdout + "\n");
        Directory.GetFileSystemEntries(dir).Should().Equal(new[] { output }, "no temp file is left behind");
        Run(ToolsPath, "rewrite", output).Stdout.Should().Be(File.ReadAllText(output).TrimEnd('\n'), "a rewritten manifest rewrites to itself");
    }

    [BlackBoxFact]
    public void Output_to_a_device_or_a_pipe_is_written_through_it_not_renamed_over_it()
    {
        string input = Write("job.yaml", Pipeline);
        string device = Path.Combine(TempDir("dev"), "null");
        // A device node of our own (as root), not /dev/null: were it replaced, nothing else suffers.
        bool madeDevice = Run("mknod", "-m", "666", device, "c", "1", "3").ExitCode == 0;

        // Like -o /dev/stdout, in a directory of our own.
        string stdout = Path.Combine(TempDir("link"), "stdout");
        File.CreateSymbolicLink(stdout, "/proc/self/fd/1");

        var toPipe = Run("/bin/sh", "-c", "\"$1\" rewrite \"$2\" -o \"$3\" | cat", "sh", ToolsPath, input, stdout);

        AssertSucceededSilently(toPipe);
        toPipe.Stdout.Should().Contain("/var/run/emissary-bin/emissary");
        new FileInfo(stdout).LinkTarget.Should().Be("/proc/self/fd/1", "the link is still the link it was");
        if (madeDevice)
        {
            AssertSucceededSilently(Run(ToolsPath, "rewrite", input, "-o", device));
            Run("stat", "-c", "%F", device).Stdout.Should().Be("character special file");
        }
    }

    [BlackBoxFact]
    public void JSON_in_gives_JSON_out()
    {
        string input = Write("pod.json", """{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x", "command": ["a"], "ports": [{"containerPort": 80}]}]}}""");

        var result = Run(ToolsPath, "rewrite", input);

        AssertSucceededSilently(result);
        result.Stdout.Should().StartWith("{\n  \"apiVersion\": \"v1\",").And.Contain("\"containerPort\": 80");
        System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement.GetProperty("spec").GetProperty("initContainers")[0]
            .GetProperty("name").GetString().Should().Be("emissary-init");
    }

    [BlackBoxFact]
    public void Invalid_manifests_exit_1_with_every_error_on_its_own_line_and_nothing_written()
    {
        string input = Write("bad.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: build}
            spec:
              containers:
              - {name: fetch, image: x, command: [a]}
              - {name: build, image: x, command: [a]}
              - {name: test, image: x, command: [a], waitForTermination: [biuld], timeout: soon}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: loop}
            spec:
              containers:
              - {name: a, image: x, command: [a], waitForTermination: [b]}
              - {name: b, image: x, command: [a], waitForTermination: [a]}
            """);
        string dir = TempDir("out");
        string output = Path.Combine(dir, "out.yaml");
        File.WriteAllText(output, "previous content\n");

        var toFile = Run(ToolsPath, "rewrite", input, "-o", output);
        var fromStdin = RunWithStdin(input, EmissaryPath, "rewrite");

        toFile.ExitCode.Should().Be(1, "{0}", toFile);
        AssertNoStackTrace(toFile);
        toFile.StderrLines.Should().Equal(
            $"{input}: pod/build: spec.containers[2].timeout: \"soon\" is not a duration (e.g. 30s, 1m30s, 500ms)",
            $"{input}: pod/build: spec.containers[2].waitForTermination[0]: unknown container \"biuld\" (did you mean \"build\"?)",
            $"{input}: pod/loop: spec.containers: cycle: a -> b -> a");
        File.ReadAllText(output).Should().Be("previous content\n", "-o is only written when everything succeeded");
        Directory.GetFileSystemEntries(dir).Should().HaveCount(1);
        fromStdin.ExitCode.Should().Be(1, "{0}", fromStdin);
        fromStdin.Stdout.Should().BeEmpty("nothing is written when a manifest is invalid");
        fromStdin.StderrLines.Should().Equal(
            "pod/build: spec.containers[2].timeout: \"soon\" is not a duration (e.g. 30s, 1m30s, 500ms)",
            "pod/build: spec.containers[2].waitForTermination[0]: unknown container \"biuld\" (did you mean \"build\"?)",
            "pod/loop: spec.containers: cycle: a -> b -> a");
    }

    [BlackBoxFact]
    public void A_cycle_of_streams_exits_1_naming_the_cycle_in_the_order_the_bytes_flow()
    {
        // Issue #22: each waits for the other to start, for ever; the previous build wrote this pod out.
        string input = Write("loop.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: loop}
            spec:
              containers:
              - {name: a, image: x, command: [a], stdinFrom: b}
              - {name: b, image: x, command: [b], stdinFrom: a}
            """);

        var result = RunWithStdin(input, ToolsPath, "rewrite");

        result.ExitCode.Should().Be(1, "{0}", result);
        AssertNoStackTrace(result);
        result.Stdout.Should().BeEmpty("nothing is written when a manifest is invalid");
        result.StderrLines.Should().Equal("pod/loop: spec.containers: streams form a cycle: a -> b -> a (each one's stdout is the next one's stdin: none can start before another has)");
    }

    /// <summary>A JSON Pod: <paramref name="steps"/> steps, a final one waiting for all, <paramref name="sidecars"/> sidecars.</summary>
    private static string FanIn(int steps, int sidecars)
    {
        var containers = Enumerable.Range(0, steps).Select(i => $"{{\"name\":\"s{i}\",\"image\":\"x\",\"command\":[\"a\"]}}")
            .Append($"{{\"name\":\"last\",\"image\":\"x\",\"command\":[\"a\"],\"waitForTermination\":[{string.Join(",", Enumerable.Range(0, steps).Select(i => $"\"s{i}\""))}]}}")
            .Concat(Enumerable.Range(0, sidecars).Select(i => $"{{\"name\":\"side{i}\",\"image\":\"x\",\"command\":[\"a\"],\"sidecar\":true}}"));
        return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"big\"},\"spec\":{\"containers\":[" + string.Join(",", containers) + "]}}";
    }

    [BlackBoxFact]
    public void A_pod_over_the_container_limit_exits_1_with_one_line_naming_the_limit_and_the_count()
    {
        // 1,200 containers: the previous build mounted every step's record in every container
        // (1.44 million mounts, minutes and gigabytes) and wrote a pod no API server stores.
        string input = Write("big.json", FanIn(1198, 1));

        var result = Run(ToolsPath, "rewrite", input);

        result.ExitCode.Should().Be(1, "{0}", result);
        AssertNoStackTrace(result);
        result.Stdout.Should().BeEmpty();
        result.StderrLines.Should().Equal($"{input}: pod/big: spec.containers: 1200 containers (init containers included) is more than the limit of 1000 per pod");
    }

    [BlackBoxFact]
    public void A_pod_over_the_record_mount_limit_exits_1_with_one_line_naming_the_limit_and_the_count()
    {
        // 100 steps, one waiting for them all, 48 sidecars that each watch the 101 (none covers another):
        // 149 own records + 100 + 48 x 101 = 5,097 mounts.
        string input = Write("wide.json", FanIn(100, 48));

        var result = Run(ToolsPath, "rewrite", input);

        result.ExitCode.Should().Be(1, "{0}", result);
        AssertNoStackTrace(result);
        result.Stdout.Should().BeEmpty();
        result.StderrLines.Should().Equal($"{input}: pod/big: spec: 5097 step-record mounts (each container's own record and the records it reads: upstreams, stream partners, result sources, observed steps, a sidecar's watched steps) is more than the limit of 5000 per pod");
        AssertSucceededSilently(Run(ToolsPath, "rewrite", Write("narrower.json", FanIn(100, 47))));
    }

    [BlackBoxFact]
    public void Malformed_YAML_exits_1_naming_the_line_and_column()
    {
        string input = Write("broken.yaml", "kind: Pod\nspec:\n  containers:\n  - name: a\n   image: x\n");

        var result = RunWithStdin(input, ToolsPath, "rewrite");

        result.ExitCode.Should().Be(1, "{0}", result);
        result.Stdout.Should().BeEmpty();
        result.StderrLines.Should().ContainSingle().Which.Should().StartWith("stdin: line 5, column 4: malformed YAML");
    }

    [BlackBoxFact]
    public void YAML_nested_75000_levels_deep_exits_1_with_one_line_instead_of_crashing()
    {
        string input = Write("deep.yaml", "a: " + new string('[', 75_000) + new string(']', 75_000) + "\n");

        var result = Run(ToolsPath, "rewrite", input);

        result.ExitCode.Should().Be(1, "{0}", result);
        result.Stdout.Should().BeEmpty();
        result.StderrLines.Should().ContainSingle().Which.Should().Be($"{input}: line 1, column 103: malformed YAML: nested more than 100 levels deep");
    }

    [BlackBoxFact]
    public void An_input_larger_than_16_MiB_is_125_from_a_file_and_from_stdin()
    {
        // Comment lines: valid YAML of any size, so only the size can be what is refused.
        string input = Path.Combine(TempDir("big"), "big.yaml");
        using (var writer = new StreamWriter(input))
        {
            string line = "# " + new string('x', 1021) + "\n";
            for (int i = 0; i <= 16 * 1024; i++)
            {
                writer.Write(line);
            }
        }

        foreach (ProcessResult result in new[] { Run(ToolsPath, "rewrite", input), RunWithStdin(input, ToolsPath, "rewrite") })
        {
            result.ExitCode.Should().Be(125, "{0}", result);
            result.Stdout.Should().BeEmpty();
            AssertOneEmissaryErrorLine(result);
            result.StderrLines[0].Should().EndWith("is larger than 16 MiB: emissary reads manifests up to that size (split it)");
        }
    }

    [BlackBoxFact]
    public void An_unknown_option_is_a_usage_error_125()
    {
        var result = Run(ToolsPath, "rewrite", "--outptu", "x");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("did you mean '--output'?");
    }

    [BlackBoxFact]
    public void An_unreadable_input_is_125_and_nothing_is_written()
    {
        string output = Path.Combine(TempDir("out"), "out.yaml");

        var result = Run(ToolsPath, "rewrite", "/nonexistent/pod.yaml", "-o", output);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.StderrLines[0].Should().Be("emissary: cannot read /nonexistent/pod.yaml: no such file or directory");
        File.Exists(output).Should().BeFalse();
    }

    [BlackBoxFact]
    public void An_unwritable_output_is_125()
    {
        string input = Write("job.yaml", Pipeline);

        var result = Run(ToolsPath, "rewrite", input, "-o", "/nonexistent/dir/out.yaml");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.StderrLines[0].Should().Be("emissary: cannot write /nonexistent/dir/out.yaml: no such file or directory");
        result.Stdout.Should().BeEmpty();
    }

    [BlackBoxFact]
    public void A_bad_entrypoints_file_is_125()
    {
        string input = Write("job.yaml", Pipeline);
        string entrypoints = Write("ep.yaml", "alpine: {entrypiont: [sh]}\n");

        var result = Run(ToolsPath, "rewrite", input, "--entrypoints", entrypoints);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.StderrLines[0].Should().Be($"emissary: --entrypoints: {entrypoints}: \"alpine\": unknown key \"entrypiont\" (did you mean \"entrypoint\"?)");
    }

    [BlackBoxFact]
    public void A_container_without_command_runs_the_entrypoint_from_the_entrypoints_file()
    {
        string input = Write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: \"busybox:1.36\", args: [echo, hi]}\n");
        string entrypoints = Write("ep.json", """{"busybox": {"cmd": ["sh"]}}""");

        var without = Run(ToolsPath, "rewrite", input);
        var with = Run(ToolsPath, "rewrite", input, "--entrypoints", entrypoints);

        without.ExitCode.Should().Be(1, "{0}", without);
        without.StderrLines.Should().Equal(
            $"{input}: pod/p: spec.containers[0]: container \"a\" has no command, and the entrypoint of its image \"busybox:1.36\" is unknown: set command (and args), or list \"busybox:1.36\" in the --entrypoints file");
        AssertSucceededSilently(with);
        with.Stdout.Should().Contain("  - --\n    - echo\n    - hi\n");
    }

    /// <summary>
    /// The commands of a rewritten pod, run here as the kubelet would run its containers (all at
    /// once, the control directory shared): `emissary run` accepts every flag rewrite wrote, the
    /// second step waits for the first, and the sidecar is stopped once both are over.
    /// </summary>
    [BlackBoxFact]
    public void The_commands_of_a_rewritten_pod_run_in_order_under_emissary_run()
    {
        string input = Write("job.yaml", Pipeline);
        var rewrite = Run(ToolsPath, "rewrite", input);
        AssertSucceededSilently(rewrite);
        var spec = (YamlMappingNode)ManifestSet.Read(rewrite.Stdout, "out").Documents.Single().Objects.Single().At("spec.template.spec")!;
        var commands = ((YamlSequenceNode)spec.Get("containers")!).Children.Cast<YamlMappingNode>().ToDictionary(
            c => c.GetText("name")!,
            c => ((YamlSequenceNode)c.Get("command")!).Children.Select(n => ((YamlScalarNode)n).Value!).ToArray());
        string controlDir = Path.Combine(TempDir("ctl"), "emissary");
        string log = Path.Combine(TempDir("log"), "order.log");
        var env = new Dictionary<string, string> { ["EMISSARY_CONTROL_DIR"] = controlDir, ["LOG"] = log };

        RunningProcess StartContainer(string name)
        {
            string[] command = commands[name];
            command[0].Should().Be("/var/run/emissary-bin/emissary");
            return Start(EmissaryPath, command[1..], env);
        }

        var second = StartContainer("second");
        var db = StartContainer("db");
        Thread.Sleep(200);
        File.Exists(log).Should().BeFalse("second waits for first, which has not started");
        var first = StartContainer("first");

        var results = new[] { first.WaitForExit(), second.WaitForExit(), db.WaitForExit() };

        foreach (ProcessResult result in results)
        {
            result.ExitCode.Should().Be(0, "{0}", result);
        }
        File.ReadAllLines(log).Should().Equal("first", "second");
        File.ReadAllText(Path.Combine(controlDir, "db", "exitcode")).Should().Be("0\n", "the sidecar was stopped once the steps were over");
    }
}
