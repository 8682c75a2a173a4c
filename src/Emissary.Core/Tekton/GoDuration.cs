namespace Emissary.Tekton;

/// <summary>
/// Go's <c>time.ParseDuration</c>, which <c>-timeout</c> is parsed with (the controller writes
/// <c>Duration.String()</c>: "1h0m0s", "1.5s", "300ms", "0s"). Differences from
/// <see cref="Foundation.Duration"/> that matter here: a sign is allowed (Tekton rejects a negative
/// timeout only when the step runs, with its own message), every number needs a unit except a
/// lone "0", and the value must fit an int64 count of nanoseconds.
/// </summary>
internal static class GoDuration
{
    private const decimal MaxNanoseconds = long.MaxValue;

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        int i = 0;
        bool negative = false;
        if (text.Length > 0 && text[0] is '-' or '+')
        {
            negative = text[0] == '-';
            i = 1;
        }
        if (text.Length - i == 1 && text[i] == '0')
        {
            return true;
        }
        if (i == text.Length)
        {
            return false;
        }
        decimal total = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
            bool intDigits = i > start;
            decimal number = intDigits ? ParseDigits(text.AsSpan(start, i - start)) : 0;
            bool fracDigits = false;
            if (i < text.Length && text[i] == '.')
            {
                i++;
                decimal scale = 0.1m;
                while (i < text.Length && char.IsAsciiDigit(text[i]))
                {
                    // Digits past nanosecond precision cannot change the result: Go drops them too.
                    if (scale >= 0.000000000000000001m)
                    {
                        number += (text[i] - '0') * scale;
                        scale /= 10;
                    }
                    fracDigits = true;
                    i++;
                }
            }
            if (!intDigits && !fracDigits)
            {
                return false;
            }
            int unitStart = i;
            while (i < text.Length && text[i] != '.' && !char.IsAsciiDigit(text[i]))
            {
                i++;
            }
            decimal? unit = text[unitStart..i] switch
            {
                "ns" => 1m,
                "us" or "\u00b5s" or "\u03bcs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => null,
            };
            // Go's own check (v > 1<<63/unit on the integer part), before the product: a number
            // within int64 times a unit can be past what a decimal holds (5.6e18 m, 3.3e29 ns).
            if (unit is null || decimal.Truncate(number) > (MaxNanoseconds + 1) / unit.Value)
            {
                return false;
            }
            total += decimal.Truncate(number * unit.Value);
            if (total > MaxNanoseconds + (negative ? 1 : 0))
            {
                return false;
            }
        }
        long nanoseconds = negative ? (long)-total : (long)total;
        value = TimeSpan.FromTicks(nanoseconds / 100);
        return true;
    }

    private static decimal ParseDigits(ReadOnlySpan<char> digits)
    {
        decimal n = 0;
        foreach (char c in digits)
        {
            n = n * 10 + (c - '0');
            if (n > MaxNanoseconds + 1)
            {
                return n; // past 1<<63 is past any unit's range (rejected by the caller), and more digits would only overflow the decimal
            }
        }
        return n;
    }
}
