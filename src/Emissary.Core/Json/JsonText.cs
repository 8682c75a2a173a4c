namespace Emissary.Json;

/// <summary>One JSON document written with <see cref="JsonWriter"/> into a string.</summary>
internal static class JsonText
{
    /// <summary>
    /// Runs <paramref name="write"/> on a fresh writer and returns what it wrote. Status files,
    /// log lines and events are not HTML: '&lt;', '&amp;', '\'' and non-ASCII text stay as they
    /// are; only what JSON requires is escaped.
    /// </summary>
    public static string Write(Action<JsonWriter> write, bool indented = false)
    {
        var json = new JsonWriter(indented);
        write(json);
        return json.ToString();
    }

    /// <summary>As <see cref="Write"/>, as UTF-8 bytes with a newline after the document: a file's contents.</summary>
    public static byte[] WriteLine(Action<JsonWriter> write)
    {
        var json = new JsonWriter();
        write(json);
        return json.ToLine();
    }
}
