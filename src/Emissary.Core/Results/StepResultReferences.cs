using System.Text;

namespace Emissary.Results;

/// <summary>
/// One <c>$(steps.STEP.results.KEY)</c> reference, the syntax Tekton users know. <see cref="Selector"/>
/// is what follows the key inside the parentheses, empty for a plain reference: <c>[2]</c> or
/// <c>[*]</c> for an array result, <c>.field</c> for an object result (Tekton's forms; what a
/// selector means is the resolver's business).
/// </summary>
internal readonly record struct StepResultReference(string Step, string Key, string Selector)
{
    /// <summary>The reference as written, e.g. <c>$(steps.build.results.digest)</c>.</summary>
    public override string ToString() => $"$(steps.{Step}.results.{Key}{Selector})";
}

/// <summary>A reference the resolver could not satisfy; its message is one line for stderr.</summary>
internal sealed class StepResultMissingException(string message) : Exception(message);

/// <summary>
/// Finds and replaces step-result references in text (a command argument, an environment value,
/// a script). The one place that knows the syntax: Emissary's <c>run</c> and the Tekton mode
/// resolve references against different directories but parse them here, so both accept and
/// refuse the same spellings.
/// </summary>
/// <remarks>
/// Grammar: <c>$(steps.</c> NAME <c>.results.</c> KEY [SELECTOR] <c>)</c> where NAME is a step name
/// (DNS label characters: letters, digits, '-', '_' accepted), KEY is a result name (letters,
/// digits, '.', '_', '-' are result-file characters, but '.' would make <c>a.b</c> ambiguous with
/// an object selector, so a key stops at the first '.', '[' or ')'), and SELECTOR is <c>[N]</c>,
/// <c>[*]</c> or <c>.FIELD</c>. Text that starts like a reference but does not match is left as
/// it is, like Tekton's substitution leaves unknown variables: a shell's <c>$(steps ...)</c>
/// command substitution in a script must survive.
/// </remarks>
internal static class StepResultReferences
{
    private const string Prefix = "$(steps.";
    private const string Middle = ".results.";
    private const int MaxIndexLength = 9; // digits of an index: below int.MaxValue

    /// <summary>Every well-formed reference in <paramref name="text"/>, in order of appearance.</summary>
    public static IReadOnlyList<StepResultReference> Find(string text)
    {
        var found = new List<StepResultReference>();
        int at = 0;
        while ((at = text.IndexOf(Prefix, at, StringComparison.Ordinal)) >= 0)
        {
            if (TryParse(text, at, out StepResultReference reference, out int end))
            {
                found.Add(reference);
                at = end;
            }
            else
            {
                at += Prefix.Length;
            }
        }
        return found;
    }

    /// <summary>True when <paramref name="text"/> holds at least one reference (a cheap pre-check).</summary>
    public static bool Contains(string text) =>
        text.Contains(Prefix, StringComparison.Ordinal) && Find(text).Count > 0;

    /// <summary>
    /// <paramref name="text"/> with each reference replaced by <paramref name="resolve"/>'s value
    /// for it. The replacement is not scanned again, so a result whose value itself looks like a
    /// reference is inserted literally (no injection through a result).
    /// </summary>
    /// <exception cref="StepResultMissingException">From <paramref name="resolve"/>.</exception>
    public static string Substitute(string text, Func<StepResultReference, string> resolve)
    {
        int at = text.IndexOf(Prefix, StringComparison.Ordinal);
        if (at < 0)
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        int copied = 0;
        while (at >= 0)
        {
            if (TryParse(text, at, out StepResultReference reference, out int end))
            {
                result.Append(text, copied, at - copied).Append(resolve(reference));
                copied = at = end;
            }
            else
            {
                at += Prefix.Length;
            }
            at = text.IndexOf(Prefix, at, StringComparison.Ordinal);
        }
        return result.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool TryParse(string text, int start, out StepResultReference reference, out int end)
    {
        reference = default;
        end = start;
        int i = start + Prefix.Length;
        int stepStart = i;
        while (i < text.Length && IsNameChar(text[i]))
        {
            i++;
        }
        if (i == stepStart || string.CompareOrdinal(text, i, Middle, 0, Middle.Length) != 0)
        {
            return false;
        }
        string step = text[stepStart..i];
        i += Middle.Length;
        int keyStart = i;
        while (i < text.Length && IsNameChar(text[i]))
        {
            i++;
        }
        if (i == keyStart)
        {
            return false;
        }
        string key = text[keyStart..i];
        int selectorStart = i;
        if (i < text.Length && text[i] == '[')
        {
            // An index is at most 9 digits: look for its ']' only that far, or text with many an
            // unclosed "[" would be scanned to its end once per reference (quadratic).
            int close = text.IndexOf(']', i, Math.Min(text.Length - i, MaxIndexLength + 2));
            if (close < 0 || !IsIndex(text.AsSpan(i + 1, close - i - 1)))
            {
                return false;
            }
            i = close + 1;
        }
        else if (i < text.Length && text[i] == '.')
        {
            int fieldStart = ++i;
            while (i < text.Length && IsNameChar(text[i]))
            {
                i++;
            }
            if (i == fieldStart)
            {
                return false;
            }
        }
        if (i >= text.Length || text[i] != ')')
        {
            return false;
        }
        reference = new StepResultReference(step, key, text[selectorStart..i]);
        end = i + 1;
        return true;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private static bool IsIndex(ReadOnlySpan<char> inside)
    {
        if (inside is "*")
        {
            return true;
        }
        if (inside.IsEmpty || inside.Length > MaxIndexLength)
        {
            return false;
        }
        foreach (char c in inside)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return true;
    }
}
