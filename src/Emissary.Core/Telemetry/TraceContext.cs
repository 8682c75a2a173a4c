using Emissary.Interop;

namespace Emissary.Telemetry;

/// <summary>
/// W3C Trace Context (https://www.w3.org/TR/trace-context/): <c>traceparent</c> is
/// <c>VERSION-TRACEID-PARENTID-FLAGS</c>, lower-case hex, 2-32-16-2 digits. The trace id and the
/// span id are kept as hex text, which is also how OTLP's JSON encoding writes them.
/// </summary>
internal sealed class TraceContext(string traceId, string spanId, bool sampled)
{
    public string TraceId { get; } = traceId;

    public string SpanId { get; } = spanId;

    public bool Sampled { get; } = sampled;

    /// <summary>The value of TRACEPARENT for a process whose parent span is this one.</summary>
    public string Format() => $"00-{TraceId}-{SpanId}-{(Sampled ? "01" : "00")}";

    /// <summary>
    /// Parses a traceparent; null when it is not one (then a new trace is started, as the
    /// specification asks). Version 00 must be exactly 55 characters; a later version may carry
    /// more fields after a dash; version ff, all-zero ids and upper-case hex are invalid.
    /// </summary>
    public static TraceContext? Parse(string? value)
    {
        if (value is null)
        {
            return null;
        }
        string v = value.Trim();
        if (v.Length < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || !IsHex(v.AsSpan(0, 2)) || v.StartsWith("ff", StringComparison.Ordinal))
        {
            return null;
        }
        if (v.StartsWith("00", StringComparison.Ordinal) ? v.Length != 55 : v.Length > 55 && v[55] != '-')
        {
            return null;
        }
        string traceId = v.Substring(3, 32);
        string spanId = v.Substring(36, 16);
        ReadOnlySpan<char> flags = v.AsSpan(53, 2);
        if (!IsHex(traceId) || !IsHex(spanId) || !IsHex(flags) || IsZero(traceId) || IsZero(spanId))
        {
            return null;
        }
        return new TraceContext(traceId, spanId, (Convert.ToByte(flags.ToString(), 16) & 1) == 1);
    }

    /// <summary>16 random bytes as 32 hex digits (never all zero).</summary>
    public static string NewTraceId() => RandomHex(16);

    /// <summary>8 random bytes as 16 hex digits (never all zero).</summary>
    public static string NewSpanId() => RandomHex(8);

    private static unsafe string RandomHex(int bytes)
    {
        Span<byte> buffer = stackalloc byte[16];
        buffer = buffer[..bytes];
        do
        {
            fixed (byte* p = buffer)
            {
                if (Libc.GetRandom(p, (nuint)bytes, Libc.GRND_NONBLOCK) != bytes)
                {
                    Random.Shared.NextBytes(buffer); // no getrandom, or the pool is not ready yet
                }
            }
        }
        while (buffer.IndexOfAnyExcept((byte)0) < 0);
        return Convert.ToHexStringLower(buffer);
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsZero(string s) => s.AsSpan().IndexOfAnyExcept('0') < 0;
}
