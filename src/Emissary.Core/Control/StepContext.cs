using System.Text;
using Emissary.Interop;
using Emissary.Foundation.Sequences;

namespace Emissary.Control;

/// <summary>
/// DIR/NAME/debug.txt, written when the step pauses: what its command runs with, as
/// `emissary debug env NAME` prints it — the command line and working directory as a shell reads
/// them back, and the environment's names. Names only: the record is world-readable and values
/// may be secrets (`--values` reads them from the step's emissary in /proc, where the kernel
/// decides who may). The variables emissary itself adds (EMISSARY_RESULTS, EMISSARY_CONTROL_DIR,
/// TRACEPARENT: paths and a trace id) are shown with their values, since /proc does not hold them.
/// </summary>
internal static class StepContext
{
    public const string File = "debug.txt";

    /// <summary>The text for a command about to run from this process, with <paramref name="added"/> over its environment.</summary>
    public static string Describe(IReadOnlyList<string> argv, string? directory, IReadOnlyDictionary<string, string> added)
    {
        var names = new List<string>();
        foreach ((string name, string value) in added)
        {
            names.Add(name + "=" + ShellWord(value));
        }
        // The environment as the launcher passes it on (its bytes, not a parsed copy).
        foreach (ReadOnlySpan<byte> entry in ProcessEnvironment.Entries)
        {
            string name = Encoding.UTF8.GetString(ProcessEnvironment.NameOf(entry));
            if (!added.ContainsKey(name))
            {
                names.Add(name);
            }
        }
        names.SortInPlace(StringComparer.Ordinal);
        var text = new StringBuilder("command:   ");
        foreach (string arg in argv)
        {
            text.Append(ShellWord(arg)).Append(' ');
        }
        text.Append("\ndirectory: ").Append(ShellWord(directory ?? Environment.CurrentDirectory)).Append("\nenvironment:\n");
        foreach (string name in names)
        {
            text.Append("  ").Append(name).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A word as a POSIX shell reads it back: bare when safe, else in single quotes.</summary>
    private static string ShellWord(string word)
    {
        foreach (char c in word)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('/' or '.' or '_' or '-' or '=' or ':' or ',' or '+' or '@'))
            {
                var quoted = new StringBuilder("'");
                foreach (char q in word)
                {
                    if (q == '\'')
                    {
                        quoted.Append("'\\''");
                    }
                    else
                    {
                        quoted.Append(q);
                    }
                }
                return quoted.Append('\'').ToString();
            }
        }
        return word.Length > 0 ? word : "''";
    }
}
