using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>
/// JSON streams in and out. Read with Utf8JsonReader (exact JSON: one or many concatenated values,
/// as <c>kubectl get -o json</c> or <c>jq</c> write them) into the same YamlDotNet nodes the YAML
/// path uses: strings become double-quoted scalars, numbers, booleans and null plain ones. Written
/// back with Utf8JsonWriter, in the nodes' order: a plain scalar that is a JSON literal stays a
/// literal, everything else is a string.
/// </summary>
internal static class JsonManifests
{
    public static IReadOnlyList<YamlNode> Read(string text, string sourceName) => Read(Encoding.UTF8.GetBytes(text), sourceName);

    /// <summary>The same from UTF-8 text: the webhook passes the pod's bytes as they came in the review, with no string in between.</summary>
    public static IReadOnlyList<YamlNode> Read(ReadOnlySpan<byte> utf8, string sourceName)
    {
        // Utf8JsonReader checks a string's UTF-8 only when it is read, with an InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            int at = 0;
            while (System.Text.Rune.DecodeFromUtf8(utf8[at..], out _, out int length) == System.Buffers.OperationStatus.Done)
            {
                at += length;
            }
            int lineStart = utf8[..at].LastIndexOf((byte)'\n') + 1;
            throw ManifestReadException.Malformed(sourceName, "JSON", utf8[..at].Count((byte)'\n') + 1, at - lineStart + 1, "not UTF-8");
        }
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            AllowMultipleValues = true,
            AllowTrailingCommas = true,
            CommentHandling = JsonCommentHandling.Skip,
            MaxDepth = 256,
        });
        var roots = new List<YamlNode>();
        try
        {
            while (reader.Read())
            {
                roots.Add(ReadValue(ref reader, utf8, sourceName));
            }
        }
        catch (JsonException e)
        {
            // The message is a resource key in the static build (UseSystemResourceKeys): position only.
            throw ManifestReadException.Malformed(sourceName, "JSON", (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, null);
        }
        return roots;
    }

    private static YamlNode ReadValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, string sourceName)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var mapping = new YamlMappingNode();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var key = new YamlScalarNode(reader.GetString()) { Style = ScalarStyle.DoubleQuoted };
                    // The mapping's own index finds a duplicate (scalar keys are equal by their text):
                    // no set of names beside it for every object of every pod the webhook reads.
                    if (mapping.Children.ContainsKey(key))
                    {
                        (int line, int column) = Position(utf8, reader.TokenStartIndex);
                        throw ManifestReadException.Malformed(sourceName, "JSON", line, column, $"duplicate key \"{key.Value}\"");
                    }
                    reader.Read();
                    mapping.Add(key, ReadValue(ref reader, utf8, sourceName));
                }
                return mapping;
            case JsonTokenType.StartArray:
                var sequence = new YamlSequenceNode();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    sequence.Add(ReadValue(ref reader, utf8, sourceName));
                }
                return sequence;
            case JsonTokenType.String:
                return new YamlScalarNode(reader.GetString()) { Style = ScalarStyle.DoubleQuoted };
            case JsonTokenType.Number:
                return new YamlScalarNode(Encoding.UTF8.GetString(reader.ValueSpan)) { Style = ScalarStyle.Plain };
            case JsonTokenType.True:
                return new YamlScalarNode("true") { Style = ScalarStyle.Plain };
            case JsonTokenType.False:
                return new YamlScalarNode("false") { Style = ScalarStyle.Plain };
            default:
                return new YamlScalarNode("null") { Style = ScalarStyle.Plain };
        }
    }

    private static (int Line, int Column) Position(ReadOnlySpan<byte> utf8, long offset)
    {
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < offset; i++)
        {
            if (utf8[i] == (byte)'\n')
            {
                line++;
                lineStart = i + 1;
            }
        }
        return (line, Encoding.UTF8.GetCharCount(utf8[lineStart..(int)offset]) + 1);
    }

    /// <summary>Each document indented by two spaces and followed by a newline.</summary>
    public static string Write(IReadOnlyList<YamlNode> roots)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var options = new JsonWriterOptions
        {
            Indented = true,
            IndentSize = 2,
            // Manifests are not HTML: keep '<', '&', '+' and non-ASCII text as they are.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            MaxDepth = 256,
        };
        foreach (YamlNode root in roots)
        {
            using (var writer = new Utf8JsonWriter(buffer, options))
            {
                WriteNode(writer, root);
            }
            buffer.Write("\n"u8);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>One node as a JSON value (the webhook writes a JSON Patch's values with it).</summary>
    internal static void WriteNode(Utf8JsonWriter writer, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
                {
                    writer.WritePropertyName(entry.Key is YamlScalarNode key ? key.Value ?? "" : throw new InvalidOperationException("a mapping key that is not a string cannot be written as JSON"));
                    WriteNode(writer, entry.Value);
                }
                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (YamlNode child in sequence.Children)
                {
                    WriteNode(writer, child);
                }
                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                WriteScalar(writer, scalar);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, YamlScalarNode scalar)
    {
        string value = scalar.Value ?? "";
        switch (KindOf(scalar))
        {
            case JsonValueKind.Null:
                writer.WriteNullValue();
                break;
            case JsonValueKind.True or JsonValueKind.False:
                writer.WriteBooleanValue(value == "true");
                break;
            case JsonValueKind.Number:
                // Exactly as written (1.5e3 stays 1.5e3). WriteRawValue would skip the indentation;
                // a JsonElement writes its number's text through the writer's formatting.
                using (JsonDocument number = JsonDocument.Parse(value))
                {
                    number.RootElement.WriteTo(writer);
                }
                break;
            default:
                writer.WriteStringValue(value);
                break;
        }
    }

    /// <summary>
    /// What a scalar is written as: a plain one that is a JSON literal (null, true, false, a number)
    /// stays that literal, everything else is a string. The webhook compares the pod it was sent
    /// with the rewritten nodes by the same rule.
    /// </summary>
    internal static JsonValueKind KindOf(YamlScalarNode scalar)
    {
        if (scalar.Style is ScalarStyle.Plain or ScalarStyle.Any)
        {
            if (YamlNodes.IsNull(scalar))
            {
                return JsonValueKind.Null;
            }
            switch (scalar.Value)
            {
                case "true":
                    return JsonValueKind.True;
                case "false":
                    return JsonValueKind.False;
                case { } text when IsJsonNumber(text):
                    return JsonValueKind.Number;
            }
        }
        return JsonValueKind.String;
    }

    // RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    internal static bool IsJsonNumber(string text)
    {
        int i = 0;
        if (i < text.Length && text[i] == '-')
        {
            i++;
        }
        if (i >= text.Length || !char.IsAsciiDigit(text[i]))
        {
            return false;
        }
        if (text[i] == '0')
        {
            i++;
        }
        else
        {
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
        }
        if (i < text.Length && text[i] == '.')
        {
            int start = ++i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
            if (i == start)
            {
                return false;
            }
        }
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            i++;
            if (i < text.Length && text[i] is '+' or '-')
            {
                i++;
            }
            int start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
            if (i == start)
            {
                return false;
            }
        }
        return i == text.Length;
    }
}
