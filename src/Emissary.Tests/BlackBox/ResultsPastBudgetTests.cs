using System.Globalization;
using System.IO.Compression;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using Emissary.Tests.Unit.Results;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Issue #28 item 4, against the published binary: results past the 4096-byte budget. A message
/// that fits compressed is written as emz: (decoded here with .NET's own zlib, not emissary's
/// code); results too large for any message stay in DIR/NAME/results, where a dependant's
/// $(steps...) and `emissary status --json` read them, with one line saying what was left out;
/// a decompression bomb planted as a neighbour's message costs status no memory.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ResultsPastBudgetTests : BlackBoxTest
{
    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private static List<string> EmissaryLines(ProcessResult result) =>
        result.StderrLines.Where(l => l.StartsWith("emissary: ", StringComparison.Ordinal)).ToList();

    /// <summary>A directory with the results as files, and a command that copies them into $EMISSARY_RESULTS.</summary>
    private string[] WritingResults(IReadOnlyDictionary<string, string> results)
    {
        string staging = TempDir("staging");
        foreach ((string name, string value) in results)
        {
            File.WriteAllText(Path.Combine(staging, name), value);
        }
        return ["/bin/sh", "-c", "cp \"$0\"/* \"$EMISSARY_RESULTS\"/", staging];
    }

    /// <summary>emz: + unpadded base64 of raw DEFLATE, inflated by System.IO.Compression.</summary>
    private static JsonElement DecodeIndependently(byte[] message)
    {
        string text = Encoding.ASCII.GetString(message);
        text.Should().StartWith("emz:");
        string base64 = text["emz:".Length..];
        byte[] raw = Convert.FromBase64String(base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '='));
        using var inflate = new DeflateStream(new MemoryStream(raw), CompressionMode.Decompress);
        using var json = new MemoryStream();
        inflate.CopyTo(json);
        using var doc = JsonDocument.Parse(json.ToArray());
        return doc.RootElement.Clone();
    }

    private static Dictionary<string, string> ResultsOf(JsonElement results) =>
        results.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    private JsonElement StatusJson(string dir, string step)
    {
        var status = RunEmissary("status", "--json", "--control-dir", dir);
        status.ExitCode.Should().Be(0, "{0}", status);
        using var doc = JsonDocument.Parse(status.Stdout);
        return doc.RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == step).Clone();
    }

    private static Dictionary<string, string> DigestLikeResults(int count)
    {
        var random = new Random(28);
        return Enumerable.Range(0, count).ToDictionary(
            i => $"image-{i:D3}",
            i => $"registry.example.com/team/app-{i:D3}@sha256:" + string.Concat(Enumerable.Range(0, 60).Select(_ => "0123456789abcdef"[random.Next(16)])));
    }

    [BlackBoxFact]
    public void Results_past_the_budget_that_fit_compressed_are_written_as_emz_and_decode_to_the_same_results()
    {
        string dir = NewControlDir();
        string log = Path.Combine(TempDir("tl"), "termination-log");
        Dictionary<string, string> results = DigestLikeResults(50); // about 5.6 KB of JSON

        var result = RunEmissary(["run", "--name", "build", "--control-dir", dir, "--termination-log", log, "--", .. WritingResults(results)]);

        result.ExitCode.Should().Be(0, "the results fit once compressed: the step succeeds\n{0}", result);
        result.Stderr.Should().BeEmpty("compressing drops nothing: nothing to say\n{0}", result);
        byte[] message = File.ReadAllBytes(log);
        message.Length.Should().BeLessThanOrEqualTo(4096);
        JsonElement decoded = DecodeIndependently(message);
        decoded.GetProperty("reason").GetString().Should().Be("Completed");
        ResultsOf(decoded.GetProperty("results")).Should().Equal(results);
        File.ReadAllBytes(Path.Combine(dir, "build", "termination.json")).Should().Equal(message, "the control directory keeps the same message");
        ResultsOf(StatusJson(dir, "build").GetProperty("results")).Should().Equal(results, "status --json decodes it");
        RunEmissary("status", "--control-dir", dir).StdoutLines.Should().Contain($"result build.image-007 = {results["image-007"]}", "and the table lists them");
    }

    [BlackBoxFact]
    public void A_result_too_large_for_any_message_reaches_a_dependant_and_status_json_with_one_line_saying_so()
    {
        string dir = NewControlDir();
        string log = Path.Combine(TempDir("tl"), "termination-log");
        string big = TerminationMessageTests.Noise(100_000); // incompressible, and under the 128 KiB an argument may have

        var build = RunEmissary(["run", "--name", "build", "--control-dir", dir, "--termination-log", log, "--",
            .. WritingResults(new Dictionary<string, string> { ["big"] = big, ["small"] = "s" })]);

        build.ExitCode.Should().Be(0, "the results stay readable: the step is not failed for them\n{0}", build);
        AssertNoStackTrace(build);
        EmissaryLines(build).Should().ContainSingle("what is dropped and why, in one line\n{0}", build)
            .Which.Should().Contain("results 'big' (100000 bytes), 'small' (1 byte) left out of the termination message").And.Contain("budget is 4096")
            .And.Contain("$(steps.build.results.NAME)").And.Contain("status --json");
        byte[] message = File.ReadAllBytes(log);
        message.Length.Should().BeLessThanOrEqualTo(4096);
        using (var doc = JsonDocument.Parse(message))
        {
            doc.RootElement.GetProperty("reason").GetString().Should().Be("Completed");
            doc.RootElement.GetProperty("resultsOmitted").GetInt32().Should().Be(2, "the message says results exist that it does not carry");
            doc.RootElement.TryGetProperty("results", out _).Should().BeFalse("never a partial set");
        }

        string received = Path.Combine(TempDir("out"), "big");
        var use = RunEmissary("run", "--name", "use", "--control-dir", dir, "--after", "build", "--",
            "/bin/sh", "-c", "printf %s \"$0\" > \"$1\"", "$(steps.build.results.big)", received);

        use.ExitCode.Should().Be(0, "{0}", use);
        File.ReadAllText(received).Should().Be(big, "the dependant gets the whole value through $(steps.build.results.big)");
        ResultsOf(StatusJson(dir, "build").GetProperty("results")).Should().Equal(new Dictionary<string, string> { ["big"] = big, ["small"] = "s" });
        RunEmissary("status", "--control-dir", dir).StdoutLines.Should().Contain(l => l.StartsWith("result build.big = ", StringComparison.Ordinal) && l.EndsWith("(100000 bytes; status --json has it whole)", StringComparison.Ordinal));
    }

    [BlackBoxFact]
    public void With_results_dir_elsewhere_results_too_large_for_any_message_still_fail_the_step()
    {
        // --results-dir is not where $(steps...) looks: nothing would keep them.
        string dir = NewControlDir();
        string log = Path.Combine(TempDir("tl"), "termination-log");
        string results = TempDir("results");
        string big = TerminationMessageTests.Noise(6000);

        var build = RunEmissary("run", "--name", "build", "--control-dir", dir, "--termination-log", log, "--results-dir", results, "--",
            "/bin/sh", "-c", "printf %s \"$0\" > \"$EMISSARY_RESULTS/big\"", big);

        build.ExitCode.Should().Be(122, "{0}", build);
        EmissaryLines(build).Should().ContainSingle("{0}", build).Which.Should().Contain("compressed").And.Contain("ResultsTooLarge");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(log));
        doc.RootElement.GetProperty("reason").GetString().Should().Be("ResultsTooLarge");
    }

    [BlackBoxFact]
    public void A_decompression_bomb_in_a_neighbours_message_costs_status_no_memory()
    {
        string dir = NewControlDir();
        string log = Path.Combine(TempDir("tl"), "termination-log");
        Dictionary<string, string> results = DigestLikeResults(50);
        RunEmissary(["run", "--name", "good", "--control-dir", dir, "--termination-log", log, "--", .. WritingResults(results)]).ExitCode.Should().Be(0);
        RunEmissary("run", "--name", "bomb", "--control-dir", dir, "--", "/bin/true").ExitCode.Should().Be(0);
        // 256 MiB of zeros, deflated (~255 KB) and base64'd: what another container could leave as its termination.json.
        using (var buffer = new MemoryStream())
        {
            using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                byte[] zeros = new byte[1 << 20];
                for (int i = 0; i < 256; i++)
                {
                    deflate.Write(zeros);
                }
            }
            string bomb = "emz:" + Convert.ToBase64String(buffer.ToArray()).TrimEnd('=');
            bomb.Length.Should().BeLessThan(1 << 20, "within what status reads of a message");
            File.WriteAllText(Path.Combine(dir, "bomb", "termination.json"), bomb);
        }

        var status = Start("/usr/bin/time", "-f", "maxrss-kib=%M", EmissaryPath, "status", "--json", "--control-dir", dir).WaitForExit();

        status.ExitCode.Should().Be(0, "{0}", status);
        AssertNoStackTrace(status);
        using var doc = JsonDocument.Parse(status.Stdout);
        JsonElement[] steps = doc.RootElement.EnumerateArray().ToArray();
        steps.Single(s => s.GetProperty("name").GetString() == "bomb").TryGetProperty("results", out _).Should().BeFalse("the bomb is refused, not inflated");
        ResultsOf(steps.Single(s => s.GetProperty("name").GetString() == "good").GetProperty("results")).Should().Equal(results, "the neighbour's message is read all the same");
        string rss = status.StderrLines.Single(l => l.StartsWith("maxrss-kib=", StringComparison.Ordinal))["maxrss-kib=".Length..];
        int.Parse(rss, CultureInfo.InvariantCulture).Should().BeLessThan(64 * 1024, "inflating stops at 128 KiB; the bomb is 256 MiB");
    }
}
