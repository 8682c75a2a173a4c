using System.Globalization;
using System.Text;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Json;

namespace Emissary.Tools.Kubectl;

/// <summary>One step of a live pod as <c>kubectl emissary status</c> shows it.</summary>
internal sealed record StepRow
{
    public required PodStep Step { get; init; }

    /// <summary>What the step's record says (<c>waiting</c>, <c>running</c>, <c>succeeded</c>, ..., or a state of a newer emissary, shown as it is), else the container's.</summary>
    public required string State { get; init; }

    public int? ExitCode { get; init; }

    public string? Reason { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public int Attempts { get; init; }

    /// <summary>Waiting or running, but its emissary is gone (<c>emissary status</c>'s <c>crashed</c>).</summary>
    public bool Crashed { get; init; }

    /// <summary>Why it failed, what it waits for, or why its record could not be read.</summary>
    public string? Detail { get; init; }
}

/// <summary>
/// The step graph of a live pod: each step's row from its own container's record (the output of
/// <c>emissary status --json</c> run there), or, for a container that is not running, from what
/// the kubelet reports (its state, and the termination message emissary wrote); then rendered
/// in the graph's order with the steps each one comes after. Every text that comes from a
/// container is shown escaped: a step's container may be hostile and must not drive the reader's
/// terminal or forge rows (as in <c>emissary status</c>).
/// </summary>
internal static class StatusGraph
{
    /// <summary>The state of a step whose container has not started (or the kubelet has not reported).</summary>
    public const string Pending = "pending";

    /// <summary>
    /// The row of <paramref name="step"/> from <paramref name="statusJson"/>, the output of
    /// <c>emissary status --json</c> in its container: the entry named after the step (the
    /// directory's name, which the container's own record cannot change). Null, with
    /// <paramref name="problem"/> saying why, when the output is not that.
    /// </summary>
    public static StepRow? FromStatusOutput(PodStep step, string statusJson, out string? problem)
    {
        JsonValue list;
        try
        {
            list = JsonValue.Parse(statusJson);
        }
        catch (FormatException e)
        {
            problem = "emissary status --json printed no JSON (" + e.Message + ")";
            return null;
        }
        if (list.Kind != JsonKind.Array)
        {
            problem = "emissary status --json printed no list";
            return null;
        }
        foreach (JsonValue entry in list.Items)
        {
            if (PodSteps.Text(entry, "name") == step.Step && PodSteps.Text(entry, "state") is { } state)
            {
                problem = null;
                JsonValue? usage = PodSteps.Member(entry, "usage");
                IEnumerable<string> waitingFor = PodSteps.Items(entry, "waitingFor").Select(g => g.Kind == JsonKind.String ? g.GetString() ?? "" : "");
                string? waitDetail = waitingFor.Any() ? "waiting for " + string.Join(", ", waitingFor) : null;
                return new StepRow
                {
                    Step = step,
                    State = state,
                    ExitCode = Int(entry, "exitCode"),
                    Reason = PodSteps.Text(entry, "reason"),
                    StartedAt = PodSteps.Time(entry, "startedAt"),
                    FinishedAt = PodSteps.Time(entry, "finishedAt"),
                    Attempts = Int(usage, "attempts") ?? 0,
                    Crashed = PodSteps.Member(entry, "crashed")?.Kind == JsonKind.True,
                    Detail = PodSteps.Text(entry, "message") ?? waitDetail,
                };
            }
        }
        problem = $"its control directory has no record of step '{step.Step}'";
        return null;
    }

    /// <summary>
    /// The row of <paramref name="step"/> from what the kubelet reports: pending until the
    /// container runs; once it has ended, the outcome its termination message records (emissary's
    /// JSON object; the container's exit code and times when there is none).
    /// </summary>
    public static StepRow FromContainer(PodStep step, string? problem = null)
    {
        ContainerReport report = step.Report;
        switch (report.Phase)
        {
            case ContainerPhase.Terminated:
                JsonValue? message = TerminationMessage(report.Message);
                int? code = Int(message, "exitCode") ?? report.ExitCode;
                string? reason = PodSteps.Text(message, "reason") ?? report.Reason;
                string state = reason == "Skipped" || code == ExitCodes.Skipped ? "skipped" : code == 0 ? "succeeded" : "failed";
                return new StepRow
                {
                    Step = step,
                    State = state,
                    ExitCode = code,
                    Reason = reason,
                    StartedAt = PodSteps.Time(message, "startedAt") ?? report.StartedAt,
                    FinishedAt = PodSteps.Time(message, "finishedAt") ?? report.FinishedAt,
                    Attempts = Int(PodSteps.Member(message, "usage"), "attempts") ?? 0,
                    Detail = problem ?? (code != 0 && report.ExitCode == 0 ? "on-error continue" : null),
                };
            case ContainerPhase.Running:
                return new StepRow { Step = step, State = "running", StartedAt = report.StartedAt, Detail = problem };
            default:
                return new StepRow { Step = step, State = Pending, Detail = problem ?? report.Reason };
        }
    }

