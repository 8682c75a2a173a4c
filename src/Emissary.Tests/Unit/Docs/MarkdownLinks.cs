using System.Text;
using System.Text.RegularExpressions;

namespace Emissary.Tests.Unit.Docs;

/// <summary>
/// The relative links of markdown pages and whether they resolve: the file or directory exists,
/// and an <c>#anchor</c> names a heading of the target page as GitHub makes its ids (lower case,
/// punctuation dropped, spaces to hyphens, "-1", "-2" for repeats). Links to other sites are not
/// followed. Code blocks and code spans are not text: a link or heading there does not count.
/// </summary>
internal static class MarkdownLinks
{
    private static readonly Regex Link = new(@"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)", RegexOptions.CultureInvariant);
    private static readonly Regex CodeSpan = new(@"(`+)(?!`).*?(?<!`)\1(?!`)", RegexOptions.CultureInvariant);
    private static readonly Regex Heading = new(@"^#{1,6}[ \t]+(?<text>.*?)(?:[ \t]+#+)?[ \t]*$", RegexOptions.CultureInvariant);
    private static readonly Regex HtmlId = new(@"<a\s+(?:id|name)=""(?<id>[^""]+)""", RegexOptions.CultureInvariant);

    /// <summary>One link that points nowhere: the page, its line, the link, and why.</summary>
    public sealed record Broken(string Page, int Line, string Target, string Reason)
    {
        public override string ToString() => $"{Page}:{Line}: ({Target}): {Reason}";
    }

    /// <summary>Every broken relative link of <paramref name="pages"/> (paths relative to <paramref name="root"/>).</summary>
    public static IReadOnlyList<Broken> Check(string root, IEnumerable<string> pages)
    {
        var broken = new List<Broken>();
        var anchorCache = new Dictionary<string, HashSet<string>>();
        HashSet<string> AnchorsOf(string path) =>
            anchorCache.TryGetValue(path, out HashSet<string>? set) ? set : anchorCache[path] = Anchors(File.ReadAllText(path));

        foreach (string page in pages)
        {
            string pagePath = Path.Combine(root, page);
            foreach ((int line, string target) in Links(File.ReadAllText(pagePath)))
            {
                if (Regex.IsMatch(target, "^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase))
                {
                    continue; // https:, mailto:: another site
                }
                int hash = target.IndexOf('#');
                string file = hash < 0 ? target : target[..hash];
                string? anchor = hash < 0 ? null : Uri.UnescapeDataString(target[(hash + 1)..]);
                string resolved = file.Length == 0 ? pagePath : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(pagePath)!, Uri.UnescapeDataString(file)));
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    broken.Add(new Broken(page, line, target, $"no such file {Path.GetRelativePath(root, resolved)}"));
                }
                else if (anchor is not null && resolved.EndsWith(".md", StringComparison.Ordinal) && !AnchorsOf(resolved).Contains(anchor))
                {
                    broken.Add(new Broken(page, line, target, $"no heading with the id '{anchor}' in {Path.GetRelativePath(root, resolved)}"));
                }
            }
        }
        return broken;
    }

    /// <summary>The targets of the page's links, with their line numbers (code excluded).</summary>
    public static IEnumerable<(int Line, string Target)> Links(string markdown)
    {
        foreach ((int line, string text) in TextLines(markdown))
        {
            foreach (Match m in Link.Matches(CodeSpan.Replace(text, "code")))
            {
                yield return (line, m.Groups["target"].Value);
            }
        }
    }

    /// <summary>The ids GitHub gives the page's headings (and explicit &lt;a id&gt;s).</summary>
    public static HashSet<string> Anchors(string markdown)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach ((_, string text) in TextLines(markdown))
        {
            foreach (Match m in HtmlId.Matches(text))
            {
                ids.Add(m.Groups["id"].Value);
            }
            Match heading = Heading.Match(text);
            if (!heading.Success)
            {
                continue;
            }
            string slug = Slug(heading.Groups["text"].Value);
            int count = seen.GetValueOrDefault(slug);
            seen[slug] = count + 1;
            ids.Add(count == 0 ? slug : $"{slug}-{count}");
        }
        return ids;
    }

    /// <summary>GitHub's id for a heading: its text without markup, lower case, only letters, digits, '_', '-' and spaces kept, spaces made '-'.</summary>
    public static string Slug(string heading)
    {
        string text = Regex.Replace(heading, @"\[([^\]]*)\]\([^)]*\)", "$1").Replace("`", "");
        var slug = new StringBuilder();
        foreach (char c in text.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '_' or '-' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark)
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }
        return slug.ToString();
    }

    /// <summary>The page's lines outside fenced code blocks, numbered from 1.</summary>
    private static IEnumerable<(int Line, string Text)> TextLines(string markdown)
    {
        string? fence = null;
        string[] lines = markdown.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string trimmed = lines[i].TrimStart();
            if (fence is null && (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal)))
            {
                fence = trimmed[..3];
                continue;
            }
            if (fence is not null)
            {
                if (trimmed.StartsWith(fence, StringComparison.Ordinal))
                {
                    fence = null;
                }
                continue;
            }
            yield return (i + 1, lines[i]);
        }
    }
}
