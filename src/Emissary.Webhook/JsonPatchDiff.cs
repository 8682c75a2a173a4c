using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;

namespace Emissary.Webhook;

/// <summary>
/// The RFC 6902 JSON Patch that turns the pod the API server sent (a <see cref="JsonElement"/> of
/// the review) into the pod as rewritten (the nodes <see cref="ManifestRewriter"/> edited, read as
/// <see cref="JsonManifests"/> writes them): what the API server applies. Objects are compared
/// member by member (add, remove, or recurse); arrays of the same length element by element,
/// other arrays replaced whole (a rewritten container list changes length and order, and a
/// positional diff of it would be longer and harder to read than the list). Applying the patch to
/// <c>from</c> gives a document equal to <c>to</c> written as JSON (JSON equality: member order is
/// not significant, as for the API server; numbers are equal by value, as JsonElement.DeepEquals
/// has them). Comparing the nodes with the element directly spares writing the rewritten pod out
/// and parsing both sides again for every review.
/// </summary>
internal static class JsonPatchDiff
{
    /// <summary>
    /// The operations, written as a JSON array; "[]" when the documents are equal; null as soon as
    /// they pass <paramref name="maxBytes"/> (the answer would be refused anyway: no point writing
    /// the rest). <paramref name="cancellation"/> is checked at every value compared.
    /// </summary>
    public static byte[]? Diff(JsonElement from, YamlNode to, int maxBytes = int.MaxValue, CancellationToken cancellation = default)
    {
        Utf8JsonWriter writer = ScratchJson.Start();
        writer.WriteStartArray();
        try
        {
            Diff(new StringBuilder(128), from, to, new PatchWriter(writer, maxBytes, cancellation));
        }
        catch (PatchTooLargeException)
        {
            return null;
        }
        writer.WriteEndArray();
        return ScratchJson.Written(writer).ToArray();
    }

    /// <summary>The operations' writer, with what stops it: a size and a cancellation.</summary>
    private sealed class PatchWriter(Utf8JsonWriter ops, int maxBytes, CancellationToken cancellation)
    {
        public CancellationToken Cancellation => cancellation;

        /// <summary>A remove when <paramref name="value"/> is null; else an add or replace with that value.</summary>
        public void Operation(string op, StringBuilder path, YamlNode? value)
        {
            ops.WriteStartObject();
            ops.WriteString("op", op);
            ops.WriteString("path", path.ToString());
            if (value is not null)
            {
                ops.WritePropertyName("value");
                JsonManifests.WriteNode(ops, value);
            }
            ops.WriteEndObject();
            if (ops.BytesCommitted + ops.BytesPending > maxBytes)
            {
                throw new PatchTooLargeException();
            }
        }
    }

    private sealed class PatchTooLargeException : Exception;

    /// <summary><paramref name="path"/> is the JSON Pointer of both values; it is left as it was found.</summary>
    private static void Diff(StringBuilder path, JsonElement from, YamlNode to, PatchWriter ops)
    {
        ops.Cancellation.ThrowIfCancellationRequested();
        int length = path.Length;
        switch (from.ValueKind, to)
        {
            case (JsonValueKind.Object, YamlMappingNode b):
                int position = 0;
                foreach (JsonProperty member in from.EnumerateObject())
                {
                    if (!HasMember(b, member, position++))
                    {
                        AppendMember(path, member.Name);
                        ops.Operation("remove", path, value: null);
                        path.Length = length;
                    }
                }
                JsonElement.ObjectEnumerator alongside = from.EnumerateObject();
                for (int m = 0; m < b.Children.Count; m++)
                {
                    KeyValuePair<YamlNode, YamlNode> member = b.Children[m]; // by index: no boxed enumerator per object
                    string name = Name(member.Key);
                    AppendMember(path, name);
                    if (TryGetMember(from, ref alongside, name, out JsonElement old))
                    {
                        Diff(path, old, member.Value, ops);
                    }
                    else
                    {
                        ops.Operation("add", path, member.Value);
                    }
                    path.Length = length;
                }
                break;
            case (JsonValueKind.Array, YamlSequenceNode b) when from.GetArrayLength() == b.Children.Count:
                int i = 0;
                foreach (JsonElement item in from.EnumerateArray())
                {
                    path.Append('/').Append(i);
                    Diff(path, item, b.Children[i], ops);
                    path.Length = length;
                    i++;
                }
                break;
            default:
                if (!Equal(from, to))
                {
                    ops.Operation("replace", path, to);
                }
                break;
        }
    }

