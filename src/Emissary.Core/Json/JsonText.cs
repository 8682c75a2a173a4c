using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Emissary.Json;

/// <summary>One JSON document written with <see cref="Utf8JsonWriter"/> into a string.</summary>
internal static class JsonText
{
    /// <summary>
    /// Runs <paramref name="write"/> on a fresh writer and returns what it wrote. Status files,
    /// log lines and events are not HTML: '&lt;', '&amp;', '\'' and non-ASCII text stay as they are.
    /// </summary>
    public static string Write(Action<Utf8JsonWriter> write, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(json);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
