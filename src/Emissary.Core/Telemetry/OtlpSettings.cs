using Emissary.Foundation.Sequences;
using System.Globalization;

namespace Emissary.Telemetry;

/// <summary>
/// Where and how spans are exported, from OpenTelemetry's standard environment variables (the
/// OTLP exporter specification): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
/// OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces"), OTEL_EXPORTER_OTLP_[TRACES_]HEADERS,
/// OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT (milliseconds), OTEL_SERVICE_NAME,
/// OTEL_RESOURCE_ATTRIBUTES; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
/// </summary>
/// <summary>One key=value of OTEL_EXPORTER_OTLP_HEADERS or OTEL_RESOURCE_ATTRIBUTES.</summary>
internal sealed class Setting(string key, string value)
{
    public string Key { get; } = key;

    public string Value { get; } = value;
}

internal sealed class OtlpSettings
{
    /// <summary>Export never holds the container for longer than this after the step has ended, whatever the timeout variable says.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(2);

    public required string Endpoint { get; init; }

    public IReadOnlyList<Setting> Headers { get; init; } = [];

    public TimeSpan Timeout { get; init; } = MaxTimeout;

    public string ServiceName { get; init; } = "emissary";

    public IReadOnlyList<Setting> ResourceAttributes { get; init; } = [];

    /// <summary>Problems with the variables, one line each (warned once, never fatal).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The settings, or null when nothing is to be exported (no endpoint, or turned off).</summary>
    public static OtlpSettings? FromEnvironment(Func<string, string?> env)
    {
        string? Get(string name) => env(name) is { Length: > 0 } v ? v.Trim() : null;

        if (string.Equals(Get("OTEL_SDK_DISABLED"), "true", StringComparison.OrdinalIgnoreCase) ||
            string.Equals(Get("OTEL_TRACES_EXPORTER"), "none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        string? endpoint = Get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        if (endpoint is null && Get("OTEL_EXPORTER_OTLP_ENDPOINT") is { } all)
        {
            endpoint = all.TrimEnd('/') + "/v1/traces";
        }
        if (endpoint is null)
        {
            return null;
        }
        var notes = new List<string>();
        string? protocol = Get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? Get("OTEL_EXPORTER_OTLP_PROTOCOL");
        if (protocol is not null && protocol != "http/json" && protocol != "http/protobuf")
        {
            notes.Add($"OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported: spans are sent as OTLP/HTTP with JSON");
        }
        if (Get("OTEL_TRACES_EXPORTER") is { } exporter && !exporter.Split(',').Any(e => e.Trim() == "otlp"))
        {
            notes.Add($"OTEL_TRACES_EXPORTER={exporter} is not supported: only otlp (or none)");
        }
        TimeSpan timeout = MaxTimeout;
        if ((Get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ?? Get("OTEL_EXPORTER_OTLP_TIMEOUT")) is { } t)
        {
            if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) && ms > 0)
            {
                timeout = TimeSpan.FromMilliseconds(Math.Min(ms, (long)MaxTimeout.TotalMilliseconds));
            }
            else
            {
                notes.Add($"OTEL_EXPORTER_OTLP_TIMEOUT '{t}' is not a positive number of milliseconds: using {(long)MaxTimeout.TotalMilliseconds}");
            }
        }
        var headers = new List<Setting>();
        headers.AddRange(ParseList(Get("OTEL_EXPORTER_OTLP_HEADERS"), "OTEL_EXPORTER_OTLP_HEADERS", notes));
        foreach (Setting h in ParseList(Get("OTEL_EXPORTER_OTLP_TRACES_HEADERS"), "OTEL_EXPORTER_OTLP_TRACES_HEADERS", notes))
        {
            headers.RemoveAll(x => string.Equals(x.Key, h.Key, StringComparison.OrdinalIgnoreCase));
            headers.Add(h);
        }
        headers.RemoveAll(h => h.Key.AsSpan().IndexOfAny("\r\n: ") >= 0 || h.Value.AsSpan().IndexOfAny('\r', '\n') >= 0);
        List<Setting> resource = ParseList(Get("OTEL_RESOURCE_ATTRIBUTES"), "OTEL_RESOURCE_ATTRIBUTES", notes);
        string service = Get("OTEL_SERVICE_NAME") ?? resource.FindLast(a => a.Key == "service.name")?.Value ?? "emissary";
        return new OtlpSettings
        {
            Endpoint = endpoint,
            Headers = headers,
            Timeout = timeout,
            ServiceName = service,
            ResourceAttributes = resource.FindAll(a => a.Key != "service.name"),
            Notes = notes,
        };
    }

    /// <summary>The W3C Baggage-like list both variables use: <c>key=value,key2=value2</c>, values percent-encoded.</summary>
    internal static List<Setting> ParseList(string? text, string variable, List<string> notes)
    {
        var list = new List<Setting>();
        if (text is null)
        {
            return list;
        }
        foreach (string item in text.Split(','))
        {
            if (item.Trim().Length == 0)
            {
                continue;
            }
            int eq = item.IndexOf('=');
            string key = eq > 0 ? item[..eq].Trim() : "";
            if (key.Length == 0)
            {
                notes.Add($"{variable}: '{item.Trim()}' is not key=value: ignored");
                continue;
            }
            list.Add(new Setting(key, PercentDecode(item[(eq + 1)..].Trim())));
        }
        return list;
    }

    /// <summary>%XX sequences as UTF-8 bytes; anything malformed is kept as written (System.Uri is not worth its size here).</summary>
    internal static string PercentDecode(string s)
    {
        if (!s.Contains('%'))
        {
            return s;
        }
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetMaxByteCount(s.Length)];
        int length = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && char.IsAsciiHexDigit(s[i + 1]) && char.IsAsciiHexDigit(s[i + 2]))
            {
                bytes[length++] = (byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2]));
                i += 2;
            }
            else
            {
                length += System.Text.Encoding.UTF8.GetBytes(s.AsSpan(i, char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1), bytes.AsSpan(length));
                i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 1 : 0;
            }
        }
        return System.Text.Encoding.UTF8.GetString(bytes, 0, length);
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>The headers as HTTP header lines ("Name: value").</summary>
    public IReadOnlyList<string> HeaderLines()
    {
        var lines = new string[Headers.Count];
        for (int i = 0; i < lines.Length; i++)
        {
            lines[i] = Headers[i].Key + ": " + Headers[i].Value;
        }
        return lines;
    }
}
