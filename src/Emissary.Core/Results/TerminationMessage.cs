using Emissary.Control;
using System.Globalization;
using System.Text.Unicode;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Files;

namespace Emissary.Results;

/// <summary>A rendered termination message.</summary>
/// <param name="Bytes">The message: valid JSON or, in the emissary format when only that fits, the JSON compressed (emz:); never longer than the budget.</param>
/// <param name="TooLarge">The results did not fit and were left out (the reason says ResultsTooLarge).</param>
/// <param name="Problem">One line for the log when something had to give (results or fields left out,
/// a value written base64-encoded), otherwise null.</param>
internal sealed record Rendering(byte[] Bytes, bool TooLarge, string? Problem)
{
    /// <summary>The results did not fit even compressed and were left out, but stay in the control
    /// directory (the message counts them in "resultsOmitted"; the step is not failed for them).</summary>
    public bool Omitted { get; init; }
}

/// <summary>
/// The termination message: the one channel out of the pod that needs no API access. The kubelet
/// copies the file (at most 4096 bytes per container, 12 KiB per pod) into the container status,
/// where a workflow controller reads it.
///
/// <para><b>Emissary format</b> (the default), keys in this order:</para>
/// <code>{"name":"build","exitCode":0,"reason":"Completed","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"…Z","results":{"digest":"sha256:…"}}</code>
/// <para>Times are RFC 3339 in UTC with exactly three fraction digits. "results" is omitted when
/// there are none; its members are sorted by name. "usage" (what the step cost, see
/// TerminationUsage.cs) comes last, only when everything else fits with it.</para>
///
/// <para><b>Tekton format</b>: the array of <c>result.RunResult</c> that Tekton's entrypoint writes
/// and its controller parses (tektoncd/pipeline, read for this): <c>pkg/result/result.go</c> declares
/// <c>RunResult{Key string `json:"key"`; Value string `json:"value"`; ResultType int `json:"type,omitempty"`}</c>
/// (plus <c>resourceName,omitempty</c>, never populated) with TaskRunResultType = 1,
/// InternalTektonResultType = 3, StepResultType = 4 (2 is reserved); string type names are still
/// accepted on input but were dropped on output because they cost budget.
/// <c>pkg/entrypoint/entrypointer.go</c> writes <c>StartedAt</c> (type 3) formatted with
/// <c>timeFormat = "2006-01-02T15:04:05.000Z07:00"</c> ("RFC3339 with millisecond"), <c>Reason</c>
/// "TimeoutExceeded"/"Cancelled" (type 3) and, with onError continue, <c>ExitCode</c> (type 3). Results
/// are written first by <c>readResultsFromDisk</c> (value = the file content as a string) and the
/// deferred <c>termination.WriteMessage</c> appends its entries after them, so a Tekton message
/// reads results, then StartedAt, ExitCode, Reason. The controller (<c>pkg/pod/status.go</c>) parses
/// StartedAt with <c>time.Parse(timeFormat, …)</c> (so exactly three fraction digits are required),
/// ExitCode with <c>strconv.ParseUint(v, 10, 32)</c>, and <c>pkg/termination/parse.go</c> keeps the
/// last entry per key, so our internal entries, written last, win over a result named like one.
/// We write, matching that byte for byte in field names and order:
/// <code>[{"key":"digest","value":"sha256:…","type":1},{"key":"StartedAt","value":"2026-…Z","type":3},{"key":"ExitCode","value":"0","type":3},{"key":"Reason","value":"Completed","type":3}]</code>
/// Results use type 1 (task results). Tekton's compressed "tknz:" messages are not produced here
/// (the Tekton drop-in, TektonTerminationMessage, writes them).
///
/// <para><b>Values are bytes.</b> Valid UTF-8 is written as a JSON string, escaping only what JSON
/// requires (quote, backslash, C0 controls). Invalid UTF-8 is never replaced with U+FFFD (Go's
/// encoding/json does that silently, which is how Tekton loses such bytes); it is written
/// losslessly as base64: in the emissary format as an object <c>{"base64":"…"}</c> in place of the
/// string, so a reader can tell the two apart; in the Tekton format, whose value must be a string,
/// as the base64 text, with a warning in <see cref="Rendering.Problem"/>.</para>
///
/// <para><b>The budget is a hard limit.</b> If the results do not fit, the emissary format tries
/// the same JSON compressed (<see cref="CompressedPrefix"/> + unpadded base64 of raw DEFLATE,
/// Tekton's <c>tknz:</c> encoding; see <see cref="Deflate"/>). If that does not fit either, the
/// message is written with no results at all (never a partial set that looks complete): with
/// <c>"resultsOmitted":N</c> and the step's own reason when the caller keeps the results
/// elsewhere (<see cref="Rendering.Omitted"/>), otherwise with reason ResultsTooLarge and
/// <see cref="Rendering.TooLarge"/>. If even the message without results does not fit (a tiny
/// budget, a very long step name), fields are left out one at a time, least useful first, because
/// Kubernetes records the container's own start/finish times and name anyway: emissary format
/// finishedAt, startedAt, name, reason, then exitCode (down to <c>{}</c>); Tekton format
/// StartedAt, Reason, ExitCode (down to <c>[]</c>). Values are never truncated. Budgets below
/// <see cref="MinimumBudget"/> are rejected.</para>
/// </summary>
internal static partial class TerminationMessage
{
    /// <summary>The kubelet's per-container limit.</summary>
    public const int DefaultBudget = 4096;

