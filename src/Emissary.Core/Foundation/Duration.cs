using System.Globalization;

namespace Emissary.Foundation;

/// <summary>
/// Durations as Kubernetes users write them (Go's time.ParseDuration): "500ms", "10s", "1m30s",
/// "2h". A bare number means seconds. Negative values are rejected.
/// </summary>
internal static class Duration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double bare))
        {
            if (bare < 0 || double.IsNaN(bare) || double.IsInfinity(bare) || bare > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }
            value = TimeSpan.FromSeconds(bare);
            return true;
        }

        double totalMs = 0;
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            if (i == start || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
            {
                return false;
            }
            int unitStart = i;
            // µ (micro sign) and μ (Greek mu) are letters but not ASCII ones: Go accepts both in "5µs".
            while (i < text.Length && (char.IsAsciiLetter(text[i]) || text[i] is '\u00b5' or '\u03bc'))
            {
                i++;
            }
            double? unitMs = text[unitStart..i] switch
            {
                "ns" => 1e-6,
                "us" or "\u00b5s" or "\u03bcs" => 1e-3,
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => null,
            };
            if (unitMs is null)
            {
                return false;
            }
            totalMs += number * unitMs.Value;
        }
        if (totalMs > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }
        value = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    public static string Format(TimeSpan value) =>
        value.TotalSeconds < 1 ? $"{value.TotalMilliseconds:0.###}ms" : $"{value.TotalSeconds:0.###}s";
}
