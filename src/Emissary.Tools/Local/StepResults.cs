using System.Globalization;
using System.Text;
using System.Text.Unicode;
using Emissary.Control;
using Emissary.Results;

namespace Emissary.Tools.Local;

/// <summary>The steps' results: read from their termination messages, listed at the end of the run.</summary>
internal static class StepResults
{
    /// <summary>
    /// The results of DIR/STEP/termination.json (plain or compressed), or, when the message left
    /// them out for size, of DIR/STEP/results (<see cref="ReportedResults"/>); none when missing
    /// or unreadable. Bytes that are not UTF-8 are shown as base64:….
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Read(ControlDirectory dir, string step) =>
        ReportedResults.Read(dir, step)
            .Select(r => new KeyValuePair<string, string>(r.Name, Utf8.IsValid(r.Value) ? Encoding.UTF8.GetString(r.Value) : "base64:" + Convert.ToBase64String(r.Value)))
            .ToArray();

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
