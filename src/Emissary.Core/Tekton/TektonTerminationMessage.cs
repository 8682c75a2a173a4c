using Emissary.Foundation.Sequences;
using System.IO.Compression;
using System.Text;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Results;
using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>pkg/result's RunResult types.</summary>
internal static class TektonResultType
{
    public const int TaskRunResult = 1;
    public const int InternalTektonResult = 3;
    public const int StepResult = 4;
    public const int StepArtifacts = 5;
    public const int TaskRunArtifacts = 6;
    public const int Unknown = 10;
}

/// <summary>One <c>{"key":..,"value":..,"type":..}</c> entry of the message.</summary>
internal readonly record struct TektonEntry(string Key, string Value, int Type);

/// <summary>The message would exceed 4096 bytes: Tekton's <c>termination.MessageLengthError</c> (exit 1).</summary>
internal sealed class TektonMessageTooLongException() : Exception(
    $"Termination message is above max allowed size {TektonTerminationMessage.MaxLength}, caused by large task result.");

/// <summary>
/// Tekton's termination message (pkg/termination/write.go): a JSON array of RunResult entries,
/// read–merged–rewritten on every write (new entries appended after what the file already holds;
/// content that does not parse is overwritten), written as Go's json.Marshal writes it (HTML-safe
/// escapes included, which count against the limit), optionally <c>tknz:</c> + raw-std base64 of a raw
/// DEFLATE stream when that is shorter, and never more than 4096 bytes: a write that would exceed
/// it fails with <see cref="TektonMessageTooLongException"/> and leaves the file as it was, so
/// what is there stays valid JSON. The controller (pkg/termination/parse.go) keeps the last entry
/// per key, so our own entries, appended last, win.
/// </summary>
internal static class TektonTerminationMessage
{
    public const int MaxLength = 4096;
    public const string CompressedPrefix = "tknz:";

    /// <summary>What parse.go inflates at most (a decompression bomb is refused beyond it).</summary>
    public const int MaxInflated = 128 * 1024;

    /// <summary>
    /// How much of one result file is read. Tekton reads it whole (os.ReadFile) and only then
    /// checks the message. Plain, a value longer than 4096 bytes can never fit, so that is the cap;
    /// compressed, a value can fit only while its JSON is one the controller will inflate
    /// (<see cref="MaxInflated"/>, 128 KiB): beyond it the step fails here as the message would be
    /// unreadable there, and memory stays bounded whatever a step leaves in the file.
    /// </summary>
    public static int MaxResultBytes(bool compress) => compress ? MaxInflated : MaxLength;

    /// <summary>
    /// A result file's bytes as an entry's value. Go keeps them as bytes and json.Marshal writes
    /// each invalid byte as <c>\ufffd</c> (six bytes toward the 4096); the value keeps one marker
    /// per invalid byte so that <see cref="Render"/> writes and counts the same.
    /// </summary>
    public static string ValueOf(ReadOnlySpan<byte> resultFile) => BoundedJsonWriter.DecodeKeepingInvalidBytes(resultFile);

    /// <summary>Appends <paramref name="entries"/> to the message at <paramref name="path"/>.</summary>
    /// <exception cref="TektonMessageTooLongException">The result would not fit; the file is unchanged.</exception>
    /// <exception cref="IOException">The file could not be written.</exception>
    public static void Append(string path, IReadOnlyList<TektonEntry> entries, bool compress)
    {
        var all = new List<TektonEntry>(ReadExisting(path));
        all.AddRange(entries);
        byte[] output = Render(all, compress) ?? throw new TektonMessageTooLongException();
        if (TerminationMessage.Write(path, output) is { } problem)
        {
            throw new IOException(problem);
        }
    }

    /// <summary>The bytes to write, or null when they exceed <see cref="MaxLength"/>.</summary>
    public static byte[]? Render(IReadOnlyList<TektonEntry> entries, bool compress)
    {
        // json.Marshal's escaping (<, >, & as \u003c...): the limit is on the bytes Tekton would write.
        var json = new BoundedJsonWriter(compress ? MaxInflated : MaxLength, goHtmlSafe: true);
        json.StartArray();
        foreach (TektonEntry entry in entries)
        {
            json.StartObject();
            json.PropertyName("key");
            json.StringValue(entry.Key);
            json.PropertyName("value");
            json.StringValue(entry.Value);
            if (entry.Type != 0)
            {
                json.PropertyName("type");
                json.NumberValue(entry.Type);
            }
            json.EndObject();
        }
        json.EndArray();
        if (!json.Fits)
        {
            return null;
        }
        byte[] plain = json.ToArray();
        byte[] output = plain;
        if (compress)
        {
            byte[] compressed = Compress(plain);
            if (compressed.Length < plain.Length)
            {
                output = compressed;
            }
        }
        return output.Length <= MaxLength ? output : null;
    }

