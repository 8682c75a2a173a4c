using System.Globalization;
using System.Text;
using System.Text.Json;
using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>The steps' results: read from their termination messages, listed at the end of the run.</summary>
internal static class StepResults
{
    /// <summary>The results in DIR/STEP/termination.json; none when it is missing or unreadable.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Read(ControlDirectory dir, string step)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(dir.PathOf(step, ControlDirectory.TerminationFile)));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("results", out JsonElement results))
            {
                return results.EnumerateObject()
                    .Select(p => new KeyValuePair<string, string>(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()))
                    .ToArray();
            }
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
        }
        return [];
    }

    /// <summary>"  result STEP.KEY = VALUE" lines, in the steps' order.</summary>
    public static string Text(IReadOnlyList<StepView> views)
    {
        var text = new StringBuilder();
        foreach (StepView view in views.Where(v => v.Results.Count > 0))
        {
            foreach ((string key, string value) in view.Results)
            {
                text.Append(CultureInfo.InvariantCulture, $"  result {view.Name}.{key} = {value}\n");
            }
        }
        return text.ToString();
    }
}