    /// <summary>The smallest budget that still holds valid JSON: <c>{}</c> or <c>[]</c>.</summary>
    public const int MinimumBudget = 2;

    /// <summary>What starts a compressed emissary message (then DEFLATE in unpadded base64, as Tekton's <c>tknz:</c>).</summary>
    public const string CompressedPrefix = "emz:";

    private static ReadOnlySpan<byte> CompressedPrefixBytes => "emz:"u8;

    /// <summary>
    /// The most a compressed message inflates to, written or read (Tekton's controller uses the
    /// same 128 KiB): a message whose JSON is longer is never written compressed, and a reader
    /// refuses one that inflates past it.
    /// </summary>
    public const int MaxInflated = 128 * 1024;

    /// <summary>The member that counts results left out of the message but kept in the control directory.</summary>
    public const string OmittedProperty = "resultsOmitted";

    // Tekton's result.ResultType values (pkg/result/result.go).
    private const int TektonTaskRunResult = 1;
    private const int TektonInternalResult = 3;

    [Flags]
    private enum Fields
    {
        None = 0,
        ExitCode = 1,
        Reason = 2,
        Name = 4,
        StartedAt = 8,
        FinishedAt = 16,
        All = ExitCode | Reason | Name | StartedAt | FinishedAt,
    }

    // What is left out, in order, when the message without results is still over budget.
    private static readonly Fields[] Degradation =
    [
        Fields.All,
        Fields.All & ~Fields.FinishedAt,
        Fields.ExitCode | Fields.Reason | Fields.Name,
        Fields.ExitCode | Fields.Reason,
        Fields.ExitCode,
        Fields.None,
    ];

    /// <summary>
    /// Renders the message for <paramref name="report"/> and <paramref name="results"/> (see the class
    /// comment). <paramref name="resultsKept"/>: the results stay readable elsewhere (the step's
    /// results directory in the control directory, where <c>$(steps.NAME.results.KEY)</c> and
    /// <c>emissary status --json</c> read them), so results too large for any message are left out
    /// of it (<see cref="Rendering.Omitted"/>) instead of failing the step.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="budget"/> is below <see cref="MinimumBudget"/>.</exception>
    public static Rendering Render(StepReport report, IReadOnlyList<Result> results, TerminationFormat format, int budget, bool resultsKept = false)
    {
        Rendering rendering = RenderWithoutUsage(report with { Usage = null }, results, format, budget, resultsKept);
        return report.Usage is not null && format == TerminationFormat.Emissary ? WithUsage(rendering, report, results, budget) : rendering;
    }

    /// <summary>
    /// The step's usage goes in only when everything else (every field, every result) fits with
    /// it: it is left out, silently, before anything else would have to give. A message that is
    /// compressed anyway carries it when the compressed message still fits with it; a message that
    /// fits plain is never compressed for it.
    /// </summary>
    private static Rendering WithUsage(Rendering without, StepReport report, IReadOnlyList<Result> results, int budget)
    {
        if (without.TooLarge || without.Omitted)
        {
            return without;
        }
        Result[] sorted = Unique(results, []);
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        BoundedJsonWriter full = Write(report, sorted, TerminationFormat.Emissary, Fields.All, budget, null);
        if (full.Fits)
        {
            return without with { Bytes = full.ToArray() };
        }
        return without.Bytes.AsSpan().StartsWith(CompressedPrefixBytes) && Compressed(report, sorted) is { } compressed && compressed.Length <= budget
            ? without with { Bytes = compressed }
            : without;
    }

