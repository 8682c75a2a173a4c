using System.Runtime.Versioning;
using System.Text;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Differences from Tekton's entrypoint that issue #26 found by running cases derived from Tekton's
/// Go code (pkg/termination/write.go, cmd/entrypoint/subcommands/cp.go, Go's flag package,
/// pkg/entrypoint/entrypointer.go's Go()), each run against artifacts/entrypoint as a Tekton user
/// would. Each test failed on the binary built before its fix.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TektonConformanceTests : BlackBoxTest
{
    private readonly string _root;

    public TektonConformanceTests()
    {
        _root = TempDir("tekton-conf");
        foreach (string dir in new[] { "results", "run/0/status", "downward", "work" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
        File.WriteAllText(Path.Combine(_root, "downward", "ready"), "READY");
    }

    private string Termination => Path.Combine(_root, "termination");

    private Dictionary<string, string> Env => new() { ["EMISSARY_TEKTON_ROOT"] = _root };

    /// <summary>Step 0 as pkg/pod/entrypoint.go renders it (with <c>-step_metadata_dir</c> unless told not to), then the command.</summary>
    private ProcessResult RunStep(string[] extra, string[] command, bool stepMetadataDir = true, string? workingDirectory = null)
    {
        var args = new List<string>
        {
            "-wait_file", Path.Combine(_root, "downward", "ready"), "-wait_file_content",
            "-post_file", Path.Combine(_root, "run", "0", "out"), "-termination_path", Termination,
        };
        if (stepMetadataDir)
            args.AddRange(["-step_metadata_dir", Path.Combine(_root, "run", "0", "status")]);
        args.AddRange(extra);
        args.AddRange(["-entrypoint", command[0], "--", .. command[1..]]);
        return Start(Artifacts.Entrypoint, args, Env, workingDirectory).WaitForExit();
    }

    private void Result(string name, string value) => File.WriteAllText(Path.Combine(_root, "results", name), value);

    // ---- 1. the message as json.Marshal writes it (pkg/termination/write.go) ----

    [BlackBoxFact]
    public void Write_go_escapes_lt_gt_amp_as_json_Marshal_does()
    {
        Result("html", "a<b>&c");
        var result = RunStep(["-results", "html"], ["/bin/true"]);
        result.ExitCode.Should().Be(0, result.ToString());
        string raw = File.ReadAllText(Termination);
        raw.Should().Contain("""{"key":"html","value":"a\u003cb\u003e\u0026c","type":1}""");
        TektonMessageChecker.CheckFile(Termination)["html"].Value.Should().Be("a<b>&c");
    }

    [BlackBoxFact]
    public void Write_the_4096_byte_limit_is_measured_on_the_escaped_bytes()
    {
        // 750 bytes of <>& are 4500 once escaped: Tekton's MessageLengthError, exit 1.
        Result("html", string.Concat(Enumerable.Repeat("<>&", 250)));
        var result = RunStep(["-results", "html"], ["/bin/true"]);
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("Termination message is above max allowed size 4096");
        TektonMessageChecker.CheckFile(Termination).Keys.Should().Equal("StartedAt");
    }

    // ---- 2. -compress_termination_message reads a result whole, then compresses ----

    [BlackBoxTheory]
    [InlineData(4200)]
    [InlineData(8000)]
    [InlineData(100_000)]
    public void Compressed_a_large_compressible_result_is_read_whole_before_compressing(int size)
    {
        Result("big", new string('x', size));
        var result = RunStep(["-results", "big", "-compress_termination_message"], ["/bin/true"]);
        result.ExitCode.Should().Be(0, result.ToString());
        byte[] raw = File.ReadAllBytes(Termination);
        Encoding.ASCII.GetString(raw).Should().StartWith("tknz:");
        TektonMessageChecker.Check(raw)["big"].Value.Should().Be(new string('x', size));
    }

    [BlackBoxFact]
    public void Compressed_a_result_beyond_what_the_controller_inflates_fails_the_step()
    {
        // parse.go inflates at most 128 KiB: a longer result could never be read back, so it fails here.
        Result("huge", new string('x', 128 * 1024 + 1));
        var result = RunStep(["-results", "huge", "-compress_termination_message"], ["/bin/true"]);
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("Termination message is above max allowed size 4096");
        TektonMessageChecker.CheckFile(Termination).Keys.Should().Equal("StartedAt");
    }

    // ---- 3. cp's error is Go's os.Open error ----

    [BlackBoxFact]
    public void Cp_of_a_missing_file_prints_gos_open_error()
    {
        string missing = Path.Combine(_root, "no-such-file");
        var result = Start(Artifacts.Entrypoint, ["cp", missing, Path.Combine(_root, "copy")], Env).WaitForExit();
        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().MatchRegex(@"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} cp error: open " + System.Text.RegularExpressions.Regex.Escape(missing) + ": no such file or directory\n$");
    }

    // ---- 4. the usage names argv[0], as Go's flag package does ----

    [BlackBoxFact]
    public void Help_names_the_program_by_argv0()
    {
        string renamed = Path.Combine(_root, "ko-app-entrypoint");
        File.CreateSymbolicLink(renamed, Artifacts.Entrypoint);
        var help = Start(renamed, ["-h"], Env).WaitForExit();
        help.ExitCode.Should().Be(0, help.ToString());
        help.StderrLines[0].Should().Be($"Usage of {renamed}:");
        var bad = Start(renamed, ["-no_such_flag"], Env).WaitForExit();
        bad.ExitCode.Should().Be(2, bad.ToString());
        bad.StderrLines[1].Should().Be($"Usage of {renamed}:");
    }

    // ---- 5. Go() makes STEP_METADATA_DIR/results and /artifacts, relative when the flag is empty ----

    [BlackBoxFact]
    public void Without_step_metadata_dir_results_and_artifacts_are_made_in_the_working_directory()
    {
        string work = Path.Combine(_root, "work");
        var result = RunStep([], ["/bin/true"], stepMetadataDir: false, workingDirectory: work);
        result.ExitCode.Should().Be(0, result.ToString());
        Directory.Exists(Path.Combine(work, "results")).Should().BeTrue();
        Directory.Exists(Path.Combine(work, "artifacts")).Should().BeTrue();
    }

    [BlackBoxFact]
    public void With_step_metadata_dir_they_are_made_there_and_not_in_the_working_directory()
    {
        string work = Path.Combine(_root, "work");
        var result = RunStep([], ["/bin/true"], workingDirectory: work);
        result.ExitCode.Should().Be(0, result.ToString());
        Directory.Exists(Path.Combine(_root, "run", "0", "status", "results")).Should().BeTrue();
        Directory.Exists(Path.Combine(_root, "run", "0", "status", "artifacts")).Should().BeTrue();
        Directory.EnumerateFileSystemEntries(work).Should().BeEmpty();
    }
}
