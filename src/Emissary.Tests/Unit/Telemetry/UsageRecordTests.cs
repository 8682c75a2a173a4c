using System.Text;
using System.Text.Json;
using Emissary.Control;
using Emissary.Results;
using Emissary.Telemetry;

namespace Emissary.Tests.Unit.Telemetry;

/// <summary>Where the measured usage is shown: status.json, the termination message (within the budget), and the cgroup figures' parsing.</summary>
public sealed class UsageRecordTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, 0, TimeSpan.Zero);

    private static readonly StepUsage Usage = new()
    {
        WaitMs = 1500, RunMs = 2300, Attempts = 2, UserCpuMs = 400, SystemCpuMs = 120, MaxRssKiB = 66_000,
        CgroupMemoryPeakBytes = 70_000_000, CgroupCpuMs = 530, TraceId = "4bf92f3577b34da6a3ce929d0e0e4736", SpanId = "00f067aa0ba902b7",
        AttemptList =
        [
            new AttemptUsage { ExitCode = 3, StartedAt = T0, FinishedAt = T0.AddSeconds(1), UserCpuMs = 200, SystemCpuMs = 60, MaxRssKiB = 65_000 },
            new AttemptUsage { ExitCode = 0, StartedAt = T0.AddSeconds(2), FinishedAt = T0.AddMilliseconds(2300), UserCpuMs = 200, SystemCpuMs = 60, MaxRssKiB = 66_000 },
        ],
    };

    [Fact]
    public void Status_json_carries_the_usage_and_reads_it_back()
    {
        var status = new StepStatus { Name = "build", State = StepState.Succeeded, ExitCode = 0, Usage = Usage };
        string json = status.ToJson();
        using (JsonDocument doc = JsonDocument.Parse(json))
        {
            JsonElement u = doc.RootElement.GetProperty("usage");
            u.GetProperty("userCpuMs").GetInt64().Should().Be(400);
            u.GetProperty("attemptList").GetArrayLength().Should().Be(2);
        }
        StepStatus back = StepStatus.Parse(json)!;
        back.Usage.Should().BeEquivalentTo(Usage);
        StepStatus.Parse("""{"name":"a","state":"failed","usage":{"waitMs":"x","attemptList":[1,{"exitCode":0}]}}""")!.Usage!.WaitMs
            .Should().Be(0, "bad usage content is ignored, never thrown on");
    }

    [Fact]
    public void Status_json_as_written_to_its_file_is_the_same_document_in_UTF_8_and_a_newline()
    {
        var status = new StepStatus { Name = "bü<ild>", State = StepState.Failed, ExitCode = 2, Message = "line\n\"quoted\" ☃", Usage = Usage };

        status.ToFileContents().Should().Equal(Encoding.UTF8.GetBytes(status.ToJson() + "\n"));
    }

    [Fact]
    public void The_termination_message_ends_with_the_usage_totals_when_everything_fits()
    {
        var report = new StepReport("build", 0, StepReasons.Completed, T0, T0.AddSeconds(4)) { Usage = Usage };
        Rendering r = TerminationMessage.Render(report, [new Result("digest", "sha256:1"u8.ToArray())], TerminationFormat.Emissary, 4096);
        using JsonDocument doc = JsonDocument.Parse(r.Bytes);
        doc.RootElement.EnumerateObject().Select(p => p.Name).Should().Equal("name", "exitCode", "reason", "startedAt", "finishedAt", "results", "usage");
        JsonElement u = doc.RootElement.GetProperty("usage");
        u.EnumerateObject().Select(p => p.Name).Should().Equal("waitMs", "runMs", "attempts", "userCpuMs", "systemCpuMs", "maxRssKiB", "cgroupMemoryPeakBytes", "cgroupCpuMs", "traceId");
        r.Problem.Should().BeNull();
    }

    [Fact]
    public void The_usage_is_dropped_before_any_result_or_field_is()
    {
        var report = new StepReport("build", 0, StepReasons.Completed, T0, T0.AddSeconds(4)) { Usage = Usage };
        var results = new[] { new Result("digest", Encoding.UTF8.GetBytes(new string('x', 100))) };
        int bare = TerminationMessage.Render(report with { Usage = null }, results, TerminationFormat.Emissary, 4096).Bytes.Length;
        foreach (int budget in new[] { bare, bare + 50, bare + 150 })
        {
            Rendering r = TerminationMessage.Render(report, results, TerminationFormat.Emissary, budget);
            r.Bytes.Length.Should().BeLessThanOrEqualTo(budget);
            r.TooLarge.Should().BeFalse("the result fits once the usage is left out (budget {0})", budget);
            Encoding.UTF8.GetString(r.Bytes).Should().Contain("\"digest\"").And.Contain("\"finishedAt\"");
        }
        Encoding.UTF8.GetString(TerminationMessage.Render(report, results, TerminationFormat.Emissary, bare + 150).Bytes).Should().NotContain("usage");
        Encoding.UTF8.GetString(TerminationMessage.Render(report, results, TerminationFormat.Emissary, bare + 250).Bytes).Should().Contain("\"usage\"");
        Encoding.UTF8.GetString(TerminationMessage.Render(report, results, TerminationFormat.Tekton, 4096).Bytes).Should().NotContain("usage", "Tekton's format has no place for it");
    }

    [Fact]
    public void A_message_compressed_anyway_carries_the_usage_when_it_still_fits_with_it()
    {
        var report = new StepReport("build", 0, StepReasons.Completed, T0, T0.AddSeconds(4)) { Usage = Usage };
        // 60 results alike in shape: ~7 KB of JSON, ~2 KB compressed.
        Result[] results = Enumerable.Range(0, 60)
            .Select(i => new Result($"image-{i:D3}", Encoding.UTF8.GetBytes($"registry.example.com/team/app-{i:D3}@sha256:{i * 7919 % 100000:D5}0123456789abcdef0123456789")))
            .ToArray();

        Rendering r = TerminationMessage.Render(report, results, TerminationFormat.Emissary, 4096);

        r.Bytes.Length.Should().BeLessThanOrEqualTo(4096);
        Encoding.UTF8.GetString(r.Bytes).Should().StartWith(TerminationMessage.CompressedPrefix);
        using JsonDocument doc = JsonDocument.Parse(TerminationMessage.Decode(r.Bytes)!);
        doc.RootElement.GetProperty("results").EnumerateObject().Should().HaveCount(60);
        doc.RootElement.GetProperty("usage").GetProperty("runMs").GetInt64().Should().BeGreaterThan(0);

        // With a budget that the compressed message fits only without it, it is left out, nothing else.
        int withoutUsage = TerminationMessage.Render(report with { Usage = null }, results, TerminationFormat.Emissary, 4096).Bytes.Length;
        Rendering tight = TerminationMessage.Render(report, results, TerminationFormat.Emissary, withoutUsage);
        using JsonDocument tightDoc = JsonDocument.Parse(TerminationMessage.Decode(tight.Bytes)!);
        tightDoc.RootElement.TryGetProperty("usage", out _).Should().BeFalse();
        tightDoc.RootElement.GetProperty("results").EnumerateObject().Should().HaveCount(60);
    }

    [Fact]
    public void Cgroup_figures_are_read_only_in_the_root_of_a_cgroup_namespace()
    {
        CgroupUsage.OwnsNamespaceRoot("0::/\n").Should().BeTrue();
        CgroupUsage.OwnsNamespaceRoot("0::/user.slice/user-0.slice/session-1.scope\n").Should().BeFalse("a shared cgroup is not the step's");
        CgroupUsage.OwnsNamespaceRoot("12:memory:/\n0::/\n").Should().BeFalse("cgroup v1 (hybrid) is not read");
        CgroupUsage.Field("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n", "usage_usec").Should().Be(123456);
        CgroupUsage.Field("usage_usec x\n", "usage_usec").Should().BeNull();

        string dir = Directory.CreateTempSubdirectory("emissary-cg-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "cgroup"), "0::/\n");
            File.WriteAllText(Path.Combine(dir, "memory.peak"), "7340032\n");
            File.WriteAllText(Path.Combine(dir, "cpu.stat"), "usage_usec 42000\nuser_usec 40000\n");
            CgroupUsage.IsContainerRoot(Path.Combine(dir, "cgroup")).Should().BeTrue();
            CgroupUsage.ReadFigures(dir).Should().BeEquivalentTo(new CgroupUsage(7340032, 42000));
            File.Delete(Path.Combine(dir, "memory.peak"));
            File.CreateSymbolicLink(Path.Combine(dir, "memory.peak"), Path.Combine(dir, "cpu.stat"));
            CgroupUsage.ReadFigures(dir).Should().BeEquivalentTo(new CgroupUsage(null, 42000), "a link is never followed");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(740, "740ms")]
    [InlineData(2345, "2.35s")]
    [InlineData(192_000, "3m12s")]
    public void Cpu_times_are_short_in_tables(long ms, string text) => StepUsage.FormatMs(ms).Should().Be(text);

    [Theory]
    [InlineData(812, "812KiB")]
    [InlineData(65_740, "64.2MiB")]
    [InlineData(1_572_864, "1.5GiB")]
    public void Memory_is_short_in_tables(long kib, string text) => StepUsage.FormatKiB(kib).Should().Be(text);
}
