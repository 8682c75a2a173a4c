using System.Text;
using Emissary.Json;

namespace Emissary.Results;

/// <summary>The results an emissary termination message carries.</summary>
/// <param name="Results">In the message's order (sorted by name when emissary wrote it); a
/// <c>{"base64":"…"}</c> value decoded to its bytes.</param>
/// <param name="Omitted">How many results the message left out because they did not fit even
/// compressed ("resultsOmitted"): they are in the step's results directory, not here.</param>
internal sealed record MessageResults(IReadOnlyList<Result> Results, int Omitted);

/// <summary>
/// Reads an emissary-format termination message back, plain or compressed (see
/// <see cref="TerminationMessage"/>), for whoever shows results: <c>emissary status</c>,
/// <c>emissary local</c>, the tests. The message is written by a step's own container, so it is
/// judged, not trusted: a compressed one is inflated within <see cref="TerminationMessage.MaxInflated"/>,
/// and anything that is not the shape emissary writes reads as "no message".
/// </summary>
internal static class TerminationMessageReader
{
    /// <summary>The results in <paramref name="message"/>, or null when it is not an emissary message.</summary>
    public static MessageResults? Read(ReadOnlySpan<byte> message)
    {
        if (TerminationMessage.Decode(message) is not { } json)
        {
            return null;
        }
        try
        {
            JsonValue root = JsonValue.Parse(json);
            if (root.Kind != JsonKind.Object)
            {
                return null;
            }
            var results = new List<Result>();
            if (root.TryGetProperty("results", out JsonValue members))
            {
                if (members.Kind != JsonKind.Object)
                {
                    return null;
                }
                foreach (JsonProperty member in members.Properties)
                {
                    if (ValueOf(member.Value) is not { } value)
                    {
                        return null;
                    }
                    results.Add(new Result(member.Name, value));
                }
            }
            int omitted = root.TryGetProperty(TerminationMessage.OmittedProperty, out JsonValue count) && count.TryGetInt32(out int n) && n > 0 ? n : 0;
            return new MessageResults(results, omitted);
        }
        catch (Exception e) when (e is JsonFormatException or FormatException)
        {
            return null;
        }
    }

    /// <summary>A string's UTF-8 bytes, or the bytes of <c>{"base64":"…"}</c>; null for anything else.</summary>
    private static byte[]? ValueOf(JsonValue value)
    {
        if (value.Kind == JsonKind.String)
        {
            return Encoding.UTF8.GetBytes(value.GetString()!);
        }
        if (value.Kind == JsonKind.Object && value.Properties.Count == 1 && value.TryGetProperty("base64", out JsonValue text) && text.Kind == JsonKind.String)
        {
            return Convert.FromBase64String(text.GetString()!);
        }
        return null;
    }
}
