namespace Emissary.Foundation;

/// <summary>
/// Times as Kubernetes and Tekton print and parse them: RFC 3339 in UTC with exactly three
/// fraction digits and a 'Z' (Tekton's layout "2006-01-02T15:04:05.000Z07:00").
/// Written and read by hand: DateTime's format strings and DateTimeOffset.TryParse bring the
/// culture-aware parser and the time-zone database reader into the binary (about 100 KB of the
/// static executable) for one fixed layout.
/// </summary>
internal static class Rfc3339
{
    public static string Format(DateTimeOffset time)
    {
        DateTime t = time.UtcDateTime;
        // Into a stack buffer, not string.Create: its SpanAction<char, DateTime> makes the
        // compiler keep a boxed DateTime's formatting, and with it the time-zone code (28 KB).
        Span<char> span = stackalloc char[24];
        Digits(span[..4], t.Year);
        span[4] = '-';
        Digits(span.Slice(5, 2), t.Month);
        span[7] = '-';
        Digits(span.Slice(8, 2), t.Day);
        span[10] = 'T';
        Digits(span.Slice(11, 2), t.Hour);
        span[13] = ':';
        Digits(span.Slice(14, 2), t.Minute);
        span[16] = ':';
        Digits(span.Slice(17, 2), t.Second);
        span[19] = '.';
        Digits(span.Slice(20, 3), t.Millisecond);
        span[23] = 'Z';
        return new string(span);
    }

    /// <summary>
    /// Parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), 't'/'z' and ' ' for 'T' accepted
    /// (RFC 3339 section 5.6); the result is in UTC.
    /// </summary>
    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        time = default;
        if (text is null || text.Length < 20)
        {
            return false;
        }
        ReadOnlySpan<char> s = text;
        if (!Number(s[..4], out int year) || s[4] != '-' || !Number(s.Slice(5, 2), out int month) || s[7] != '-' ||
            !Number(s.Slice(8, 2), out int day) || s[10] is not ('T' or 't' or ' ') ||
            !Number(s.Slice(11, 2), out int hour) || s[13] != ':' || !Number(s.Slice(14, 2), out int minute) ||
            s[16] != ':' || !Number(s.Slice(17, 2), out int second))
        {
            return false;
        }
        int i = 19;
        long ticks = 0;
        if (s[i] == '.')
        {
            int start = ++i;
            long scale = TimeSpan.TicksPerSecond;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                scale /= 10;
                ticks += (s[i] - '0') * scale;
                i++;
            }
            if (i == start)
            {
                return false;
            }
        }
        if (i >= s.Length)
        {
            return false;
        }
        TimeSpan offset;
        if (s[i] is 'Z' or 'z' && i + 1 == s.Length)
        {
            offset = TimeSpan.Zero;
        }
        else if (s[i] is '+' or '-' && i + 6 == s.Length && Number(s.Slice(i + 1, 2), out int oh) && s[i + 3] == ':' &&
                 Number(s.Slice(i + 4, 2), out int om) && oh < 24 && om < 60)
        {
            offset = new TimeSpan(oh, om, 0);
            if (s[i] == '-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) ||
            hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }
        try
        {
            // From ticks, not from a DateTime: DateTimeOffset(DateTime, TimeSpan) checks a Local
            // kind against the machine's zone, which links TimeZoneInfo in (28 KB) for nothing.
            long local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).Ticks + ticks;
            time = new DateTimeOffset(local - offset.Ticks, TimeSpan.Zero);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false; // beyond year 9999 or before year 1 once the offset is applied
        }
    }

    private static void Digits(Span<char> into, int value)
    {
        for (int i = into.Length - 1; i >= 0; i--)
        {
            into[i] = (char)('0' + value % 10);
            value /= 10;
        }
    }

    private static bool Number(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        foreach (char c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            value = value * 10 + (c - '0');
        }
        return true;
    }
}