    private static Rendering RenderWithoutUsage(StepReport report, IReadOnlyList<Result> results, TerminationFormat format, int budget, bool resultsKept)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, MinimumBudget);
        var problems = new List<string>();
        Result[] sorted = Unique(results, problems);
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Name, b.Name));

        bool tooLarge = false;
        int omitted = 0;
        if (sorted.Length > 0)
        {
            var encodingNotes = new List<string>(problems);
            BoundedJsonWriter full = Write(report, sorted, format, Fields.All, budget, encodingNotes);
            if (full.Fits)
            {
                return new Rendering(full.ToArray(), false, Join(encodingNotes));
            }
            byte[]? compressed = format == TerminationFormat.Emissary ? Compressed(report, sorted) : null;
            if (compressed is not null && compressed.Length <= budget)
            {
                return new Rendering(compressed, false, Join(encodingNotes));
            }
            string needs = string.Create(CultureInfo.InvariantCulture, $"needs {full.Length} bytes")
                + (compressed is not null ? string.Create(CultureInfo.InvariantCulture, $" ({compressed.Length} compressed)")
                    : format == TerminationFormat.Emissary ? string.Create(CultureInfo.InvariantCulture, $" (over the {MaxInflated} a reader inflates)") : "");
            if (resultsKept && format == TerminationFormat.Emissary)
            {
                omitted = sorted.Length;
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Named(sorted)} left out of the termination message, which {needs}, budget is {budget}; kept in the control directory for $(steps.{report.Name}.results.NAME) and emissary status --json"));
            }
            else
            {
                tooLarge = true;
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{Named(sorted)}: the termination message {needs}, budget is {budget}: written without results, reason {StepReasons.ResultsTooLarge}"));
                report = report with { Reason = StepReasons.ResultsTooLarge };
            }
        }

        BoundedJsonWriter? bare = null;
        int bareLength = 0;
        foreach (Fields fields in Degradation)
        {
            bare = Write(report, [], format, fields, budget, null, omitted);
            if (fields == Fields.All)
            {
                bareLength = bare.Length;
            }
            if (bare.Fits)
            {
                Fields missing = Fields.All & ~fields;
                if (format == TerminationFormat.Tekton)
                {
                    missing &= ~(Fields.Name | Fields.FinishedAt); // not part of Tekton's message anyway
                }
                if (missing != Fields.None)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture,
                        $"termination message needs {bareLength} bytes even without results, budget is {budget}: left out {Describe(missing, format)}"));
                }
                break;
            }
        }
        if (!bare!.Fits)
        {
            // Not even {"resultsOmitted":N} fits a tiny budget: the results cannot be announced, so
            // the step fails for them as it would without a place to keep them.
            return RenderWithoutUsage(report, results, format, budget, resultsKept: false);
        }
        return new Rendering(bare.ToArray(), tooLarge, Join(problems)) { Omitted = omitted > 0 };
    }

    /// <summary>
    /// The emissary message with every result, compressed (<see cref="CompressedPrefix"/>), or null
    /// when its JSON is over <see cref="MaxInflated"/>: no reader would inflate it.
    /// </summary>
    private static byte[]? Compressed(StepReport report, Result[] sorted)
    {
        BoundedJsonWriter plain = Write(report, sorted, TerminationFormat.Emissary, Fields.All, MaxInflated, null);
        return plain.Fits ? DeflateText.Compress(CompressedPrefix, plain.ToArray()) : null;
    }

    /// <summary>
    /// The JSON of a message as read back: a compressed one (<see cref="CompressedPrefix"/>)
    /// inflated, within <see cref="MaxInflated"/>; anything else as it is (a JSON parser judges
    /// it). Null when a compressed message is not valid or inflates past the bound — a
    /// decompression bomb another container planted costs no more than a 128 KiB message.
    /// </summary>
    public static byte[]? Decode(ReadOnlySpan<byte> message)
    {
        ReadOnlySpan<byte> trimmed = message.TrimStart(" \t\r\n"u8);
        return trimmed.StartsWith(CompressedPrefixBytes)
            ? DeflateText.Inflate(trimmed[CompressedPrefixBytes.Length..].TrimEnd(" \t\r\n"u8), MaxInflated)
            : message.ToArray();
    }

    /// <summary>
    /// One result per name: a later one replaces an earlier one (Tekton's parser keeps the last
    /// entry per key too), with a note, rather than a JSON object with a duplicate member.
    /// </summary>
    private static Result[] Unique(IReadOnlyList<Result> results, List<string> problems)
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        var unique = new List<Result>(results.Count);
        foreach (Result result in results)
        {
            if (byName.TryGetValue(result.Name, out int index))
            {
                unique[index] = result;
                problems.Add($"result '{result.Name}' was given twice: the last value is used");
            }
            else
            {
                byName[result.Name] = unique.Count;
                unique.Add(result);
            }
        }
        return [.. unique];
    }

    /// <summary>
    /// Writes the message to <paramref name="path"/> atomically when it can: a temporary file in the
    /// same directory, then rename(2), so a reader never sees half a message. When that is not
    /// possible — <c>/dev/termination-log</c> is usually a file bind-mounted by the kubelet, which
    /// rename cannot replace (EBUSY), or the directory may be read-only — it falls back to writing
    /// the file in place (ftruncate, one write). The path is resolved by <see cref="WritePath"/>: a
    /// link another container may have planted is not followed, and in place only a regular file
    /// or a character device (<c>/dev/null</c>, <c>/dev/stdout</c> on a terminal: only root can
    /// make one, and it is written without blocking) is written, never a FIFO, socket or block
    /// device. No fsync: the kubelet reads the file after the container exits, through the same
    /// page cache.
    /// </summary>
    /// <returns>null on success, or one line saying why the message could not be written.</returns>
    public static string? Write(string path, byte[] message)
    {
        WritePath place;
        try
        {
            place = WritePath.Resolve(path);
        }
        catch (WritePathException e)
        {
            return Failure(path, e.Message, null);
        }
        using (place)
        {
            string? atomicProblem = null;
            FileType? kind = Libc.StatAt(place.DirectoryFd, place.Name)?.Kind;
            if (kind is null && Libc.LastErrno != Errno.ENOENT)
            {
                atomicProblem = Libc.Describe(Libc.LastErrno);
            }
            else if (kind is null or FileType.Regular)
            {
                atomicProblem = WriteThroughTemporaryFile(place, message);
                if (atomicProblem is null)
                {
                    return null;
                }
            }
            return WriteInPlace(place, message) is { } reason ? Failure(path, reason, atomicProblem) : null;
        }
    }

    private static string? WriteThroughTemporaryFile(WritePath place, byte[] message)
    {
        try
        {
            AtomicFile.WriteAt(place.DirectoryFd, place.Name, message);
            return null;
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    /// <summary>The kubelet's bind-mounted file or a device: truncated (a regular file) and written in one go; null or why not.</summary>
    private static string? WriteInPlace(WritePath place, byte[] message)
    {
        SafeFd fd;
        try
        {
            fd = place.Open(Libc.O_WRONLY, create: true, mode: (UnixFileMode)0x1A4 /* 0644 */, characterDevice: true);
        }
        catch (WritePathException e)
        {
            return e.Message;
        }
        using (fd)
        {
            if (Libc.KindOf(fd.Fd) == FileType.Regular && Libc.Ftruncate(fd.Fd, 0) != 0)
            {
                return Libc.Describe(Libc.LastErrno);
            }
            Errno errno = Libc.WriteAll(fd.Fd, message);
            return errno == 0 ? null : Libc.Describe(errno);
        }
    }

    private static string Failure(string path, string reason, string? atomicProblem) =>
        atomicProblem is null
            ? $"cannot write the termination message to {path}: {reason}"
            : $"cannot write the termination message to {path}: {reason} (replacing it atomically failed too: {atomicProblem})";

    private static BoundedJsonWriter Write(StepReport report, Result[] results, TerminationFormat format, Fields fields, int budget, List<string>? notes, int omitted = 0)
    {
        var json = new BoundedJsonWriter(budget);
        if (format == TerminationFormat.Tekton)
        {
            WriteTekton(json, report, results, fields, notes);
        }
        else
        {
            WriteEmissary(json, report, results, fields, omitted);
        }
        return json;
    }

    private static void WriteEmissary(BoundedJsonWriter json, StepReport report, Result[] results, Fields fields, int omitted)
    {
        json.StartObject();
        if (fields.HasFlag(Fields.Name))
        {
            json.PropertyName("name");
            json.StringValue(report.Name);
        }
        if (fields.HasFlag(Fields.ExitCode))
        {
            json.PropertyName("exitCode");
            json.NumberValue(report.ExitCode);
        }
        if (fields.HasFlag(Fields.Reason))
        {
            json.PropertyName("reason");
            json.StringValue(report.Reason);
        }
        if (fields.HasFlag(Fields.StartedAt))
        {
            json.PropertyName("startedAt");
            json.StringValue(Rfc3339.Format(report.StartedAt));
        }
        if (fields.HasFlag(Fields.FinishedAt))
        {
            json.PropertyName("finishedAt");
            json.StringValue(Rfc3339.Format(report.FinishedAt));
            // A debugging session's trace goes with the finish time, the first thing left out.
            if (report.Pause is { } pause)
            {
                json.PropertyName("pause");
                json.StartObject();
                json.PropertyName("at");
                json.StringValue(pause.At.Name());
                json.PropertyName("resumedBy");
                json.StringValue(pause.ResumedBy ?? "");
                json.EndObject();
            }
            if (report.Attempts > 0)
            {
                json.PropertyName("attempts");
                json.NumberValue(report.Attempts);
            }
        }
        if (results.Length > 0)
        {
            json.PropertyName("results");
            json.StartObject();
            foreach (Result result in results)
            {
                json.PropertyName(result.Name);
                if (Utf8.IsValid(result.Value))
                {
                    json.StringValue(result.Value);
                }
                else
                {
                    json.StartObject();
                    json.PropertyName("base64");
                    json.StringValue(Convert.ToBase64String(result.Value));
                    json.EndObject();
                }
            }
            json.EndObject();
        }
        if (omitted > 0)
        {
            json.PropertyName(OmittedProperty);
            json.NumberValue(omitted);
        }
        if (report.Usage is { } usage)
        {
            WriteUsage(json, usage);
        }
        json.EndObject();
    }

    private static void WriteTekton(BoundedJsonWriter json, StepReport report, Result[] results, Fields fields, List<string>? notes)
    {
        json.StartArray();
        foreach (Result result in results)
        {
            if (Utf8.IsValid(result.Value))
            {
                TektonEntry(json, result.Name, result.Value, TektonTaskRunResult);
            }
            else
            {
                notes?.Add($"result '{result.Name}' is not valid UTF-8: written base64-encoded");
                TektonEntry(json, result.Name, System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(result.Value)), TektonTaskRunResult);
            }
        }
        if (fields.HasFlag(Fields.StartedAt))
        {
            TektonEntry(json, "StartedAt", Rfc3339.Format(report.StartedAt), TektonInternalResult);
        }
        if (fields.HasFlag(Fields.ExitCode))
        {
            TektonEntry(json, "ExitCode", report.ExitCode.ToString(CultureInfo.InvariantCulture), TektonInternalResult);
        }
        if (fields.HasFlag(Fields.Reason))
        {
            TektonEntry(json, "Reason", report.Reason, TektonInternalResult);
        }
        json.EndArray();
    }

    private static void TektonEntry(BoundedJsonWriter json, string key, string value, int type) =>
        TektonEntry(json, key, System.Text.Encoding.UTF8.GetBytes(value), type);

    private static void TektonEntry(BoundedJsonWriter json, string key, ReadOnlySpan<byte> value, int type)
    {
        json.StartObject();
        json.PropertyName("key");
        json.StringValue(key);
        json.PropertyName("value");
        json.StringValue(value);
        json.PropertyName("type");
        json.NumberValue(type);
        json.EndObject();
    }

    private static string Describe(Fields missing, TerminationFormat format)
    {
        bool tekton = format == TerminationFormat.Tekton;
        var names = new List<string>();
        foreach (Fields field in (ReadOnlySpan<Fields>)[Fields.FinishedAt, Fields.StartedAt, Fields.Name, Fields.Reason, Fields.ExitCode])
        {
            if (missing.HasFlag(field))
            {
                names.Add(field switch
                {
                    Fields.FinishedAt => "finishedAt",
                    Fields.StartedAt => tekton ? "StartedAt" : "startedAt",
                    Fields.Name => "name",
                    Fields.Reason => tekton ? "Reason" : "reason",
                    _ => tekton ? "ExitCode" : "exitCode",
                });
            }
        }
        return string.Join(", ", names);
    }

    /// <summary>"result 'a' (5000 bytes)", "results 'a' (3 bytes), 'b' (1 byte)", at most five: "results 'a' (…), …, 'e' (…) and 7 more".</summary>
    private static string Named(Result[] results)
    {
        const int Shown = 5;
        var quoted = new string[Math.Min(Shown, results.Length)];
        for (int i = 0; i < quoted.Length; i++)
        {
            quoted[i] = "'" + results[i].Name + "' (" + Count(results[i].Value.Length, "byte") + ")";
        }
        string names = string.Join(", ", quoted);
        return (results.Length == 1 ? "result " : "results ") + names
            + (results.Length > Shown ? string.Create(CultureInfo.InvariantCulture, $" and {results.Length - Shown} more") : "");
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : string.Create(CultureInfo.InvariantCulture, $"{n} {noun}s");

    private static string? Join(List<string> lines) => lines.Count == 0 ? null : string.Join("; ", lines);
}
