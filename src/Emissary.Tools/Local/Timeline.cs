using System.Globalization;
using System.Text;
using Emissary.Control;
using Emissary.Foundation;

namespace Emissary.Tools.Local;

/// <summary>The end-of-run picture: a text Gantt chart for the terminal, and the same as SVG.</summary>
internal static class Timeline
{
    private const int BarWidth = 48;

    /// <summary>A paused stretch in the SVG: amber, apart from waiting's grey and the outcomes' colours.</summary>
    private const string PausedColor = "#e8a33d";

    /// <summary>A restart (local playing the kubelet's part) in the SVG: a thin purple tick where a run ended restarting.</summary>
    private const string RestartColor = "#8e44ad";

    public static string Text(IReadOnlyList<StepView> steps, DateTimeOffset origin, DateTimeOffset end)
    {
        double total = Math.Max((end - origin).TotalMilliseconds, 1);
        int nameWidth = Math.Max(4, steps.Max(s => s.Name.Length));
        var text = new StringBuilder();
        bool anyPaused = steps.Any(s => Pauses(s, end).Any());
        bool anyRestarted = steps.Any(s => s.Restarts.Count > 0);
        text.Append("Timeline (").Append(Duration.Format(end - origin)).Append(", ░ waiting, █ running").Append(anyPaused ? ", ▒ paused" : "").Append(anyRestarted ? ", ↻ restarted" : "").Append(")\n");
        foreach (StepView step in steps)
        {
            var bar = new char[BarWidth];
            Array.Fill(bar, ' ');
            StepStatus? s = step.Status;
            int Column(DateTimeOffset? t) => t is { } v ? (int)Math.Clamp(Math.Round((v - origin).TotalMilliseconds / total * BarWidth), 0, BarWidth) : -1;
            int waitFrom = Column(s?.WaitingSince);
            int runFrom = Column(s?.StartedAt);
            int to = Column(s?.FinishedAt ?? (step.Final ? s?.FinishedAt : end));
            if (to < 0)
            {
                to = BarWidth;
            }
            if (waitFrom >= 0)
            {
                for (int c = waitFrom; c < (runFrom >= 0 ? runFrom : to) && c < BarWidth; c++)
                {
                    bar[c] = '░';
                }
            }
            if (runFrom >= 0)
            {
                for (int c = runFrom; c < Math.Max(to, runFrom + 1) && c < BarWidth; c++)
                {
                    bar[c] = '█';
                }
            }
            foreach ((DateTimeOffset From, DateTimeOffset To) paused in Pauses(step, end))
            {
                for (int c = Column(paused.From); c < Math.Max(Column(paused.To), Column(paused.From) + 1) && c < BarWidth; c++)
                {
                    bar[c] = '▒';
                }
            }
            // Drawn last: each restart stays visible over the bars of the run after it.
            foreach (DateTimeOffset restart in step.Restarts)
            {
                bar[Math.Min(Column(restart), BarWidth - 1)] = '↻';
            }
            text.Append("  ").Append(step.Name.PadRight(nameWidth)).Append(" |").Append(bar).Append("| ").Append(Summary(step)).Append(UsageText(step)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// The step's pauses: those seen while following it (<see cref="StepView.Pauses"/>), one still
    /// open lasting to <paramref name="end"/>; if none was seen (it paused and went on between two
    /// looks), the last one its status records: to when the command started after it (a `before`
    /// pause), else to the step's end.
    /// </summary>
    internal static IEnumerable<(DateTimeOffset From, DateTimeOffset To)> Pauses(StepView step, DateTimeOffset end)
    {
        if (step.Pauses.Count > 0)
        {
            return step.Pauses.Select(p => (p.From, p.To ?? end));
        }
        if (step.Status is not { Pause: { } pause } s)
        {
            return [];
        }
        DateTimeOffset to = s.State == StepState.Paused ? end
            : s.StartedAt is { } started && started > pause.Since ? started
            : s.FinishedAt ?? end;
        return [(pause.Since, to)];
    }

    /// <summary>"exit 0 Completed 1.2s", "skipped: step 'lint' failed with exit code 2".</summary>
    public static string Summary(StepView step) => ErrorText.Printable(RawSummary(step)); // a step's record is its container's text

    private static string RawSummary(StepView step)
    {
        StepStatus? s = step.Status;
        if (s is null)
        {
            return step.ProcessExitCode is { } code ? $"exit {code} (never registered)" : "not started";
        }
        string duration = s.StartedAt is { } st && s.FinishedAt is { } ft ? " " + Duration.Format(ft - st) : "";
        return s.State switch
        {
            StepState.Skipped => $"skipped: {s.Message}",
            _ when s.ExitCode is { } code => $"exit {code} {s.Reason}{duration}",
            // Its emissary (or container) ended without recording an outcome: SIGKILL, OOM, ...
            _ when step.ProcessExitCode is { } code => $"crashed while {s.State.JsonName()} (exit {code})",
            StepState.Paused when s.Pause is { } p => $"paused {p.At.Name()}",
            _ => s.State.JsonName(),
        } + PauseText(s) + (Restarted(step) is > 0 and var n ? $", restarted {n}×" : "");
    }

    /// <summary>
    /// How many times local started the step again: its own restarts (the record counts them too)
    /// and the pod's (a <c>RestartAllContainers</c> rule), after which the record counts from 0.
    /// </summary>
    private static int Restarted(StepView step) => Math.Max(step.Restarts.Count, step.Status?.Restarts ?? 0);

    /// <summary>", paused on-failure, resumed by rerun, attempt 2": how a step that paused went on.</summary>
    private static string PauseText(StepStatus s) =>
        (s.Pause is { ResumedBy: { } by } p ? $", paused {p.At.Name()}, resumed by {by}" : "")
        + (s.Attempts > 1 ? $", attempt {s.Attempts}" : "");

    public static string Svg(IReadOnlyList<StepView> steps, DateTimeOffset origin, DateTimeOffset end)
    {
        const int rowHeight = 28, left = 160, width = 640, top = 40;
        double total = Math.Max((end - origin).TotalMilliseconds, 1);
        int height = top + rowHeight * steps.Count + 30;
        string X(DateTimeOffset t) => (left + (t - origin).TotalMilliseconds / total * width).ToString("0.0", CultureInfo.InvariantCulture);
        string W(DateTimeOffset a, DateTimeOffset b) => Math.Max(1, (b - a).TotalMilliseconds / total * width).ToString("0.0", CultureInfo.InvariantCulture);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + 420}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n");
        svg.Append("  <title>emissary local: step timeline</title>\n");
        svg.Append(CultureInfo.InvariantCulture, $"  <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"  <text x=\"10\" y=\"24\" font-weight=\"bold\">Timeline ({Escape(Duration.Format(end - origin))})</text>\n");
        for (int i = 0; i < steps.Count; i++)
        {
            StepView step = steps[i];
            StepStatus? s = step.Status;
            int y = top + i * rowHeight;
            svg.Append(CultureInfo.InvariantCulture, $"  <g class=\"step\" id=\"step-{Escape(step.Name)}\">\n");
            svg.Append(CultureInfo.InvariantCulture, $"    <text x=\"10\" y=\"{y + 18}\">{Escape(step.Name)}</text>\n");
            if (s?.WaitingSince is { } ws)
            {
                DateTimeOffset waitEnd = s.StartedAt ?? s.FinishedAt ?? end;
                svg.Append(CultureInfo.InvariantCulture, $"    <rect x=\"{X(ws)}\" y=\"{y + 6}\" width=\"{W(ws, waitEnd)}\" height=\"16\" fill=\"#d9d9d9\"><title>waiting</title></rect>\n");
            }
            if (s?.StartedAt is { } st)
            {
                DateTimeOffset ft = s.FinishedAt ?? end;
                string color = s.State switch
                {
                    StepState.Succeeded => "#3c9d5d",
                    StepState.Failed => "#d64541",
                    _ => "#4a7bd0",
                };
                svg.Append(CultureInfo.InvariantCulture, $"    <rect x=\"{X(st)}\" y=\"{y + 4}\" width=\"{W(st, ft)}\" height=\"20\" fill=\"{color}\"><title>{Escape(Summary(step))}</title></rect>\n");
            }
            foreach ((DateTimeOffset From, DateTimeOffset To) paused in Pauses(step, end))
            {
                svg.Append(CultureInfo.InvariantCulture, $"    <rect class=\"paused\" x=\"{X(paused.From)}\" y=\"{y + 4}\" width=\"{W(paused.From, paused.To)}\" height=\"20\" fill=\"{PausedColor}\"><title>paused {Escape(s?.Pause?.At.Name() ?? "")}</title></rect>\n");
            }
            foreach (DateTimeOffset restart in step.Restarts)
            {
                svg.Append(CultureInfo.InvariantCulture, $"    <rect class=\"restart\" x=\"{X(restart)}\" y=\"{y + 1}\" width=\"3\" height=\"26\" fill=\"{RestartColor}\"><title>restarted</title></rect>\n");
            }
            svg.Append(CultureInfo.InvariantCulture, $"    <text x=\"{left + width + 10}\" y=\"{y + 18}\">{Escape(Summary(step) + UsageText(step))}</text>\n");
            svg.Append("  </g>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"  <line x1=\"{left}\" y1=\"{height - 24}\" x2=\"{left + width}\" y2=\"{height - 24}\" stroke=\"#888\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"  <text x=\"{left}\" y=\"{height - 8}\">0</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"  <text x=\"{left + width}\" y=\"{height - 8}\" text-anchor=\"end\">{Escape(Duration.Format(end - origin))}</text>\n");
        if (steps.Any(s => Pauses(s, end).Any()))
        {
            svg.Append(CultureInfo.InvariantCulture, $"  <g class=\"legend\"><rect x=\"{left + width + 10}\" y=\"12\" width=\"12\" height=\"12\" fill=\"{PausedColor}\"/><text x=\"{left + width + 28}\" y=\"23\">paused</text></g>\n");
        }
        if (steps.Any(s => s.Restarts.Count > 0))
        {
            svg.Append(CultureInfo.InvariantCulture, $"  <g class=\"legend\"><rect x=\"{left + width + 110}\" y=\"12\" width=\"3\" height=\"12\" fill=\"{RestartColor}\"/><text x=\"{left + width + 118}\" y=\"23\">restarted</text></g>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>", cpu 1.2s, peak 64.1MiB": the CPU time and peak memory the step's emissary measured (none for a step that ran nothing).</summary>
    public static string UsageText(StepView step) => step.Status?.Usage is { Attempts: > 0 } u
        ? $", cpu {StepUsage.FormatMs(u.CpuMs)}, peak {StepUsage.FormatKiB(u.MaxRssKiB)}"
        : "";

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
