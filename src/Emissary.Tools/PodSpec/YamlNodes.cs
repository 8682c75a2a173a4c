using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>
/// Small helpers over YamlDotNet's representation model (YamlStream and its nodes), the only part
/// of YamlDotNet used: the serializer needs reflection, which the NativeAOT build forbids.
/// </summary>
internal static class YamlNodes
{
    /// <summary>The value of <paramref name="key"/> in a mapping, or null.</summary>
    public static YamlNode? Get(this YamlMappingNode mapping, string key)
    {
        foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
        {
            if (entry.Key is YamlScalarNode { Value: { } k } && k == key)
            {
                return entry.Value;
            }
        }
        return null;
    }

    /// <summary>The text of a scalar value of <paramref name="key"/>, or null when absent or not a scalar.</summary>
    public static string? GetText(this YamlMappingNode mapping, string key) =>
        mapping.Get(key) is YamlScalarNode scalar && !IsNull(scalar) ? scalar.Value : null;

    /// <summary>The position of <paramref name="key"/> among the mapping's entries, or -1.</summary>
    public static int IndexOf(this YamlMappingNode mapping, string key)
    {
        for (int i = 0; i < mapping.Children.Count; i++)
        {
            if (mapping.Children[i].Key is YamlScalarNode { Value: { } k } && k == key)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Replaces the value of <paramref name="key"/> where it stands, or inserts it at <paramref name="index"/> (appends when -1).</summary>
    public static void Set(this YamlMappingNode mapping, string key, YamlNode value, int index = -1)
    {
        int existing = mapping.IndexOf(key);
        if (existing >= 0)
        {
            YamlNode keyNode = mapping.Children[existing].Key;
            mapping.Children.RemoveAt(existing);
            mapping.Children.Insert(existing, keyNode, value);
        }
        else if (index >= 0 && index <= mapping.Children.Count)
        {
            mapping.Children.Insert(index, new YamlScalarNode(key), value);
        }
        else
        {
            mapping.Children.Add(new YamlScalarNode(key), value);
        }
    }

    public static bool Remove(this YamlMappingNode mapping, string key)
    {
        int index = mapping.IndexOf(key);
        if (index < 0)
        {
            return false;
        }
        mapping.Children.RemoveAt(index);
        return true;
    }

    /// <summary>A YAML null: <c>~</c>, <c>null</c> or nothing, written plain.</summary>
    public static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    /// <summary>
    /// A new string scalar. Plain when that reads back as the same string, double-quoted when a plain
    /// scalar would be read as something else (a number, a boolean, null): Kubernetes' YAML decoder
    /// would turn <c>3</c> or <c>yes</c> into a number or a boolean and reject the pod.
    /// </summary>
    public static YamlScalarNode String(string value) =>
        new(value) { Style = LooksLikeNonString(value) ? ScalarStyle.DoubleQuoted : ScalarStyle.Plain };

    /// <summary>A new plain boolean scalar (true/false), a JSON literal in JSON output.</summary>
    public static YamlScalarNode Boolean(bool value) => new(value ? "true" : "false") { Style = ScalarStyle.Plain };

    /// <summary>A new block sequence of strings.</summary>
    public static YamlSequenceNode Strings(IEnumerable<string> values) =>
        new(values.Select(v => (YamlNode)String(v))) { Style = YamlDotNet.Core.Events.SequenceStyle.Block };

    private const int MaxNonStringWord = 5;

    /// <summary>
    /// Whether a plain scalar with this text could be resolved as a non-string by a YAML 1.1 or 1.2
    /// reader: empty, null, booleans (including yes/no/on/off), anything that starts like a number.
    /// Errs on the side of quoting.
    /// </summary>
    internal static bool LooksLikeNonString(string value)
    {
        if (value.Length == 0)
        {
            return true;
        }
        // Every word below is at most 5 characters, and invariant lower-casing keeps the length:
        // longer text (most of it: paths, images, commands) cannot match, and shorter is lowered on
        // the stack rather than into a new string for each scalar written.
        if (value.Length <= MaxNonStringWord)
        {
            Span<char> lower = stackalloc char[MaxNonStringWord];
            int length = value.AsSpan().ToLowerInvariant(lower);
            switch (lower[..length])
            {
                case "~" or "null" or "true" or "false" or "yes" or "no" or "y" or "n" or "on" or "off" or "<<" or "=":
                case ".inf" or "-.inf" or "+.inf" or ".nan":
                    return true;
            }
        }
        char first = value[0];
        if (char.IsAsciiDigit(first))
        {
            return true;
        }
        return value.Length > 1 && first is '+' or '-' or '.' && (char.IsAsciiDigit(value[1]) || value[1] == '.');
    }
}