    /// <summary>Entries already in the file; none when it is missing, blank, or does not parse (then it is overwritten, as Tekton does).</summary>
    public static IReadOnlyList<TektonEntry> ReadExisting(string path)
    {
        string full = Path.GetFullPath(path);
        int dirFd = Libc.OpenRetrying(Path.GetDirectoryName(full) ?? "/", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
        {
            return [];
        }
        using var dir = new SafeFd(dirFd);
        BoundedRead read = UntrustedFile.Read(dirFd, Path.GetFileName(full), MaxInflated);
        return read.Outcome == ReadOutcome.Read && TryParse(read.Bytes!, out List<TektonEntry> entries) ? entries : [];
    }

    /// <summary>
    /// Parses a message as the controller does: optional <c>tknz:</c>, a JSON array of objects with
    /// string "key" and "value" and an int or string-named "type".
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out List<TektonEntry> entries)
    {
        entries = [];
        if (message.Trim(" \t\r\n"u8).IsEmpty)
        {
            return true;
        }
        byte[] json = message.ToArray();
        if (message.StartsWith(Encoding.ASCII.GetBytes(CompressedPrefix)))
        {
            if (Inflate(message[CompressedPrefix.Length..]) is not { } inflated)
            {
                return false;
            }
            json = inflated;
        }
        try
        {
            JsonValue document = JsonValue.Parse(json);
            if (document.Kind != JsonKind.Array)
            {
                return false;
            }
            foreach (JsonValue item in document.Items)
            {
                if (item.Kind != JsonKind.Object)
                {
                    return false;
                }
                string key = "", value = "";
                int type = 0;
                foreach (JsonProperty property in item.Properties)
                {
                    switch (property.Name)
                    {
                        case "key" when property.Value.Kind == JsonKind.String:
                            key = property.Value.GetString()!;
                            break;
                        case "value" when property.Value.Kind == JsonKind.String:
                            value = property.Value.GetString()!;
                            break;
                        case "type" when property.Value.Kind == JsonKind.Number && property.Value.TryGetInt32(out int n):
                            type = n;
                            break;
                        case "type" when property.Value.Kind == JsonKind.String:
                            type = TypeNamed(property.Value.GetString()!);
                            break;
                        case "key" or "value" or "type":
                            return false;
                    }
                }
                entries.Add(new TektonEntry(key, value, type));
            }
            return true;
        }
        catch (JsonFormatException)
        {
            return false;
        }
    }

    /// <summary>The string names result.ResultType still accepts on input.</summary>
    private static int TypeNamed(string name) => name switch
    {
        "TaskRunResult" => TektonResultType.TaskRunResult,
        "InternalTektonResult" => TektonResultType.InternalTektonResult,
        "StepResult" => TektonResultType.StepResult,
        "StepArtifactsResult" => TektonResultType.StepArtifacts,
        "TaskRunArtifactsResult" => TektonResultType.TaskRunArtifacts,
        _ => TektonResultType.Unknown,
    };

    /// <summary>
    /// "tknz:" + base64 (standard alphabet, no padding) of raw DEFLATE at the smallest size, by
    /// System.IO.Compression as before (the drop-in's bytes unchanged; the entrypoint binary has
    /// room for its native zlib, the in-pod emissary does not and uses <see cref="Deflate"/>).
    /// </summary>
    public static byte[] Compress(byte[] json)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(json);
        }
        return DeflateText.Encode(CompressedPrefix, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>The JSON inside a compressed message, or null when it is not valid or inflates past <see cref="MaxInflated"/>.</summary>
    public static byte[]? Inflate(ReadOnlySpan<byte> base64NoPadding) => DeflateText.Inflate(base64NoPadding, MaxInflated);
}