    /// <summary>Whether <paramref name="to"/>, written as JSON, is the same JSON value as <paramref name="from"/>.</summary>
    private static bool Equal(JsonElement from, YamlNode to)
    {
        switch (from.ValueKind, to)
        {
            case (JsonValueKind.Object, YamlMappingNode b):
                int members = 0;
                foreach (JsonProperty _ in from.EnumerateObject())
                {
                    members++;
                }
                if (members != b.Children.Count)
                {
                    return false;
                }
                // Neither side has a name twice (the reader refuses duplicates; a mapping cannot hold them),
                // so the same count and every name of one found equal in the other is equality.
                JsonElement.ObjectEnumerator alongside = from.EnumerateObject();
                for (int m = 0; m < b.Children.Count; m++)
                {
                    KeyValuePair<YamlNode, YamlNode> member = b.Children[m];
                    if (!TryGetMember(from, ref alongside, Name(member.Key), out JsonElement old) || !Equal(old, member.Value))
                    {
                        return false;
                    }
                }
                return true;
            case (JsonValueKind.Array, YamlSequenceNode b):
                if (from.GetArrayLength() != b.Children.Count)
                {
                    return false;
                }
                int i = 0;
                foreach (JsonElement item in from.EnumerateArray())
                {
                    if (!Equal(item, b.Children[i++]))
                    {
                        return false;
                    }
                }
                return true;
            case (_, YamlScalarNode scalar):
                return EqualScalar(from, scalar);
            case (_, YamlMappingNode or YamlSequenceNode):
                return false;
            default:
                return from.ValueKind == JsonValueKind.Null; // written as null (JsonManifests.WriteNode)
        }
    }

    private static bool EqualScalar(JsonElement from, YamlScalarNode scalar)
    {
        JsonValueKind kind = JsonManifests.KindOf(scalar);
        if (from.ValueKind != kind)
        {
            return false;
        }
        switch (kind)
        {
            case JsonValueKind.String:
                return from.ValueEquals(scalar.Value ?? "");
            case JsonValueKind.Number:
                string number = scalar.Value!;
                if (Ascii.Equals(JsonMarshal.GetRawUtf8Value(from), number))
                {
                    return true; // the usual case: the number as the API server sent it
                }
                using (JsonDocument written = JsonDocument.Parse(number))
                {
                    return JsonElement.DeepEquals(from, written.RootElement); // 1.0 and 1 are the same number
                }
            default:
                return true; // null, true, false
        }
    }

    /// <summary>Whether the mapping has the member at <paramref name="position"/> of the object, looked for at the same position first.</summary>
    private static bool HasMember(YamlMappingNode mapping, JsonProperty member, int position)
    {
        if (position < mapping.Children.Count && NameIs(member, Name(mapping.Children[position].Key)))
        {
            return true;
        }
        for (int m = 0; m < mapping.Children.Count; m++)
        {
            if (NameIs(member, Name(mapping.Children[m].Key)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The object's member called <paramref name="name"/>. The rewriter keeps the members it does
    /// not touch in their order, so the next member of <paramref name="alongside"/> (walked in step
    /// with the mapping) is tried before the whole object is searched.
    /// </summary>
    private static bool TryGetMember(JsonElement obj, ref JsonElement.ObjectEnumerator alongside, string name, out JsonElement value)
    {
        if (alongside.MoveNext() && NameIs(alongside.Current, name))
        {
            value = alongside.Current.Value;
            return true;
        }
        foreach (JsonProperty member in obj.EnumerateObject())
        {
            if (NameIs(member, name))
            {
                value = member.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>
    /// A member's name compared with a string: byte for char when the name as sent is plain ASCII
    /// (every Kubernetes field name, and nearly every label and annotation key), with no copy;
    /// JsonProperty.NameEquals (which transcodes) for a name with escapes or other characters.
    /// </summary>
    private static bool NameIs(JsonProperty member, string name)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8PropertyName(member);
        return raw.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) < 0 && !raw.Contains((byte)'\\')
            ? Ascii.Equals(raw, name)
            : member.NameEquals(name);
    }

    /// <summary>A member's name as <see cref="JsonManifests"/> writes it.</summary>
    private static string Name(YamlNode key) =>
        key is YamlScalarNode scalar ? scalar.Value ?? "" : throw new InvalidOperationException("a mapping key that is not a string cannot be written as JSON");

    /// <summary>A JSON Pointer (RFC 6901) one member deeper: '~' and '/' in the name escaped as ~0 and ~1 (annotation keys have '/').</summary>
    private static void AppendMember(StringBuilder path, string member)
    {
        path.Append('/');
        foreach (char c in member)
        {
            _ = c switch
            {
                '~' => path.Append("~0"),
                '/' => path.Append("~1"),
                _ => path.Append(c),
            };
        }
    }
}
