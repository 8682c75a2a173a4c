using System.Globalization;
using System.Text;
using Emissary.Cli;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Logging;

namespace Emissary.Tools.Local;

/// <summary>
/// The live view on a terminal: one line per step (mark, name, state, time in it), redrawn in
/// place at the bottom of stderr with ANSI cursor movements. A paused step shows how long it has
/// been paused, where (before, after, on-failure) and its attempt.
/// </summary>
internal sealed class LiveView(IReadOnlyList<StepView> views)
{
    private int _lines;

    public void Draw()
    {
        Erase();
        var block = new StringBuilder();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (StepView view in views)
        {
            block.Append(Line(view, now)).Append('\n');
        }
        StderrWriter.Write(2, block.ToString());
        _lines = views.Count;
    }

    /// <summary>" ▶ build                running    3.2s"; paused: " ‖ build   paused   12s  on-failure, attempt 2".</summary>
    internal static string Line(StepView view, DateTimeOffset now)
    {
        StepStatus? s = view.Status;
        string elapsed = s is { State: StepState.Paused, Pause: { } p } ? Duration.Format(now - p.Since)
            : s?.StartedAt is { } st ? Duration.Format((s.FinishedAt ?? now) - st)
            : s?.WaitingSince is { } ws ? Duration.Format((s.FinishedAt ?? now) - ws) : "";
        string mark = view.State switch
        {
            StepState.Succeeded => "\u001b[32m✔\u001b[0m",
            StepState.Failed => "\u001b[31m✘\u001b[0m",
            StepState.Skipped => "\u001b[33m–\u001b[0m",
            StepState.Running => "\u001b[34m▶\u001b[0m",
            StepState.Paused => "\u001b[35m‖\u001b[0m",
            StepState.Restarting => "\u001b[33m↻\u001b[0m",
            _ => "…",
        };
        string where = s is { State: StepState.Paused, Pause: { } pause }
            ? "  " + pause.At.Name() + (s.Attempts > 1 ? $", attempt {s.Attempts}" : "")
            : RestartText(s);
        return string.Create(CultureInfo.InvariantCulture, $" {mark} {view.Name,-20} {view.State?.JsonName() ?? "pending",-10} {elapsed}{where}");
    }

    /// <summary>
    /// "  (attempt 3)": restarting, the run that comes next (the record counts the runs before its own in
    /// <c>restarts</c>); after a restart, the run under way or that ended.
    /// </summary>
    internal static string RestartText(StepStatus? s) => s switch
    {
        { State: StepState.Restarting } => $"  (attempt {s.Restarts + 2})",
        { Restarts: > 0 } => $"  (attempt {s.Restarts + 1})",
        _ => "",
    };

    /// <summary>Removes the view (before a line is printed above it, and at the end).</summary>
    public void Erase()
    {
        if (_lines > 0)
        {
            StderrWriter.Write(2, $"\u001b[{_lines}F\u001b[J");
            _lines = 0;
        }
    }
}
