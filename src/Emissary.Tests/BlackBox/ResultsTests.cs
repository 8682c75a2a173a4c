using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Results and the termination message (issue #4), black-box: the command writes files into
/// $EMISSARY_RESULTS, emissary writes the termination message to --termination-log, and the test
/// parses it back with System.Text.Json.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ResultsTests : BlackBoxTest
{
    private static readonly string[] AsNobody = { "--reuid=65534", "--regid=65534", "--clear-groups" };

    private string NewControlDir() => Path.Combine(TempDir("ctl"), "emissary");

    private string NewTerminationLog() => Path.Combine(TempDir("tl"), "termination-log");

    /// <summary>
    /// A directory holding <paramref name="results"/> as files (name → exact bytes), for a command
    /// that copies them into $EMISSARY_RESULTS.
    /// </summary>
    private string Staging(IReadOnlyDictionary<string, byte[]> results)
    {
        string dir = TempDir("staging");
        foreach (var (name, value) in results)
            File.WriteAllBytes(Path.Combine(dir, name), value);
        return dir;
    }

    /// <summary>sh: copy everything in STAGING (dot files and sub-directories too) into $EMISSARY_RESULTS, then exit CODE.</summary>
    private static string[] CopyResults(string staging, int exitCode = 0) =>
        ["/bin/sh", "-c", "cp -R \"$0\"/. \"$EMISSARY_RESULTS\"/ && exit \"$1\"", staging, exitCode.ToString(CultureInfo.InvariantCulture)];

    /// <summary><c>emissary run --name NAME --control-dir DIR --termination-log LOG [flags] -- CMD</c> to its end.</summary>
    private ProcessResult RunStep(string dir, string name, string log, string[] flags, params string[] command) =>
        StartEmissary(["run", "--name", name, "--control-dir", dir, "--termination-log", log, .. flags, "--", .. command]).WaitForExit();

    /// <summary>The termination message, checked to be valid UTF-8 JSON.</summary>
    private static JsonElement ReadMessage(string log, ProcessResult result)
    {
        File.Exists(log).Should().BeTrue("the termination message is written to --termination-log\n{0}", result);
        byte[] bytes = File.ReadAllBytes(log);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new XunitException($"the termination message is not valid JSON ({e.Message}): {Encoding.UTF8.GetString(bytes)}\n{result}");
        }
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Bytes(params int[] b) => b.Select(x => (byte)x).ToArray();

    private static void AssertTime(JsonElement message, string property)
    {
        string text = message.GetProperty(property).GetString()!;
        text.Should().MatchRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", "{0} is RFC 3339 UTC with exactly three fraction digits", property);
    }

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>The lines emissary itself wrote (they start with "emissary: ").</summary>
    private static List<string> EmissaryLines(ProcessResult result) =>
        result.StderrLines.Where(l => l.StartsWith("emissary: ", StringComparison.Ordinal)).ToList();

    // ---- the emissary format ----

    [BlackBoxFact]
    public void The_commands_EMISSARY_RESULTS_and_EMISSARY_CONTROL_DIR_replace_inherited_ones_and_nothing_else()
    {
        string dir = NewControlDir();
        var env = new Dictionary<string, string>
        {
            ["EMISSARY_RESULTS"] = "/inherited/results",
            ["EMISSARY_CONTROL_DIR"] = "/inherited/control",
            ["EMISSARY_RESULTSX"] = "kept",          // a longer name that starts with a replaced one
            ["EMISSARY_RESULT"] = "kept too",        // a shorter one
        };

        ProcessResult result = Start(EmissaryPath, ["run", "--name", "envy", "--control-dir", dir, "--", "/usr/bin/env"], env).WaitForExit();

        result.ExitCode.Should().Be(0, "{0}", result);
        string[] lines = result.StdoutLines.ToArray();
        lines.Where(l => l.StartsWith("EMISSARY_RESULTS=", StringComparison.Ordinal)).Should()
            .Equal([$"EMISSARY_RESULTS={Path.Combine(dir, "envy", "results")}"], "the step's own results directory, once\n{0}", result);
        lines.Where(l => l.StartsWith("EMISSARY_CONTROL_DIR=", StringComparison.Ordinal)).Should()
            .Equal([$"EMISSARY_CONTROL_DIR={dir}"], "the control directory in use, once\n{0}", result);
        lines.Should().Contain("EMISSARY_RESULTSX=kept").And.Contain("EMISSARY_RESULT=kept too");
    }

    [BlackBoxFact]
    public void Results_the_command_writes_reach_the_termination_message_with_name_exit_code_reason_and_times()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        string staging = Staging(new Dictionary<string, byte[]>
        {
            ["digest"] = Utf8("sha256:0123abcd"),
            ["empty"] = [],
            ["with-newline"] = Utf8("v1.2.3\n"),
            ["Mixed_Case.name-1"] = Utf8("x"),
        });

        var result = RunStep(dir, "build", log, [], "/bin/sh", "-c",
            "printf '%s\\n' \"$EMISSARY_RESULTS\"; cp -R \"$0\"/. \"$EMISSARY_RESULTS\"/", staging);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("all went well\n{0}", result);
        result.StdoutLines.Should().Equal(new[] { Path.Combine(dir, "build", "results") }, "EMISSARY_RESULTS defaults to DIR/NAME/results\n{0}", result);
        var message = ReadMessage(log, result);
        message.ValueKind.Should().Be(JsonValueKind.Object);
        message.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "name", "exitCode", "reason", "startedAt", "finishedAt", "results", "usage" },
            "the emissary format's keys, in this order: {0}", message);
        message.GetProperty("name").GetString().Should().Be("build");
        message.GetProperty("exitCode").GetInt32().Should().Be(0);
        message.GetProperty("reason").GetString().Should().Be("Completed");
        AssertTime(message, "startedAt");
        AssertTime(message, "finishedAt");
        ParseTime(message.GetProperty("finishedAt").GetString()!).Should().BeOnOrAfter(ParseTime(message.GetProperty("startedAt").GetString()!));
        var results = message.GetProperty("results");
        results.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "Mixed_Case.name-1", "digest", "empty", "with-newline" }, "results are sorted by name (ordinal)");
        results.GetProperty("digest").GetString().Should().Be("sha256:0123abcd");
        results.GetProperty("empty").GetString().Should().Be("");
        results.GetProperty("with-newline").GetString().Should().Be("v1.2.3\n", "the value is the file's bytes exactly: no trimming");
        results.GetProperty("Mixed_Case.name-1").GetString().Should().Be("x");
    }

    [BlackBoxFact]
    public void A_step_without_results_has_no_results_member_and_a_failure_keeps_its_exit_code()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, [], "/bin/sh", "-c", "exit 3");

        result.ExitCode.Should().Be(3, "{0}", result);
        var message = ReadMessage(log, result);
        message.GetProperty("exitCode").GetInt32().Should().Be(3);
        message.GetProperty("reason").GetString().Should().Be("Error");
        message.TryGetProperty("results", out _).Should().BeFalse("\"results\" is omitted when there are none: {0}", message);
    }

    [BlackBoxFact]
    public void Awkward_bytes_round_trip_exactly()
    {
        var values = new Dictionary<string, byte[]>
        {
            ["quotes"] = Utf8("say \"hi\" and 'bye'"),
            ["backslash"] = Utf8(@"C:\path\to\n \u0041 \\"),
            ["newlines"] = Utf8("line1\nline2\r\nline3\n\n"),
            ["controls"] = Enumerable.Range(1, 31).Select(b => (byte)b).Append((byte)0x7f).ToArray(),
            ["nul"] = Bytes('a', 0, 'b', 0, 0),
            ["emoji"] = Utf8("ship it 🚀 — ✓ 😀 日本語 é"),
            ["json-ish"] = Utf8("{\"key\": [1, 2, \"</script>\"], \"a\": \"&<>+`\"}"),
            ["separators"] = Utf8("\u2028\u2029\u00a0\ufeff"),
            ["max-utf8"] = Utf8("\U0010FFFF\U00010000"),
        };
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, [], CopyResults(Staging(values)));

        result.ExitCode.Should().Be(0, "{0}", result);
        var results = ReadMessage(log, result).GetProperty("results");
        foreach (var (name, expected) in values)
        {
            results.TryGetProperty(name, out var value).Should().BeTrue("result '{0}' is in the message: {1}", name, results);
            value.ValueKind.Should().Be(JsonValueKind.String, "valid UTF-8 is written as a JSON string ({0})", name);
            Utf8(value.GetString()!).Should().Equal(expected, "result '{0}' round-trips byte for byte", name);
        }
    }

    [BlackBoxTheory]
    [InlineData("ff", new[] { 0xff })]
    [InlineData("fe-ff", new[] { 'a', 0xfe, 0xff, 'b' })]
    [InlineData("latin1", new[] { 'c', 'a', 'f', 0xe9 })]
    [InlineData("overlong-nul", new[] { 0xc0, 0x80 })]
    [InlineData("surrogate", new[] { 0xed, 0xa0, 0x80 })]
    [InlineData("truncated-emoji", new[] { 'x', 0xf0, 0x9f, 0x98 })]
    [InlineData("lone-continuation", new[] { 0x80, 'y' })]
    [InlineData("beyond-10ffff", new[] { 0xf4, 0x90, 0x80, 0x80 })]
    public void Invalid_utf8_comes_back_losslessly_as_a_base64_object(string name, int[] raw)
    {
        byte[] value = Bytes(raw);
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, [], CopyResults(Staging(new Dictionary<string, byte[]> { [name] = value, ["plain"] = Utf8("ok") })));

        result.ExitCode.Should().Be(0, "{0}", result);
        var results = ReadMessage(log, result).GetProperty("results");
        var encoded = results.GetProperty(name);
        encoded.ValueKind.Should().Be(JsonValueKind.Object, "invalid UTF-8 is written as {{\"base64\": ...}}, never with U+FFFD: {0}", results);
        encoded.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "base64" });
        Convert.FromBase64String(encoded.GetProperty("base64").GetString()!).Should().Equal(value, "base64 holds the exact bytes");
        results.GetProperty("plain").GetString().Should().Be("ok", "other results are unaffected");
    }

    // ---- the Tekton format ----

    [BlackBoxTheory]
    [InlineData(0, "Completed")]
    [InlineData(3, "Error")]
    public void Tekton_format_is_an_array_of_key_value_type_with_results_first_then_StartedAt_ExitCode_Reason(int exitCode, string reason)
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        var values = new Dictionary<string, byte[]>
        {
            ["digest"] = Utf8("sha256:0123abcd"),
            ["awkward"] = Utf8("a \"q\" \\ \n\t\0 🚀"),
        };
        var before = DateTimeOffset.UtcNow.AddMilliseconds(-1);

        var result = RunStep(dir, "build", log, ["--termination-format", "tekton"], CopyResults(Staging(values), exitCode));

        result.ExitCode.Should().Be(exitCode, "{0}", result);
        var message = ReadMessage(log, result);
        message.ValueKind.Should().Be(JsonValueKind.Array, "{0}", message);
        var entries = message.EnumerateArray().ToList();
        foreach (var entry in entries)
        {
            entry.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "key", "value", "type" }, "Tekton's RunResult field names, in order: {0}", entry);
            entry.GetProperty("value").ValueKind.Should().Be(JsonValueKind.String);
            entry.GetProperty("type").ValueKind.Should().Be(JsonValueKind.Number);
        }
        entries.Select(e => e.GetProperty("key").GetString()).Should().Equal(new[] { "awkward", "digest", "StartedAt", "ExitCode", "Reason" }, "{0}", message);
        entries.Select(e => e.GetProperty("type").GetInt32()).Should().Equal(new[] { 1, 1, 3, 3, 3 }, "results are type 1, internal entries type 3");
        Utf8(entries[0].GetProperty("value").GetString()!).Should().Equal(values["awkward"]);
        entries[1].GetProperty("value").GetString().Should().Be("sha256:0123abcd");
        string startedAt = entries[2].GetProperty("value").GetString()!;
        startedAt.Should().MatchRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", "Tekton parses StartedAt with 2006-01-02T15:04:05.000Z07:00");
        ParseTime(startedAt).Should().BeOnOrAfter(before).And.BeOnOrBefore(DateTimeOffset.UtcNow);
        uint.Parse(entries[3].GetProperty("value").GetString()!, NumberStyles.None, CultureInfo.InvariantCulture).Should().Be((uint)exitCode, "ExitCode is a decimal string");
        entries[4].GetProperty("value").GetString().Should().Be(reason);
    }

    // ---- the budget ----

    public static TheoryData<string, int?, int> OverBudgetCases => new()
    {
        // format, --termination-budget (null: the default 4096), size of the one result
        { "emissary", 200, 300 },
        { "emissary", null, 5000 },
        { "tekton", 200, 300 },
        { "tekton", null, 5000 },
    };

    /// <summary>
    /// Results in a --results-dir of their own, which $(steps...) does not read: when they do not fit
    /// the message even compressed (noise does not compress), nothing keeps them and the step
    /// fails. Results in the control directory are kept instead: ResultsPastBudgetTests.
    /// </summary>
    private string[] NotKept() => ["--results-dir", TempDir("results")];

    private static string Incompressible(int size) => Unit.Results.TerminationMessageTests.Noise(size);

    private (ProcessResult Result, string Log, string StagingValue) RunOverBudget(string format, int? budget, int size, int exitCode = 0)
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        string value = Incompressible(size);
        string[] flags = budget is { } b
            ? ["--termination-format", format, "--termination-budget", b.ToString(CultureInfo.InvariantCulture), .. NotKept()]
            : ["--termination-format", format, .. NotKept()];
        var result = RunStep(dir, "build", log, flags, CopyResults(Staging(new Dictionary<string, byte[]> { ["big"] = Utf8(value) }), exitCode));
        return (result, log, value);
    }

    [BlackBoxTheory]
    [MemberData(nameof(OverBudgetCases))]
    public void A_result_over_the_budget_fails_the_step_with_122_ResultsTooLarge_and_a_valid_message_within_the_budget(string format, int? budget, int size)
    {
        int limit = budget ?? 4096;

        var (result, log, _) = RunOverBudget(format, budget, size);

        result.ExitCode.Should().Be(122, "results that cannot be delivered fail the step with 122\n{0}", result);
        AssertNoStackTrace(result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("one clear line on stderr\n{0}", result);
        lines[0].Should().Contain("big", "the line names the result").And.Contain(limit.ToString(CultureInfo.InvariantCulture), "the line names the budget");
        byte[] bytes = File.ReadAllBytes(log);
        bytes.Length.Should().BeLessThanOrEqualTo(limit, "the budget is a hard limit: {0}", Encoding.UTF8.GetString(bytes));
        Encoding.UTF8.GetString(bytes).Should().NotContain("\"big\"", "a value is never truncated: it is left out");
        var message = ReadMessage(log, result);
        if (format == "tekton")
        {
            var entries = message.EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!, e => e.GetProperty("value").GetString());
            entries.Should().NotContainKey("big");
            entries.Should().Contain("Reason", "ResultsTooLarge");
            entries.Should().Contain("ExitCode", "122");
        }
        else
        {
            message.TryGetProperty("results", out _).Should().BeFalse("no partial results: {0}", message);
            message.GetProperty("reason").GetString().Should().Be("ResultsTooLarge");
            message.GetProperty("exitCode").GetInt32().Should().Be(122);
            message.GetProperty("name").GetString().Should().Be("build");
        }
    }

    [BlackBoxTheory]
    [InlineData(200, 300)]
    [InlineData(null, 5000)]
    public void The_over_budget_line_names_the_results_size_as_well_as_the_budget(int? budget, int size)
    {
        var (result, _, _) = RunOverBudget("emissary", budget, size);

        result.ExitCode.Should().Be(122, "{0}", result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("{0}", result);
        lines[0].Should().Contain(size.ToString(CultureInfo.InvariantCulture),
            "README: 'one line naming the sizes (... needs 5123 bytes, budget is 4096)': the result's size, not only the limit\n{0}", result);
    }

    [BlackBoxFact]
    public void A_failing_command_with_a_result_over_the_budget_keeps_its_own_exit_code()
    {
        var (result, log, _) = RunOverBudget("emissary", 200, 300, exitCode: 3);

        result.ExitCode.Should().Be(3, "a failure keeps its own code\n{0}", result);
        var message = ReadMessage(log, result);
        message.GetProperty("exitCode").GetInt32().Should().Be(3);
        File.ReadAllBytes(log).Length.Should().BeLessThanOrEqualTo(200);
    }

    [BlackBoxFact]
    public void Results_that_each_fit_but_not_together_are_all_left_out_with_one_line_naming_sizes()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        var values = new Dictionary<string, byte[]> { ["one"] = Utf8(Incompressible(120)), ["two"] = Utf8(Incompressible(120)) };

        var result = RunStep(dir, "build", log, ["--termination-budget", "200", .. NotKept()], CopyResults(Staging(values)));

        result.ExitCode.Should().Be(122, "{0}", result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("{0}", result);
        lines[0].Should().Contain("200", "the line names the budget").And.MatchRegex(@"\b(2[0-9]{2}|[3-9][0-9]{2})\b", "and the size needed");
        File.ReadAllBytes(log).Length.Should().BeLessThanOrEqualTo(200);
        var message = ReadMessage(log, result);
        message.TryGetProperty("results", out _).Should().BeFalse("never a partial set of results: {0}", message);
        message.GetProperty("reason").GetString().Should().Be("ResultsTooLarge");
        message.GetProperty("exitCode").GetInt32().Should().Be(122);
    }

    [BlackBoxFact]
    public void A_result_over_the_budget_next_to_one_that_fits_leaves_out_every_result()
    {
        // README, "Results that do not fit": "the message is still written, valid and within budget,
        // without any results (never a truncated value, never a partial set)".
        string dir = NewControlDir();
        string log = NewTerminationLog();
        var values = new Dictionary<string, byte[]> { ["big"] = Utf8(Incompressible(300)), ["small"] = Utf8("hi\n") };

        var result = RunStep(dir, "build", log, ["--termination-budget", "200", .. NotKept()], CopyResults(Staging(values)));

        result.ExitCode.Should().Be(122, "{0}", result);
        var message = ReadMessage(log, result);
        message.GetProperty("reason").GetString().Should().Be("ResultsTooLarge");
        message.TryGetProperty("results", out var results).Should().BeFalse(
            "with one result too large, none is delivered (a consumer must not see 'small' without 'big'): {0}", results);
    }

    [BlackBoxFact]
    public void A_restarted_step_reports_only_the_results_of_its_own_run()
    {
        // A container restart (restartPolicy OnFailure) runs the step again on the same emptyDir:
        // the README says the restarted step removes its old exitcode; results it did not write
        // this time must not be reported as its own.
        string dir = NewControlDir();
        var first = RunStep(dir, "build", NewTerminationLog(), [], "/bin/sh", "-c", "echo old > \"$EMISSARY_RESULTS/digest\"");
        first.ExitCode.Should().Be(0, "{0}", first);
        string log = NewTerminationLog();

        var second = RunStep(dir, "build", log, [], "/bin/sh", "-c", "echo fresh > \"$EMISSARY_RESULTS/other\"");

        second.ExitCode.Should().Be(0, "{0}", second);
        var results = ReadMessage(log, second).GetProperty("results");
        results.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "other" },
            "the second run wrote only 'other'; 'digest' is a stale result of the previous run: {0}", results);
    }

    // ---- names ----

    [BlackBoxTheory]
    [InlineData("sub-directory")]
    [InlineData("space in name")]
    [InlineData("leading dash")]
    [InlineData("symlink")]
    public void An_invalid_result_entry_fails_the_step_with_122_and_one_line_naming_it(string kind)
    {
        string staging = Staging(new Dictionary<string, byte[]> { ["good"] = Utf8("ok") });
        string bad;
        switch (kind)
        {
            case "sub-directory":
                bad = "sub";
                Directory.CreateDirectory(Path.Combine(staging, bad));
                File.WriteAllText(Path.Combine(staging, bad, "inner"), "x");
                break;
            case "space in name":
                bad = "has space";
                File.WriteAllText(Path.Combine(staging, bad), "x");
                break;
            case "leading dash":
                bad = "-dash";
                File.WriteAllText(Path.Combine(staging, bad), "x");
                break;
            default:
                bad = "link";
                File.CreateSymbolicLink(Path.Combine(staging, bad), "/etc/hostname");
                break;
        }
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, [], CopyResults(staging));

        result.ExitCode.Should().Be(122, "an invalid result fails the step\n{0}", result);
        AssertNoStackTrace(result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("one line\n{0}", result);
        lines[0].Should().Contain(bad, "the line names the entry");
        var message = ReadMessage(log, result);
        message.GetProperty("exitCode").GetInt32().Should().Be(122);
        message.GetProperty("reason").GetString().Should().NotBe("Completed");
        Steps_StatusExitCode(dir, "build").Should().Be(122, "status.json agrees");
    }

    [BlackBoxFact]
    public void Dot_files_in_the_results_directory_are_ignored()
    {
        string staging = Staging(new Dictionary<string, byte[]>
        {
            ["good"] = Utf8("ok"),
            [".hidden"] = Utf8("secret"),
            [".good.tmp"] = Utf8("half-written"),
            [".swp"] = Bytes(0xff, 0x00),
        });
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, [], CopyResults(staging));

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty("dot files are not errors\n{0}", result);
        var results = ReadMessage(log, result).GetProperty("results");
        results.EnumerateObject().Select(p => p.Name).Should().Equal(new[] { "good" }, "dot files are ignored: {0}", results);
    }

    // ---- --result-from-stdout ----

    [BlackBoxFact]
    public void Result_from_stdout_makes_stdout_a_result_and_still_passes_it_through()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        string text = "line 1 \"quoted\" \\ tab\t🚀\nline 2\n";

        var result = RunStep(dir, "build", log, ["--result-from-stdout", "out"], "/bin/sh", "-c", "printf '%s' \"$0\"", text);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.StdoutLines.Should().Equal(new[] { "line 1 \"quoted\" \\ tab\t🚀", "line 2" }, "stdout still reaches the console\n{0}", result);
        var results = ReadMessage(log, result).GetProperty("results");
        Utf8(results.GetProperty("out").GetString()!).Should().Equal(Utf8(text), "the result is stdout byte for byte");
    }

    [BlackBoxFact]
    public void Result_from_stdout_over_the_budget_fails_with_122_but_the_console_gets_everything()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();

        var result = RunStep(dir, "build", log, ["--result-from-stdout", "out"], "/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do echo \"line $i of a long stdout ......................\"; i=$((i+1)); done");

        result.ExitCode.Should().Be(122, "{0}", result);
        result.StdoutLines.Should().HaveCount(100, "the console gets all of stdout\n{0}", result);
        EmissaryLines(result).Should().ContainSingle("{0}", result).Which.Should().Contain("4096");
        var message = ReadMessage(log, result);
        message.GetProperty("reason").GetString().Should().Be("ResultsTooLarge");
        message.TryGetProperty("results", out _).Should().BeFalse();
        File.ReadAllBytes(log).Length.Should().BeLessThanOrEqualTo(4096);
    }

    [BlackBoxFact]
    public void Result_from_stdout_with_an_invalid_name_is_a_usage_error()
    {
        var result = RunEmissary("run", "--result-from-stdout", "../x", "--", TestChildPath, "exit", "0");

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
    }

    // ---- where the message cannot be written ----

    [BlackBoxTheory]
    [InlineData(0)]
    [InlineData(6)]
    public void A_termination_log_that_cannot_be_written_is_one_warning_and_leaves_the_exit_code_alone(int exitCode)
    {
        var result = RunEmissary("run", "--termination-log", "/proc/version", "--", "/bin/sh", "-c", $"exit {exitCode}");

        AssertUnwritableLog(result, "/proc/version", exitCode);
    }

    [BlackBoxTheory(Needs = Needs.Root)]
    [Trait("Needs", "root")]
    [Trait("Needs", "setpriv")]
    [InlineData(0)]
    [InlineData(6)]
    public void A_termination_log_in_a_read_only_directory_is_one_warning_and_leaves_the_exit_code_alone(int exitCode)
    {
        RequireRoot("setpriv to uid 65534");
        string bin = TempDir("bin");
        string emissary = CopyInto(bin, EmissaryPath);
        string readOnly = Path.Combine(TempDir("ro"), "logs");
        Directory.CreateDirectory(readOnly);
        File.SetUnixFileMode(readOnly, (UnixFileMode)0b101_101_101); // 0555
        string log = Path.Combine(readOnly, "termination-log");

        var result = Start("setpriv", AsNobody.Concat(new[] { emissary, "run", "--termination-log", log, "--", "/bin/sh", "-c", $"exit {exitCode}" }),
            workingDirectory: bin).WaitForExit();

        AssertUnwritableLog(result, log, exitCode);
        File.Exists(log).Should().BeFalse();
    }

    private static void AssertUnwritableLog(ProcessResult result, string log, int exitCode)
    {
        result.ExitCode.Should().Be(exitCode, "the step's exit code does not depend on the termination log\n{0}", result);
        AssertNoStackTrace(result);
        var lines = EmissaryLines(result);
        lines.Should().ContainSingle("one warning\n{0}", result);
        lines[0].Should().Contain("warning").And.Contain(log, "the warning names the path");
        Regex.Matches(lines[0], Regex.Escape("cannot write the termination message")).Count.Should().Be(1,
            "the warning says what failed once, not twice: {0}", lines[0]);
    }

    // ---- skipped ----

    [BlackBoxFact]
    public void A_skipped_step_writes_a_termination_message_with_reason_Skipped_and_exits_123()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        StartEmissary("run", "--name", "up", "--control-dir", dir, "--", "/bin/sh", "-c", "exit 1").WaitForExit().ExitCode.Should().Be(1);

        var result = RunStep(dir, "down", log, ["--after", "up"], "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(123, "{0}", result);
        result.StdoutLines.Should().NotContain("ran");
        var message = ReadMessage(log, result);
        message.GetProperty("name").GetString().Should().Be("down");
        message.GetProperty("exitCode").GetInt32().Should().Be(123);
        message.GetProperty("reason").GetString().Should().Be("Skipped");
        message.TryGetProperty("results", out _).Should().BeFalse();
        File.ReadAllBytes(log).Length.Should().BeLessThanOrEqualTo(4096);
    }

    [BlackBoxFact]
    public void A_skipped_step_in_tekton_format_says_Reason_Skipped_and_ExitCode_123()
    {
        string dir = NewControlDir();
        string log = NewTerminationLog();
        StartEmissary("run", "--name", "up", "--control-dir", dir, "--", "/bin/sh", "-c", "exit 1").WaitForExit().ExitCode.Should().Be(1);

        var result = RunStep(dir, "down", log, ["--after", "up", "--termination-format", "tekton"], "/bin/sh", "-c", "echo ran");

        result.ExitCode.Should().Be(123, "{0}", result);
        var entries = ReadMessage(log, result).EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!, e => e.GetProperty("value").GetString());
        entries.Should().Contain("Reason", "Skipped").And.Contain("ExitCode", "123");
    }

    private static int? Steps_StatusExitCode(string dir, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, name, "status.json")));
        return doc.RootElement.TryGetProperty("exitCode", out var code) && code.ValueKind == JsonValueKind.Number ? code.GetInt32() : null;
    }
}
