using System.Globalization;
using Emissary.Json;

namespace Emissary.Telemetry;

/// <summary>
/// A span or resource attribute: a string or a 64-bit integer (all emissary needs). A class, not
/// a struct in a KeyValuePair: generic code over reference types is shared in the NativeAOT
/// binary, over a new struct it is compiled again (docs/telemetry.md: size).
/// </summary>
internal sealed class SpanAttribute(string key, string? text, long number)
{
    public string Key { get; } = key;

    public string? Text { get; } = text;

    public long Number { get; } = number;

    public static SpanAttribute Of(string key, string text) => new(key, text, 0);

    public static SpanAttribute Of(string key, long number) => new(key, null, number);
}

/// <summary>OTLP's span status codes.</summary>
internal enum SpanStatusCode
{
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// <summary>One finished span, as exported.</summary>
internal sealed class SpanRecord
{
    public required string TraceId { get; init; }

    public required string SpanId { get; init; }

    public string? ParentSpanId { get; init; }

    public required string Name { get; init; }

    public required DateTimeOffset Start { get; init; }

    public required DateTimeOffset End { get; init; }

    public IReadOnlyList<SpanAttribute> Attributes { get; init; } = [];

    public SpanStatusCode Status { get; init; }

    public string? StatusMessage { get; init; }
}

/// <summary>
/// An OTLP ExportTraceServiceRequest in OTLP/HTTP's JSON encoding (the protobuf JSON mapping with
/// OTLP's exceptions): trace and span ids as hex strings, enums as integers, 64-bit integers
/// (times in Unix nanoseconds, intValue) as decimal strings, attributes as
/// <c>{"key":…,"value":{"stringValue"|"intValue":…}}</c>. One resource, one scope ("emissary").
/// </summary>
internal static class OtlpJson
{
    /// <summary>OTLP's SPAN_KIND_INTERNAL: the step is work inside the workflow, neither a server nor a client call.</summary>
    private const int SpanKindInternal = 1;

    public static string Request(IReadOnlyList<SpanAttribute> resource, IReadOnlyList<SpanRecord> spans) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        json.WriteStartArray("resourceSpans");
        json.WriteStartObject();
        json.WriteStartObject("resource");
        Attributes(json, resource);
        json.WriteEndObject();
        json.WriteStartArray("scopeSpans");
        json.WriteStartObject();
        json.WriteStartObject("scope");
        json.WriteString("name", "emissary");
        json.WriteEndObject();
        json.WriteStartArray("spans");
        foreach (SpanRecord span in spans)
        {
            json.WriteStartObject();
            json.WriteString("traceId", span.TraceId);
            json.WriteString("spanId", span.SpanId);
            if (span.ParentSpanId is not null)
            {
                json.WriteString("parentSpanId", span.ParentSpanId);
            }
            json.WriteString("name", span.Name);
            json.WriteNumber("kind", SpanKindInternal);
            json.WriteString("startTimeUnixNano", UnixNanos(span.Start));
            json.WriteString("endTimeUnixNano", UnixNanos(span.End));
            Attributes(json, span.Attributes);
            json.WriteStartObject("status");
            if (span.Status != SpanStatusCode.Unset)
            {
                json.WriteNumber("code", (int)span.Status);
            }
            if (span.StatusMessage is not null)
            {
                json.WriteString("message", span.StatusMessage);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    });

    private static void Attributes(JsonWriter json, IReadOnlyList<SpanAttribute> attributes)
    {
        json.WriteStartArray("attributes");
        foreach (SpanAttribute attribute in attributes)
        {
            json.WriteStartObject();
            json.WriteString("key", attribute.Key);
            json.WriteStartObject("value");
            if (attribute.Text is { } text)
            {
                json.WriteString("stringValue", text);
            }
            else
            {
                json.WriteString("intValue", attribute.Number.ToString(CultureInfo.InvariantCulture));
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    internal static string UnixNanos(DateTimeOffset t) =>
        ((t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).ToString(CultureInfo.InvariantCulture);
}
