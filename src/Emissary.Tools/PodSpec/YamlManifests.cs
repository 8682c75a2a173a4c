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
        var reader = new YamlDocumentReader(text, sourceName);
        var roots = new List<YamlNode>();
        while (reader.Next() is { } root)
        {
            roots.Add(root);
        }
        return roots;
    }

    /// <summary>
    /// Documents separated by <c>---</c>, without the <c>...</c> end markers YamlStream.Save adds,
    /// and without folding long lines (the default emitter folds scalars at 80 columns).
    /// </summary>
    public static string Write(IReadOnlyList<YamlNode> roots)
    {
        var writer = new YamlStreamWriter();
        foreach (YamlNode root in roots)
        {
            writer.Add(root);
        }
        return writer.Finish();
    }
}

/// <summary>
/// Reads a YAML stream one document at a time, so that a caller that is done with a document
/// (rewritten and written out) lets it go: the representation model takes tens of bytes per
/// byte of small documents, and holding every document of a large stream at once took more
/// than a gigabyte.
/// </summary>
internal sealed class YamlDocumentReader(string text, string sourceName)
{
    private readonly Scanner _scanner = new(new StringReader(text), skipComments: true);
    private IParser? _parser;
    private bool _ended;

    /// <summary>The next document's root (an empty document is a null scalar), or null at the end. Throws <see cref="ManifestReadException"/>.</summary>
    public YamlNode? Next()
    {
        if (_ended)
        {
            return null;
        }
        try
        {
            if (_parser is null)
            {
                // YAML allows no NUL (c-printable), and YamlDotNet's scanner reads one as the end of
                // its 1,024-character look-ahead: "%0\0" and 1,021 spaces kept it busy 36 s.
                if (text.IndexOf('\0') is >= 0 and int nul)
                {
                    _ended = true;
                    int lineStart = text.LastIndexOf('\n', Math.Max(nul - 1, 0)) + 1;
                    int line = text.AsSpan(0, nul).Count('\n') + 1;
                    throw ManifestReadException.Malformed(sourceName, "YAML", line, nul - lineStart + 1, "a NUL character (YAML allows none)");
                }
                _parser = new DepthLimitedParser(new Parser(_scanner), sourceName);
                _parser.Consume<StreamStart>();
            }
            if (_parser.Accept<StreamEnd>(out _))
            {
                _ended = true;
                return null;
            }
            var stream = new YamlStream();
            stream.Load(new SingleDocument(_parser));
            return stream.Documents[0].RootNode;
        }
        catch (ManifestReadException)
        {
            _ended = true;
            throw;
        }
        catch (YamlException e)
        {
            _ended = true;
            throw ManifestReadException.Malformed(sourceName, "YAML", (int)e.Start.Line, (int)e.Start.Column, Reason(e.Message));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // YamlDotNet's scanner gives up on some inputs (an unclosed flow sequence followed by a
            // plain scalar) with an InvalidOperationException: still say where it got to.
            _ended = true;
            throw ManifestReadException.Malformed(sourceName, "YAML", (int)_scanner.CurrentPosition.Line, (int)_scanner.CurrentPosition.Column, null);
        }
    }

    // "While parsing a block mapping, did not find expected key." → "while parsing a block mapping, did not find expected key"
    private static string Reason(string message)
    {
        string reason = message.Trim().TrimEnd('.');
        return reason.Length > 1 && char.IsUpper(reason[0]) && !char.IsUpper(reason[1]) ? char.ToLowerInvariant(reason[0]) + reason[1..] : reason;
    }

