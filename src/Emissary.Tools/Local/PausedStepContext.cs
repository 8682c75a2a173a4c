using System.Text;

namespace Emissary.Tools.Local;

/// <summary>
/// What a paused step's command runs with, read back from DIR/NAME/debug.txt (written by the step
/// when it paused, <see cref="Control.StepContext"/>): the command line as a shell reads it, the
/// working directory, and the variables emissary added with their values (EMISSARY_RESULTS, ...).
/// The other variables are only names there; `emissary local` knows their values itself (the
/// step's env from the pod spec).
/// </summary>
internal sealed record PausedStepContext(string CommandLine, string? Directory, IReadOnlyDictionary<string, string> Added)
{
    /// <summary>Parses debug.txt; lines it does not know are ignored (a newer step may write more).</summary>
    public static PausedStepContext Parse(string text)
    {
        string command = "";
        string? directory = null;
        var added = new Dictionary<string, string>(StringComparer.Ordinal);
        bool inEnvironment = false;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith("command:", StringComparison.Ordinal))
            {
                command = line["command:".Length..].Trim();
                inEnvironment = false;
            }
            else if (line.StartsWith("directory:", StringComparison.Ordinal))
            {
                directory = ShellWord(line["directory:".Length..].Trim());
                inEnvironment = false;
            }
            else if (line.StartsWith("environment:", StringComparison.Ordinal))
            {
                inEnvironment = true;
            }
            else if (inEnvironment && line.StartsWith("  ", StringComparison.Ordinal) && line.IndexOf('=') is > 2 and var eq)
            {
                added[line[2..eq]] = ShellWord(line[(eq + 1)..]);
            }
        }
        return new PausedStepContext(command, directory is { Length: > 0 } ? directory : null, added);
    }

    /// <summary>
    /// One word as a POSIX shell reads it: single quotes literal, a backslash outside them quotes
    /// the next character (StepContext writes bare words or <c>'...'</c> with <c>'\''</c> inside).
    /// </summary>
    internal static string ShellWord(string word)
    {
        var text = new StringBuilder(word.Length);
        bool quoted = false;
        for (int i = 0; i < word.Length; i++)
        {
            char c = word[i];
            if (c == '\'')
            {
                quoted = !quoted;
            }
            else if (c == '\\' && !quoted && i + 1 < word.Length)
            {
                text.Append(word[++i]);
            }
            else
            {
                text.Append(c);
            }
        }
        return text.ToString();
    }
}
