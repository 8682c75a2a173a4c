using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>YAML streams in and out, through YamlDotNet's parser, representation model and emitter.</summary>
internal static class YamlManifests
{
    /// <summary>
    /// Deepest nesting of mappings and sequences read. Pod specs, CRDs with their schemas and Helm
    /// output stay far below it (a few dozen levels); YamlDotNet builds nodes recursively, so
    /// without a limit a deeply nested file crashes the process (a stack overflow, at ~75,000 levels).
    /// </summary>
    public const int MaxDepth = 100;

    /// <summary>The root node of every document, empty ones included.</summary>
    public static IReadOnlyList<YamlNode> Read(string text, string sourceName)
    {
        var scanner = new Scanner(new StringReader(text), skipComments: true);
        var stream = new YamlStream();
        try
        {
            stream.Load(new DepthLimitedParser(new Parser(scanner), sourceName));
        }
        catch (ManifestReadException)
        {
            throw;
        }
        catch (YamlException e)
        {
            throw ManifestReadException.Malformed(sourceName, "YAML", (int)e.Start.Line, (int)e.Start.Column, Reason(e.Message));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // YamlDotNet's scanner gives up on some inputs (an unclosed flow sequence followed by a
            // plain scalar) with an InvalidOperationException: still say where it got to.
            throw ManifestReadException.Malformed(sourceName, "YAML", (int)scanner.CurrentPosition.Line, (int)scanner.CurrentPosition.Column, null);
        }
        return stream.Documents.Select(d => d.RootNode).ToArray();
    }

    /// <summary>
    /// Documents separated by <c>---</c>, without the <c>...</c> end markers YamlStream.Save adds,
    /// and without folding long lines (the default emitter folds scalars at 80 columns).
    /// </summary>
    public static string Write(IReadOnlyList<YamlNode> roots)
    {
        if (roots.Count == 0)
        {
            return "";
        }
        var writer = new StringWriter { NewLine = "\n" };
        var stream = new YamlStream(roots.Select(r => new YamlDocument(r)));
        var emitter = new Emitter(writer, EmitterSettings.Default.WithBestWidth(int.MaxValue).WithNewLine("\n"));
        stream.Save(new ImplicitDocumentEnds(emitter), assignAnchors: false);
        return writer.ToString();
    }

    // "While parsing a block mapping, did not find expected key." → "while parsing a block mapping, did not find expected key"
    private static string Reason(string message)
    {
        string reason = message.Trim().TrimEnd('.');
        return reason.Length > 1 && char.IsUpper(reason[0]) && !char.IsUpper(reason[1]) ? char.ToLowerInvariant(reason[0]) + reason[1..] : reason;
    }

    /// <summary>
    /// Counts the nesting in the event stream, before the representation model recurses into it:
    /// one level deeper than <see cref="MaxDepth"/> is an error naming where it starts.
    /// </summary>
    private sealed class DepthLimitedParser(IParser inner, string sourceName) : IParser
    {
        private int _depth;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext())
            {
                return false;
            }
            switch (inner.Current)
            {
                case MappingStart or SequenceStart when ++_depth > MaxDepth:
                    throw ManifestReadException.Malformed(sourceName, "YAML", (int)inner.Current.Start.Line, (int)inner.Current.Start.Column, $"nested more than {MaxDepth} levels deep");
                case MappingEnd or SequenceEnd:
                    _depth--;
                    break;
            }
            return true;
        }
    }

    private sealed class ImplicitDocumentEnds(IEmitter inner) : IEmitter
    {
        public void Emit(ParsingEvent @event) => inner.Emit(@event is DocumentEnd ? new DocumentEnd(isImplicit: true) : @event);
    }
}
