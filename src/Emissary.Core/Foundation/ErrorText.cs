using System.Globalization;
using System.Text;
using Emissary.Interop;
using Emissary.Files;

namespace Emissary.Foundation;

/// <summary>
/// Readable reasons for I/O failures. The static build uses resource keys instead of messages
/// (UseSystemResourceKeys, to stay small), so exception messages are never shown as they are.
/// Also keeps every error line one line: user-given text is shown with its control characters escaped.
/// </summary>
internal static class ErrorText
{
    public static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "path too long",
        SystemCallException s => s.Message,
        // A refusal says its own reason; a plain errno reads like the IOException case below.
        WritePathException w => w.Message == Libc.Describe(w.Errno) ? w.Message.ToLowerInvariant() : w.Message,
        // On Unix, IOException.HResult carries the raw errno.
        IOException { HResult: > 0 and < 4096 } io => Libc.Describe((Errno)io.HResult).ToLowerInvariant(),
        _ => e.GetType().Name,
    };

    /// <summary>A user-given value in single quotes, control characters escaped (see <see cref="Printable"/>).</summary>
    public static string Quote(string value) => "'" + Printable(value) + "'";

    /// <summary>
    /// <paramref name="text"/> with every control character (C0, DEL, C1), the Unicode line and
    /// paragraph separators and the bidirectional overrides and isolates written as an escape (\n,
    /// \r, \t, \xNN, \uNNNN), so that a name or path holding a newline, a terminal escape sequence
    /// or a right-to-left override can neither split a line in two, nor drive the reader's
    /// terminal, nor show its text reordered. Returns the same string when there is nothing to escape.
    /// </summary>
    public static string Printable(string text)
    {
        int first = IndexOfUnprintable(text);
        if (first < 0)
        {
            return text;
        }
        var result = new StringBuilder(text.Length + 8);
        result.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c))
            {
                result.Append(c);
                continue;
            }
            result.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when c <= '\u00ff' => "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture),
                _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }
        return result.ToString();
    }

    private static int IndexOfUnprintable(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (NeedsEscape(text[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');
}
