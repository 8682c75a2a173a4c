using Emissary.Control;
using Emissary.Tools.Local;

namespace Emissary.Tests.Unit.Telemetry;

/// <summary>`emissary local` shows what each step cost: in the text and SVG timeline, and on its final event.</summary>
public sealed class LocalTimelineUsageTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 7, 0, 0, TimeSpan.Zero);

    private static StepView View(string name, StepUsage? usage) => new(name, isSidecar: false)
    {
        State = StepState.Succeeded,
        Status = new StepStatus
        {
            Name = name, State = StepState.Succeeded, WaitingSince = T0, StartedAt = T0, FinishedAt = T0.AddSeconds(2), ExitCode = 0, Reason = "Completed", Usage = usage,
        },
    };

    [Fact]
    public void Text_and_svg_timelines_give_cpu_and_peak_memory_per_step()
    {
        StepView measured = View("build", new StepUsage { Attempts = 1, UserCpuMs = 1200, SystemCpuMs = 150, MaxRssKiB = 65_740 });
        StepView skippedLike = View("lint", new StepUsage { Attempts = 0 });
        string text = Timeline.Text([measured, skippedLike], T0, T0.AddSeconds(2));
        text.Should().Contain("| exit 0 Completed 2s, cpu 1.35s, peak 64.2MiB\n");
        text.Split('\n').Single(l => l.Contains("lint")).Should().NotContain("cpu", "a step that ran nothing has no figures");
        string svg = Timeline.Svg([measured], T0, T0.AddSeconds(2));
        svg.Should().Contain(">exit 0 Completed 2s, cpu 1.35s, peak 64.2MiB</text>");
    }

    [Fact]
    public void The_final_event_carries_the_usage()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("emissary-ev-").FullName, "events.jsonl");
        try
        {
            using (var events = new EventsFile(path))
            {
                events.Write(new StepEvent(T0, "build", StepState.Running, null, null, null));
                events.Write(new StepEvent(T0.AddSeconds(2), "build", StepState.Succeeded, 0, "Completed", null) { Usage = new StepUsage { Attempts = 1, UserCpuMs = 5, MaxRssKiB = 900 } });
            }
            string[] lines = File.ReadAllLines(path);
            lines[0].Should().NotContain("usage");
            lines[1].Should().Contain("\"usage\":{\"waitMs\":0,\"runMs\":0,\"attempts\":1,\"userCpuMs\":5,\"systemCpuMs\":0,\"maxRssKiB\":900}");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
