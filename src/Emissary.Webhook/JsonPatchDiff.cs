using System.Text.Json;
using System.Text.Json.Nodes;

namespace Emissary.Webhook;

/// <summary>
/// The RFC 6902 JSON Patch that turns one JSON document into another: what the API server applies
/// to the pod it asked about. Objects are compared member by member (add, remove, or recurse);
/// arrays of the same length element by element, other arrays replaced whole (a rewritten
/// container list changes length and order, and a positional diff of it would be longer and
/// harder to read than the list). Applying the patch to <c>from</c> gives a document equal to
/// <c>to</c> (JSON equality: member order is not significant, as for the API server).
/// </summary>
internal static class JsonPatchDiff
{
    /// <summary>The operations, written as a JSON array; "[]" when the documents are equal.</summary>
    public static byte[] Diff(JsonNode? from, JsonNode? to)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            Diff("", from, to, writer);
            writer.WriteEndArray();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Diff(string path, JsonNode? from, JsonNode? to, Utf8JsonWriter ops)
    {
        if (JsonNode.DeepEquals(from, to))
        {
            return;
        }
        switch (from, to)
        {
            case (JsonObject a, JsonObject b):
                foreach (KeyValuePair<string, JsonNode?> member in a)
                {
                    if (!b.ContainsKey(member.Key))
                    {
                        Operation(ops, "remove", Pointer(path, member.Key), value: null, hasValue: false);
                    }
                }
                foreach (KeyValuePair<string, JsonNode?> member in b)
                {
                    if (a.TryGetPropertyValue(member.Key, out JsonNode? old))
                    {
                        Diff(Pointer(path, member.Key), old, member.Value, ops);
                    }
                    else
                    {
                        Operation(ops, "add", Pointer(path, member.Key), member.Value, hasValue: true);
                    }
                }
                break;
            case (JsonArray a, JsonArray b) when a.Count == b.Count:
                for (int i = 0; i < a.Count; i++)
                {
                    Diff(path + "/" + i, a[i], b[i], ops);
                }
                break;
            default:
                Operation(ops, "replace", path, to, hasValue: true);
                break;
        }
    }

    /// <summary>A JSON Pointer (RFC 6901) one member deeper: '~' and '/' in the name escaped as ~0 and ~1 (annotation keys have '/').</summary>
    public static string Pointer(string parent, string member) =>
        parent + "/" + member.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static void Operation(Utf8JsonWriter ops, string op, string path, JsonNode? value, bool hasValue)
    {
        ops.WriteStartObject();
        ops.WriteString("op", op);
        ops.WriteString("path", path);
        if (hasValue)
        {
            ops.WritePropertyName("value");
            if (value is null)
            {
                ops.WriteNullValue();
            }
            else
            {
                value.WriteTo(ops);
            }
        }
        ops.WriteEndObject();
    }
}
