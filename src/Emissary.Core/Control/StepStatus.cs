using Emissary.Foundation;
using Emissary.Json;
using Emissary.Foundation.Sequences;

namespace Emissary.Control;

/// <summary>The lifecycle of a step as the control directory records it.</summary>
internal enum StepState
{
    Waiting,
    Running,

    /// <summary>Held at a breakpoint (or by `emissary debug pause`): alive, not finished, waiting for `emissary debug`.</summary>
    Paused,
    Succeeded,
    Failed,
    Skipped,

    /// <summary>Failed, and the kubelet restarts the container (<c>--restart-policy</c>, <c>--restart-rules</c>): not final, dependants keep waiting.</summary>
    Restarting,
}

/// <summary>The one map between <see cref="StepState"/> and its name in status.json, events and tables.</summary>
internal static class StepStates
{
    public static string JsonName(this StepState state) => state switch
    {
        StepState.Waiting => "waiting",
        StepState.Running => "running",
        StepState.Paused => "paused",
        StepState.Succeeded => "succeeded",
        StepState.Failed => "failed",
        StepState.Skipped => "skipped",
        StepState.Restarting => "restarting",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    public static StepState? Parse(string? name) => name switch
    {
        "waiting" => StepState.Waiting,
        "running" => StepState.Running,
        "paused" => StepState.Paused,
        "succeeded" => StepState.Succeeded,
        "failed" => StepState.Failed,
        "skipped" => StepState.Skipped,
        "restarting" => StepState.Restarting,
        _ => null,
    };

    public static bool IsFinal(this StepState state) => state is StepState.Succeeded or StepState.Failed or StepState.Skipped;
}

/// <summary>
/// DIR/NAME/status.json: what `emissary status` shows and what `--after` gates read once the
/// step's exitcode marker exists.
/// </summary>
internal sealed record StepStatus
{
    public required string Name { get; init; }

    public required StepState State { get; init; }

    public int? Pid { get; init; }

    public DateTimeOffset? WaitingSince { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public int? ExitCode { get; init; }

    public string? Reason { get; init; }

    public string? Message { get; init; }

    /// <summary>While waiting: the gates still closed, as people read them ("step 'fetch'").</summary>
    public IReadOnlyList<string>? WaitingFor { get; init; }

    /// <summary>Whether the step is held by --wait-start (so `emissary start/skip` make sense).</summary>
    public bool WaitsForStart { get; init; }

    /// <summary>Failed, but with <c>--on-error continue</c>: steps after it still run.</summary>
    public bool ContinueOnError { get; init; }

    /// <summary>What the step cost (measured resources, wait/run times, attempts), once it has ended.</summary>
    public StepUsage? Usage { get; init; }

    /// <summary>The step's last pause: where, since when, and (once it went on) how it was resumed.</summary>
    public StepPause? Pause { get; init; }

    /// <summary>How many times the command was started in place with `emissary debug rerun` plus one; 0 when never rerun.</summary>
    public int Attempts { get; init; }

    /// <summary>How many times the kubelet restarted this step's container before this run, in this pod incarnation (counted in the control directory: the container's memory is gone).</summary>
    public int Restarts { get; init; }

    /// <summary>The pod incarnation (DIR/.incarnation) the step registered under; null before any in-place restart of the whole pod.</summary>
    public string? Incarnation { get; init; }

    // Equality by reference and ToString as status.json: the record's own members compare and
    // print its times through EqualityComparer<DateTimeOffset?> and DateTimeOffset.ToString, which
    // keep .NET's date formatting and the time-zone code in the binary (about 230 KB); nothing
    // compares two statuses by value.

    /// <summary>By reference (see above).</summary>
    public bool Equals(StepStatus? other) => ReferenceEquals(this, other);

    /// <summary>By reference (see above).</summary>
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);

    /// <summary>status.json's text.</summary>
    public override string ToString() => ToJson();

    /// <summary>Whether a step waiting with <c>--after</c> on this one may start.</summary>
    public bool LetsDependantsRun => State == StepState.Succeeded || (State == StepState.Failed && ContinueOnError);

    public string ToJson() => JsonText.Write(WriteObject);

    /// <summary>status.json's contents: <see cref="ToJson"/> as UTF-8, and a newline.</summary>
    public byte[] ToFileContents() => JsonText.WriteLine(WriteObject);

    private void WriteObject(JsonWriter json)
    {
        json.WriteStartObject();
        WriteProperties(json);
        json.WriteEndObject();
    }

    /// <summary>The properties of status.json, inside an object the caller opened (status --json adds its own).</summary>
    public void WriteProperties(JsonWriter json)
    {
        json.WriteString("name", Name);
        json.WriteString("state", State.JsonName());
        if (Pid is { } pid) json.WriteNumber("pid", pid);
        WriteTime(json, "waitingSince", WaitingSince);
        WriteTime(json, "startedAt", StartedAt);
        WriteTime(json, "finishedAt", FinishedAt);
        if (ExitCode is { } code) json.WriteNumber("exitCode", code);
        if (Reason is not null) json.WriteString("reason", Reason);
        if (Message is not null) json.WriteString("message", Message);
        if (ContinueOnError) json.WriteBoolean("continueOnError", true);
        if (WaitsForStart) json.WriteBoolean("waitsForStart", true);
        if (WaitingFor is { Count: > 0 } waitingFor)
        {
            json.WriteStartArray("waitingFor");
            foreach (string gate in waitingFor)
            {
                json.WriteStringValue(gate);
            }
            json.WriteEndArray();
        }
        if (Pause is { } pause)
        {
            json.WriteStartObject("pause");
            json.WriteString("at", pause.At.Name());
            WriteTime(json, "since", pause.Since);
            if (pause.ResumedBy is not null) json.WriteString("resumedBy", pause.ResumedBy);
            json.WriteEndObject();
        }
        if (Attempts > 0) json.WriteNumber("attempts", Attempts);
        if (Restarts > 0) json.WriteNumber("restarts", Restarts);
        if (Incarnation is not null) json.WriteString("incarnation", Incarnation);
        if (Usage is not null)
        {
            json.WritePropertyName("usage");
            Usage.Write(json);
        }
    }