    /// <summary>The table: a heading line, then one row per step in the graph's order.</summary>
    public static string Render(PodSteps pod, IReadOnlyList<StepRow> rows, DateTimeOffset now)
    {
        var text = new StringBuilder();
        string where = pod.Namespace is { } ns ? ns + "/" + pod.Name : pod.Name;
        text.Append(Cell($"pod {where}: {pod.Phase ?? "unknown phase"}, {rows.Count} step{(rows.Count == 1 ? "" : "s")}")).Append('\n');
        bool containers = rows.Any(r => r.Step.Container != r.Step.Step);
        DateTimeOffset? origin = rows.Select(r => r.StartedAt).Where(t => t is not null).Min();
        var table = new List<string[]> { Columns(containers, "STEP", "CONTAINER", "STATE", "EXIT", "START", "DURATION", "AFTER", "DETAIL") };
        foreach (StepRow row in InGraphOrder(rows))
        {
            string state = row.Crashed ? row.State + " (crashed)" : row.State;
            string exit = row.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-";
            string start = row.StartedAt is { } s && origin is { } o ? "+" + StepUsage.FormatMs((long)(s - o).TotalMilliseconds) : "-";
            string duration = row.StartedAt is { } st ? StepUsage.FormatMs(Math.Max(0, (long)((row.FinishedAt ?? now) - st).TotalMilliseconds)) : "-";
            string after = row.Step.SidecarOf.Count > 0 ? "sidecar of " + string.Join(",", row.Step.SidecarOf)
                : row.Step.Upstreams.Count > 0 ? string.Join(",", row.Step.Upstreams) : "-";
            string detail = string.Join("; ", new[] { row.Reason is { } r && row.State is not ("succeeded" or "running" or "waiting") ? r : null, row.Attempts > 1 ? $"attempt {row.Attempts}" : null, row.Detail }
                .Where(d => !string.IsNullOrEmpty(d)));
            table.Add(Columns(containers, Cell(row.Step.Step), Cell(row.Step.Container), Cell(state), exit, start, duration, Cell(after), Cell(detail)));
        }
        int[] widths = new int[table[0].Length];
        foreach (string[] cells in table)
        {
            for (int c = 0; c < cells.Length; c++)
            {
                widths[c] = Math.Max(widths[c], cells[c].Length);
            }
        }
        foreach (string[] cells in table)
        {
            var line = new StringBuilder();
            for (int c = 0; c < cells.Length; c++)
            {
                line.Append(c == cells.Length - 1 ? cells[c] : cells[c].PadRight(widths[c] + 2));
            }
            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The rows as a JSON array, in the graph's order (<c>-o json</c>).</summary>
    public static string RenderJson(IReadOnlyList<StepRow> rows) => JsonText.Write(json =>
    {
        json.WriteStartArray();
        foreach (StepRow row in InGraphOrder(rows))
        {
            json.WriteStartObject();
            json.WriteString("step", row.Step.Step);
            json.WriteString("container", row.Step.Container);
            json.WriteString("state", row.State);
            if (row.Crashed) json.WriteBoolean("crashed", true);
            if (row.ExitCode is { } code) json.WriteNumber("exitCode", code);
            if (row.Reason is not null) json.WriteString("reason", row.Reason);
            if (row.StartedAt is { } started) json.WriteString("startedAt", Rfc3339.Format(started));
            if (row.FinishedAt is { } finished) json.WriteString("finishedAt", Rfc3339.Format(finished));
            if (row.Attempts > 0) json.WriteNumber("attempts", row.Attempts);
            Strings(json, "after", row.Step.Upstreams);
            Strings(json, "sidecarOf", row.Step.SidecarOf);
            if (row.Detail is not null) json.WriteString("detail", row.Detail);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }, indented: true) + "\n";

    /// <summary>
    /// Upstreams before the steps after them (Kahn's order); among steps that are ready together,
    /// the pod's order. An edge to a step the pod does not have is ignored; a cycle (which
    /// <c>rewrite</c> refuses, but a pod written by hand may have) ends in the pod's order.
    /// </summary>
    public static IReadOnlyList<StepRow> InGraphOrder(IReadOnlyList<StepRow> rows)
    {
        var names = new HashSet<string>(rows.Select(r => r.Step.Step), StringComparer.Ordinal);
        var placed = new HashSet<string>(StringComparer.Ordinal);
        var ordered = new List<StepRow>(rows.Count);
        while (ordered.Count < rows.Count)
        {
            StepRow? next = rows.FirstOrDefault(r => !placed.Contains(r.Step.Step) && r.Step.Upstreams.All(u => placed.Contains(u) || !names.Contains(u)))
                ?? rows.First(r => !placed.Contains(r.Step.Step));
            placed.Add(next.Step.Step);
            ordered.Add(next);
        }
        return ordered;
    }

    private static string[] Columns(bool withContainer, params string[] cells) => withContainer ? cells : [cells[0], .. cells[2..]];

    private static void Strings(JsonWriter json, string name, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }
        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }
        json.WriteEndArray();
    }

    private static JsonValue? TerminationMessage(string? message)
    {
        if (message is null)
        {
            return null;
        }
        try
        {
            JsonValue value = JsonValue.Parse(message);
            return value.Kind == JsonKind.Object ? value : null; // Tekton's array format carries no more than the container's status
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static int? Int(JsonValue? value, string name) => PodSteps.Member(value, name) is { Kind: JsonKind.Number } n && n.TryGetInt32(out int i) ? i : null;

    private static string Cell(string text) => ErrorText.Printable(text);
}
