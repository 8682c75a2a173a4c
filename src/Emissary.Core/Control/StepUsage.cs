using Emissary.Json;
using Emissary.Foundation;

namespace Emissary.Control;

/// <summary>What one attempt of the command cost: its times, exit code and the kernel's accounting of it.</summary>
internal sealed class AttemptUsage
{
    public required int ExitCode { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }

    /// <summary>CPU time of the processes of this attempt that were reaped by its end (getrusage(RUSAGE_CHILDREN) before and after).</summary>
    public long UserCpuMs { get; init; }

    public long SystemCpuMs { get; init; }

    /// <summary>The largest peak resident set of one reaped process so far (ru_maxrss), in KiB.</summary>
    public long MaxRssKiB { get; init; }
}

/// <summary>
/// What a step cost and where its time went (status.json's "usage", the termination message's
/// "usage", `emissary status`): wall time waiting for gates and running, attempts, CPU time and
/// peak memory as the kernel accounted them, and the container cgroup's figures when the step
/// has a cgroup of its own. Times in milliseconds, memory in KiB (cgroup memory in bytes, as the
/// kernel writes it).
/// </summary>
internal sealed class StepUsage
{
    /// <summary>At most this many attempts are kept in detail (the latest): status.json stays small with --retries 1000.</summary>
    public const int AttemptsKept = 16;

    public long WaitMs { get; init; }

    public long RunMs { get; init; }

    public int Attempts { get; init; }

    public long UserCpuMs { get; init; }

    public long SystemCpuMs { get; init; }

    public long MaxRssKiB { get; init; }

    /// <summary>cgroup v2 memory.peak of the step's own cgroup (its container), or null.</summary>
    public long? CgroupMemoryPeakBytes { get; init; }

    /// <summary>cgroup v2 cpu.stat usage_usec of the step's own cgroup, in ms, or null.</summary>
    public long? CgroupCpuMs { get; init; }

    /// <summary>The trace the step's spans belong to, when traces are exported.</summary>
    public string? TraceId { get; init; }

    public string? SpanId { get; init; }

    public IReadOnlyList<AttemptUsage> AttemptList { get; init; } = [];

    public long CpuMs => UserCpuMs + SystemCpuMs;

    /// <summary>Milliseconds for tables and timelines: "740ms", "2.35s", "3m12s".</summary>
    public static string FormatMs(long ms) => ms switch
    {
        < 1000 => Digits(ms) + "ms",
        < 60_000 => Fraction(ms, 1000, 100) + "s",
        _ => Digits(ms / 60_000) + "m" + Digits(ms / 1000 % 60) + "s",
    };

    /// <summary>KiB for tables and timelines: "812KiB", "64.2MiB", "1.5GiB".</summary>
    public static string FormatKiB(long kib) => kib switch
    {
        < 1024 => Digits(kib) + "KiB",
        < 1024 * 1024 => Fraction(kib, 1024, 10) + "MiB",
        _ => Fraction(kib, 1024 * 1024, 100) + "GiB",
    };

    private static string Digits(long n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>value/unit rounded to 1/<paramref name="scale"/>, without trailing zeros ("2.35", "64.2", "3"); integer arithmetic only.</summary>
    private static string Fraction(long value, long unit, int scale)
    {
        long scaled = ((value * scale) + (unit / 2)) / unit;
        long whole = scaled / scale, part = scaled % scale;
        if (part == 0)
        {
            return Digits(whole);
        }
        string digits = Digits(part).PadLeft(scale == 100 ? 2 : 1, '0').TrimEnd('0');
        return Digits(whole) + "." + digits;
    }

    public void Write(JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteNumber("waitMs", WaitMs);
        json.WriteNumber("runMs", RunMs);
        json.WriteNumber("attempts", Attempts);
        json.WriteNumber("userCpuMs", UserCpuMs);
        json.WriteNumber("systemCpuMs", SystemCpuMs);
        json.WriteNumber("maxRssKiB", MaxRssKiB);
        if (CgroupMemoryPeakBytes is { } peak) json.WriteNumber("cgroupMemoryPeakBytes", peak);
        if (CgroupCpuMs is { } cpu) json.WriteNumber("cgroupCpuMs", cpu);
        if (TraceId is not null) json.WriteString("traceId", TraceId);
        if (SpanId is not null) json.WriteString("spanId", SpanId);
        if (AttemptList.Count > 0)
        {
            json.WriteStartArray("attemptList");
            foreach (AttemptUsage a in AttemptList)
            {
                json.WriteStartObject();
                json.WriteNumber("exitCode", a.ExitCode);
                json.WriteString("startedAt", Rfc3339.Format(a.StartedAt));
                json.WriteString("finishedAt", Rfc3339.Format(a.FinishedAt));
                json.WriteNumber("userCpuMs", a.UserCpuMs);
                json.WriteNumber("systemCpuMs", a.SystemCpuMs);
                json.WriteNumber("maxRssKiB", a.MaxRssKiB);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    /// <summary>Reads a "usage" object; null when it is not one (never throws on bad content).</summary>
    public static StepUsage? Read(JsonValue e)
    {
        if (e.Kind != JsonKind.Object)
        {
            return null;
        }
        try
        {
            var attempts = new List<AttemptUsage>();
            if (e.TryGetProperty("attemptList", out JsonValue list) && list.Kind == JsonKind.Array)
            {
                foreach (JsonValue a in list.Items)
                {
                    if (a.Kind == JsonKind.Object && Time(a, "startedAt") is { } s && Time(a, "finishedAt") is { } f)
                    {
                        attempts.Add(new AttemptUsage
                        {
                            ExitCode = (int)(Number(a, "exitCode") ?? 0),
                            StartedAt = s,
                            FinishedAt = f,
                            UserCpuMs = Number(a, "userCpuMs") ?? 0,
                            SystemCpuMs = Number(a, "systemCpuMs") ?? 0,
                            MaxRssKiB = Number(a, "maxRssKiB") ?? 0,
                        });
                    }
                }
            }
            return new StepUsage
            {
                WaitMs = Number(e, "waitMs") ?? 0,
                RunMs = Number(e, "runMs") ?? 0,
                Attempts = (int)(Number(e, "attempts") ?? 0),
                UserCpuMs = Number(e, "userCpuMs") ?? 0,
                SystemCpuMs = Number(e, "systemCpuMs") ?? 0,
                MaxRssKiB = Number(e, "maxRssKiB") ?? 0,
                CgroupMemoryPeakBytes = Number(e, "cgroupMemoryPeakBytes"),
                CgroupCpuMs = Number(e, "cgroupCpuMs"),
                TraceId = e.TryGetProperty("traceId", out JsonValue t) && t.Kind == JsonKind.String ? t.GetString() : null,
                SpanId = e.TryGetProperty("spanId", out JsonValue sp) && sp.Kind == JsonKind.String ? sp.GetString() : null,
                AttemptList = attempts,
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static long? Number(JsonValue e, string name) =>
        e.TryGetProperty(name, out JsonValue v) && v.Kind == JsonKind.Number && v.TryGetInt64(out long n) ? n : null;

    private static DateTimeOffset? Time(JsonValue e, string name) =>
        e.TryGetProperty(name, out JsonValue v) && v.Kind == JsonKind.String && Rfc3339.TryParse(v.GetString()!, out DateTimeOffset t) ? t : null;
}
