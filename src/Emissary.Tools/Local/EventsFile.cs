using System.Text;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Json;

namespace Emissary.Tools.Local;

/// <summary>`--events FILE`: one JSON object per line for each state change of a step.</summary>
internal sealed class EventsFile(string path) : IDisposable
{
    private readonly StreamWriter _writer = new(path, append: false, new UTF8Encoding(false)) { AutoFlush = true };

    public void Write(StepEvent e)
    {
        _writer.WriteLine(JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("time", Rfc3339.Format(e.Time));
            json.WriteString("step", e.Step);
            json.WriteString("state", e.State.JsonName());
            if (e.ExitCode is { } code) json.WriteNumber("exitCode", code);
            if (e.Reason is not null) json.WriteString("reason", e.Reason);
            if (e.Message is not null) json.WriteString("message", e.Message);
            if (e.Usage is not null)
            {
                json.WritePropertyName("usage");
                e.Usage.Write(json);
            }
            json.WriteEndObject();
        }));
    }

    public void Dispose() => _writer.Dispose();
}
