using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Emissary.TektonRender;

/// <summary>
/// A step's termination message read back as the controller reads it (pkg/termination/parse.go):
/// plain JSON, or <c>tknz:</c> + unpadded base64 of a raw DEFLATE stream; the last entry per key
/// wins. Printed one entry a line, <c>KEY TAB TYPE TAB VALUE</c> (newlines in the value as \n), so
/// the e2e script can grep it.
/// </summary>
internal static class TerminationMessages
{
    public static IEnumerable<string> Lines(string text)
    {
        if (text.Length == 0) yield break;
        if (text.StartsWith("tknz:", StringComparison.Ordinal))
        {
            string b64 = text[5..].Trim();
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(b64)), CompressionMode.Decompress);
            using var plain = new StreamReader(inflate, Encoding.UTF8);
            text = plain.ReadToEnd();
        }
        var last = new Dictionary<string, (int Type, string Value)>();
        var order = new List<string>();
        using JsonDocument doc = JsonDocument.Parse(text);
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            string key = e.GetProperty("key").GetString()!;
            if (!last.ContainsKey(key)) order.Add(key);
            last[key] = (e.TryGetProperty("type", out var t) ? t.GetInt32() : 0, e.GetProperty("value").GetString()!);
        }
        foreach (string key in order)
        {
            yield return $"{key}\t{last[key].Type}\t{last[key].Value.Replace("\n", "\\n")}";
        }
    }
}
