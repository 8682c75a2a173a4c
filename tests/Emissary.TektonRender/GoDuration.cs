using System.Globalization;
using System.Text.RegularExpressions;

namespace Emissary.TektonRender;

/// <summary>A step's <c>timeout</c> as the controller passes it: metav1.Duration parsed by Go's time.ParseDuration, written back by Duration.String ("1m" becomes "1m0s").</summary>
internal static partial class GoDuration
{
    [GeneratedRegex(@"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex Unit();

    public static string Normalize(string text)
    {
        double ns = 0;
        int at = 0;
        foreach (Match m in Unit().Matches(text))
        {
            if (m.Index != at) break;
            double n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ns += n * m.Groups[2].Value switch { "ns" => 1, "us" or "µs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, _ => 3600e9 };
            at = m.Index + m.Length;
        }
        if (at != text.Length || at == 0) throw new RenderError($"timeout {text}: not a Go duration");
        long total = (long)Math.Round(ns);
        if (total == 0) return "0s";
        if (total < 1_000_000_000)
        {
            return total % 1_000_000 == 0 ? $"{total / 1_000_000}ms" : $"{(total / 1e6).ToString(CultureInfo.InvariantCulture)}ms";
        }
        long h = total / 3_600_000_000_000, m2 = total / 60_000_000_000 % 60;
        double s = total % 60_000_000_000 / 1e9;
        string sec = s.ToString("0.#########", CultureInfo.InvariantCulture) + "s";
        return h > 0 ? $"{h}h{m2}m{sec}" : m2 > 0 ? $"{m2}m{sec}" : sec;
    }
}
