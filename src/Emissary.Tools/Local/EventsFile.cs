using System.Text;
using System.Text.Json;
using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>`--events FILE`: one JSON object per line for each state change of a step.</summary>
internal sealed class EventsFile(string path) : IDisposable
{
    private readonly StreamWriter _writer = new(path, append: false, new UTF8Encoding(false)) { AutoFlush = true };

    public void Write(StepEvent e)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", StepStatus.FormatTime(e.Time));
            json.WriteString("step", e.Step);
            json.WriteString("state", e.State);
            if (e.ExitCode is { } code) json.WriteNumber("exitCode", code);
            if (e.Reason is not null) json.WriteString("reason", e.Reason);
            if (e.Message is not null) json.WriteString("message", e.Message);
            json.WriteEndObject();
        }
        _writer.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    public void Dispose() => _writer.Dispose();
}