    /// <summary>
    /// Checks the event stream before the representation model recurses into it. Nesting one level
    /// deeper than <see cref="YamlManifests.MaxDepth"/> is an error naming where it starts. So is an
    /// alias to a node that is still open (<c>&amp;a [*a]</c>) or not defined yet: YamlDotNet resolves
    /// such an alias at the end of the document to the node itself, a cycle that its hash code (a
    /// sequence as a mapping key) and every walk of the tree follow into a stack overflow.
    /// </summary>
    private sealed class DepthLimitedParser(IParser inner, string sourceName) : IParser
    {
        private int _depth;
        private readonly Stack<string?> _open = new(); // the anchor of each open mapping or sequence
        private readonly HashSet<string> _defined = new(StringComparer.Ordinal);

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext())
            {
                return false;
            }
            ParsingEvent current = inner.Current!;
            switch (current)
            {
                case DocumentStart:
                    _defined.Clear(); // anchors are the document's own
                    break;
                case MappingStart or SequenceStart:
                    if (++_depth > YamlManifests.MaxDepth)
                    {
                        throw Error(current, $"nested more than {YamlManifests.MaxDepth} levels deep");
                    }
                    _open.Push(((NodeEvent)current).Anchor is { IsEmpty: false } anchor ? anchor.Value : null);
                    break;
                case MappingEnd or SequenceEnd:
                    _depth--;
                    if (_open.TryPop(out string? closed) && closed is not null)
                    {
                        _defined.Add(closed);
                    }
                    break;
                case Scalar { Anchor.IsEmpty: false } scalar:
                    _defined.Add(scalar.Anchor.Value);
                    break;
                case AnchorAlias alias when !_defined.Contains(alias.Value.Value) || _open.Contains(alias.Value.Value):
                    throw Error(current, $"alias *{alias.Value.Value} refers to a node that contains it or comes after it");
            }
            return true;
        }

        private ManifestReadException Error(ParsingEvent at, string reason) =>
            ManifestReadException.Malformed(sourceName, "YAML", (int)at.Start.Line, (int)at.Start.Column, reason);
    }

    /// <summary>
    /// The document the stream is at, as a stream of its own (what YamlStream.Load reads): a
    /// stream start, the document's events, a stream end. Afterwards the stream is at the next
    /// document (or its end).
    /// </summary>
    private sealed class SingleDocument(IParser inner) : IParser
    {
        private int _state; // 0: before the stream start, 1: it was given, 2: in the document, 3: the stream end was given

        public ParsingEvent? Current { get; private set; }

        public bool MoveNext()
        {
            switch (_state)
            {
                case 0:
                    Current = new StreamStart();
                    _state = 1;
                    return true;
                case 1:
                    Current = inner.Current; // the document's start, where the stream already is
                    _state = 2;
                    return true;
                case 2 when Current is DocumentEnd:
                    inner.MoveNext();
                    Current = new StreamEnd();
                    _state = 3;
                    return true;
                case 2:
                    if (!inner.MoveNext())
                    {
                        return false;
                    }
                    Current = inner.Current;
                    return true;
                default:
                    return false;
            }
        }
    }
}

/// <summary>A YAML stream written one document at a time (see <see cref="YamlManifests.Write"/>).</summary>
internal sealed class YamlStreamWriter
{
    private readonly StringWriter _writer = new() { NewLine = "\n" };
    private readonly Emitter _emitter;
    private bool _started;

    public YamlStreamWriter() => _emitter = new Emitter(_writer, EmitterSettings.Default.WithBestWidth(int.MaxValue).WithNewLine("\n"));

    public void Add(YamlNode root)
    {
        if (!_started)
        {
            _emitter.Emit(new StreamStart());
            _started = true;
        }
        new YamlStream(new YamlDocument(root)).Save(new DocumentOnly(_emitter), assignAnchors: false);
    }

    /// <summary>The text; "" when no document was added.</summary>
    public string Finish()
    {
        if (!_started)
        {
            return "";
        }
        _emitter.Emit(new StreamEnd());
        return _writer.ToString();
    }

    // The document's events into the one stream: its own stream start and end left out, no "..." end markers.
    private sealed class DocumentOnly(IEmitter inner) : IEmitter
    {
        public void Emit(ParsingEvent @event)
        {
            if (@event is StreamStart or StreamEnd)
            {
                return;
            }
            inner.Emit(@event is DocumentEnd ? new DocumentEnd(isImplicit: true) : @event);
        }
    }
}
