using System.Collections;
using Emissary.Json;
using Emissary.Foundation.Sequences;

namespace Emissary.Control;

/// <summary>
/// DIR/NAME/debug.json, written when the step pauses: what its command is run with, so that
/// `emissary debug env NAME` can say how to run it again by hand. Environment names only — the
/// record is world-readable and values may be secrets; `--values` reads them from the step's
/// emissary in /proc, where the kernel decides who may. The variables emissary itself adds
/// (EMISSARY_RESULTS, EMISSARY_CONTROL_DIR, TRACEPARENT: paths and a trace id) are kept with
/// their values, since /proc does not show them.
/// </summary>
internal sealed record StepContext(IReadOnlyList<string> Argv, string WorkingDirectory, IReadOnlyDictionary<string, string> Added)
{
    public const string File = "debug.json";

    /// <summary>The emissary that wrote it (in its own container's PID namespace).</summary>
    public int Pid { get; init; }

    /// <summary>The names of the command's environment: emissary's own and those it adds, sorted.</summary>
    public IReadOnlyList<string> Names { get; init; } = [];

    /// <summary>The context of a command about to run from this process, with <paramref name="added"/> over its environment.</summary>
    public static StepContext Here(IReadOnlyList<string> argv, string? directory, IReadOnlyDictionary<string, string> added)
    {
        var names = new List<string>(added.Keys);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (!added.ContainsKey((string)entry.Key))
            {
                names.Add((string)entry.Key);
            }
        }
        names.Sort(StringComparer.Ordinal);
        return new StepContext(argv, directory ?? Environment.CurrentDirectory, added) { Pid = Environment.ProcessId, Names = [.. names] };
    }

    public string ToJson() => JsonText.Write(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("pid", Pid);
        json.WriteStartArray("argv");
        foreach (string arg in Argv)
        {
            json.WriteStringValue(arg);
        }
        json.WriteEndArray();
        json.WriteString("workingDirectory", WorkingDirectory);
        json.WriteStartArray("environment");
        foreach (string name in Names)
        {
            json.WriteStringValue(name);
        }
        json.WriteEndArray();
        json.WriteStartObject("added");
        foreach ((string name, string value) in Added)
        {
            json.WriteString(name, value);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }) + "\n";

    /// <summary>Parses debug.json (written by another container: never throws, null when it is not one).</summary>
    public static StepContext? Parse(string text)
    {
        try
        {
            JsonValue root = JsonValue.Parse(text);
            if (root.Kind != JsonKind.Object || !root.TryGetProperty("argv", out JsonValue argv) || argv.Kind != JsonKind.Array)
            {
                return null;
            }
            var added = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("added", out JsonValue extra) && extra.Kind == JsonKind.Object)
            {
                foreach ((string name, JsonValue value) in extra.Properties)
                {
                    added[name] = value.GetString() ?? "";
                }
            }
            return new StepContext(
                argv.Items.Select(a => a.GetString() ?? ""),
                root.TryGetProperty("workingDirectory", out JsonValue wd) ? wd.GetString() ?? "" : "",
                added)
            {
                Pid = root.TryGetProperty("pid", out JsonValue pid) ? pid.GetInt32() : 0,
                Names = root.TryGetProperty("environment", out JsonValue env) && env.Kind == JsonKind.Array ? env.Items.Select(e => e.GetString() ?? "") : [],
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