    /// <summary>Parses status.json; null when it is not a status (never throws on bad content).</summary>
    public static StepStatus? Parse(string json)
    {
        try
        {
            JsonValue root = JsonValue.Parse(json);
            if (root.Kind != JsonKind.Object || !root.TryGetProperty("name", out JsonValue name) || !root.TryGetProperty("state", out JsonValue stateName) ||
                StepStates.Parse(stateName.GetString()) is not { } state)
            {
                return null;
            }
            return new StepStatus
            {
                Name = name.GetString() ?? "",
                State = state,
                Pid = root.TryGetProperty("pid", out JsonValue pid) ? pid.GetInt32() : null,
                WaitingSince = ReadTime(root, "waitingSince"),
                StartedAt = ReadTime(root, "startedAt"),
                FinishedAt = ReadTime(root, "finishedAt"),
                ExitCode = root.TryGetProperty("exitCode", out JsonValue code) ? code.GetInt32() : null,
                Reason = root.TryGetProperty("reason", out JsonValue reason) ? reason.GetString() : null,
                Message = root.TryGetProperty("message", out JsonValue message) ? message.GetString() : null,
                ContinueOnError = root.TryGetProperty("continueOnError", out JsonValue c) && c.Kind == JsonKind.True,
                WaitsForStart = root.TryGetProperty("waitsForStart", out JsonValue w) && w.Kind == JsonKind.True,
                WaitingFor = root.TryGetProperty("waitingFor", out JsonValue gates) && gates.Kind == JsonKind.Array
                    ? gates.Items.Select(g => g.GetString() ?? "")
                    : null,
                Usage = root.TryGetProperty("usage", out JsonValue usage) ? StepUsage.Read(usage) : null,
                Pause = root.TryGetProperty("pause", out JsonValue pause) ? StepPause.Read(pause) : null,
                Attempts = root.TryGetProperty("attempts", out JsonValue attempts) ? attempts.GetInt32() : 0,
                Restarts = root.TryGetProperty("restarts", out JsonValue restarts) && restarts.TryGetInt32(out int r) && r >= 0 ? r : 0,
                Incarnation = root.TryGetProperty("incarnation", out JsonValue incarnation) && incarnation.Kind == JsonKind.String ? incarnation.GetString() : null,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static void WriteTime(JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            json.WriteString(name, Rfc3339.Format(t));
        }
    }

    internal static DateTimeOffset? ReadTime(JsonValue root, string name) =>
        root.TryGetProperty(name, out JsonValue value) && value.GetString() is { } text &&
        Rfc3339.TryParse(text, out DateTimeOffset t)
            ? t
            : null;
}

/// <summary>Where in its lifecycle a step pauses: the decision points of <c>--breakpoint</c> and <c>emissary debug pause</c> (flags: a step's breakpoints are a set of them).</summary>
[Flags]
internal enum PausePoint
{
    None = 0,

    /// <summary>Its gates are open, its command not started.</summary>
    Before = 1,

    /// <summary>Its command ended (any outcome), its outcome not recorded yet.</summary>
    After = 2,

    /// <summary>Its command failed (after its retries), its outcome not recorded yet.</summary>
    OnFailure = 4,
}

/// <summary>A step's pause as status.json records it: <c>{"at","since","resumedBy"}</c>.</summary>
internal sealed class StepPause(PausePoint at, DateTimeOffset since, string? resumedBy = null)
{
    public PausePoint At { get; } = at;

    public DateTimeOffset Since { get; } = since;

    /// <summary>continue, fail, rerun, timeout or the signal that ended it; null while paused.</summary>
    public string? ResumedBy { get; } = resumedBy;

    public StepPause ResumedWith(string how) => new(At, Since, how);

    public static StepPause? Read(JsonValue pause) =>
        pause.Kind == JsonKind.Object && pause.TryGetProperty("at", out JsonValue at) && PausePoints.Parse(at.GetString()) is { } point
            ? new StepPause(point, StepStatus.ReadTime(pause, "since") ?? default, pause.TryGetProperty("resumedBy", out JsonValue by) ? by.GetString() : null)
            : null;
}

/// <summary>The one map between <see cref="PausePoint"/> and its name (flag value, status.json, termination message).</summary>
internal static class PausePoints
{
    public static string Name(this PausePoint point) => point switch
    {
        PausePoint.Before => "before",
        PausePoint.After => "after",
        _ => "on-failure",
    };

    public static PausePoint? Parse(string? name) => name switch
    {
        "before" => PausePoint.Before,
        "after" => PausePoint.After,
        "on-failure" => PausePoint.OnFailure,
        _ => null,
    };
}
