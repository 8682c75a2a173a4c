using System.Globalization;
using System.Text;

namespace Emissary.Json;

internal enum JsonKind
{
    Null,
    False,
    True,
    Number,
    String,
    Array,
    Object,
}

/// <summary>One property of a JSON object.</summary>
internal readonly record struct JsonProperty(string Name, JsonValue Value);

/// <summary>Malformed JSON, with the offset where reading stopped.</summary>
internal sealed class JsonFormatException(string message) : FormatException(message);

/// <summary>
/// A parsed JSON value: what the pod binary reads back (status.json of other steps). RFC 8259,
/// strictly: no comments, no trailing commas, no leading zeros, lone surrogates in \u escapes
/// refused. Input comes from files other containers can write, so nesting is limited
/// (<see cref="MaxDepth"/>); sizes are bounded by the caller's read. Accessors behave like
/// System.Text.Json's JsonElement (a wrong kind is an <see cref="InvalidOperationException"/>,
/// a number out of range a <see cref="FormatException"/>; a repeated key: the last one wins).
/// </summary>
internal sealed class JsonValue
{
    public const int MaxDepth = 64;

    private static readonly JsonValue NullValue = new(JsonKind.Null), FalseValue = new(JsonKind.False), TrueValue = new(JsonKind.True);

    private readonly string? _text;
    private readonly List<JsonValue>? _items;
    private readonly List<JsonProperty>? _properties;

    private JsonValue(JsonKind kind, string? text = null, List<JsonValue>? items = null, List<JsonProperty>? properties = null)
    {
        Kind = kind;
        _text = text;
        _items = items;
        _properties = properties;
    }

    public JsonKind Kind { get; }

    /// <summary>The items of an array.</summary>
    public IReadOnlyList<JsonValue> Items => _items ?? throw WrongKind(JsonKind.Array);

    /// <summary>The properties of an object, in document order (repeats included).</summary>
    public IReadOnlyList<JsonProperty> Properties => _properties ?? throw WrongKind(JsonKind.Object);

    public bool TryGetProperty(string name, out JsonValue value)
    {
        List<JsonProperty> properties = _properties ?? throw WrongKind(JsonKind.Object);
        for (int i = properties.Count - 1; i >= 0; i--)
        {
            if (properties[i].Name == name)
            {
                value = properties[i].Value;
                return true;
            }
        }
        value = NullValue;
        return false;
    }

    /// <summary>The string; null for a JSON null.</summary>
    public string? GetString() => Kind switch
    {
        JsonKind.String => _text,
        JsonKind.Null => null,
        _ => throw WrongKind(JsonKind.String),
    };

    public int GetInt32() => TryGetInt32(out int value) ? value : throw new FormatException($"{_text} is not a 32-bit integer");

    public bool TryGetInt32(out int value) =>
        int.TryParse(NumberText(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    public bool TryGetInt64(out long value) =>
        long.TryParse(NumberText(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    public long GetInt64() => TryGetInt64(out long value) ? value : throw new FormatException($"{_text} is not a 64-bit integer");

    public double GetDouble() => double.Parse(NumberText(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private string NumberText() => Kind == JsonKind.Number ? _text! : throw WrongKind(JsonKind.Number);

    private InvalidOperationException WrongKind(JsonKind wanted) => new($"expected a JSON {wanted}, found {Kind}");

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <exception cref="JsonFormatException">The bytes are not UTF-8 or not one JSON value.</exception>
    public static JsonValue Parse(ReadOnlySpan<byte> utf8)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            throw new JsonFormatException("invalid JSON: not UTF-8");
        }
        return Parse(text);
    }

    /// <exception cref="JsonFormatException">The text is not one JSON value.</exception>
    public static JsonValue Parse(string text)
    {
        var reader = new Reader(text);
        reader.SkipSpace();
        JsonValue value = reader.ReadValue(0);
        reader.SkipSpace();
        return reader.AtEnd ? value : throw reader.Error("content after the value");
    }

    private ref struct Reader(string text)
    {
        private int _at;

        public readonly bool AtEnd => _at == text.Length;

        public readonly JsonFormatException Error(string problem) => new($"invalid JSON at offset {_at}: {problem}");

        public void SkipSpace()
        {
            while (_at < text.Length && text[_at] is ' ' or '\t' or '\n' or '\r')
            {
                _at++;
            }
        }

        public JsonValue ReadValue(int depth)
        {
            if (AtEnd)
            {
                throw Error("unexpected end");
            }
            switch (text[_at])
            {
                case '{': return ReadObject(depth + 1);
                case '[': return ReadArray(depth + 1);
                case '"': return new JsonValue(JsonKind.String, ReadString());
                case 't': Literal("true"); return TrueValue;
                case 'f': Literal("false"); return FalseValue;
                case 'n': Literal("null"); return NullValue;
                default: return new JsonValue(JsonKind.Number, ReadNumber());
            }
        }

        private JsonValue ReadObject(int depth)
        {
            if (depth > MaxDepth)
            {
                throw Error($"nested deeper than {MaxDepth}");
            }
            _at++;
            var properties = new List<JsonProperty>();
            SkipSpace();
            if (Take('}'))
            {
                return new JsonValue(JsonKind.Object, properties: properties);
            }
            while (true)
            {
                SkipSpace();
                if (AtEnd || text[_at] != '"')
                {
                    throw Error("expected a property name");
                }
                string name = ReadString();
                SkipSpace();
                if (!Take(':'))
                {
                    throw Error("expected ':'");
                }
                SkipSpace();
                properties.Add(new(name, ReadValue(depth)));
                SkipSpace();
                if (Take('}'))
                {
                    return new JsonValue(JsonKind.Object, properties: properties);
                }
                if (!Take(','))
                {
                    throw Error("expected ',' or '}'");
                }
            }
        }

        private JsonValue ReadArray(int depth)
        {
            if (depth > MaxDepth)
            {
                throw Error($"nested deeper than {MaxDepth}");
            }
            _at++;
            var items = new List<JsonValue>();
            SkipSpace();
            if (Take(']'))
            {
                return new JsonValue(JsonKind.Array, items: items);
            }
            while (true)
            {
                SkipSpace();
                items.Add(ReadValue(depth));
                SkipSpace();
                if (Take(']'))
                {
                    return new JsonValue(JsonKind.Array, items: items);
                }
                if (!Take(','))
                {
                    throw Error("expected ',' or ']'");
                }
            }
        }

        private bool Take(char c)
        {
            if (_at < text.Length && text[_at] == c)
            {
                _at++;
                return true;
            }
            return false;
        }

        private void Literal(string word)
        {
            if (string.CompareOrdinal(text, _at, word, 0, word.Length) != 0)
            {
                throw Error("unknown literal");
            }
            _at += word.Length;
        }

        private string ReadNumber()
        {
            int start = _at;
            Take('-');
            if (Take('0'))
            {
            }
            else if (!Digits())
            {
                throw Error("expected a value");
            }
            if (Take('.') && !Digits())
            {
                throw Error("expected digits after '.'");
            }
            if (_at < text.Length && text[_at] is 'e' or 'E')
            {
                _at++;
                if (!Take('+'))
                {
                    Take('-');
                }
                if (!Digits())
                {
                    throw Error("expected digits in the exponent");
                }
            }
            return text[start.._at];
        }

        private bool Digits()
        {
            int start = _at;
            while (_at < text.Length && char.IsAsciiDigit(text[_at]))
            {
                _at++;
            }
            return _at > start;
        }

        private string ReadString()
        {
            _at++; // the opening quote
            var value = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    throw Error("unterminated string");
                }
                char c = text[_at++];
                if (c == '"')
                {
                    return value.ToString();
                }
                if (c < 0x20)
                {
                    throw Error("control character in a string");
                }
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (AtEnd)
                {
                    throw Error("unterminated escape");
                }
                switch (text[_at++])
                {
                    case '"': value.Append('"'); break;
                    case '\\': value.Append('\\'); break;
                    case '/': value.Append('/'); break;
                    case 'b': value.Append('\b'); break;
                    case 'f': value.Append('\f'); break;
                    case 'n': value.Append('\n'); break;
                    case 'r': value.Append('\r'); break;
                    case 't': value.Append('\t'); break;
                    case 'u':
                        char unit = Hex4();
                        if (char.IsHighSurrogate(unit))
                        {
                            if (!(Take('\\') && Take('u')))
                            {
                                throw Error("lone surrogate in a \\u escape");
                            }
                            char low = Hex4();
                            if (!char.IsLowSurrogate(low))
                            {
                                throw Error("lone surrogate in a \\u escape");
                            }
                            value.Append(unit).Append(low);
                        }
                        else if (char.IsLowSurrogate(unit))
                        {
                            throw Error("lone surrogate in a \\u escape");
                        }
                        else
                        {
                            value.Append(unit);
                        }
                        break;
                    default: throw Error("unknown escape");
                }
            }
        }

        private char Hex4()
        {
            if (_at + 4 > text.Length || !ushort.TryParse(text.AsSpan(_at, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort unit))
            {
                throw Error("expected four hex digits");
            }
            _at += 4;
            return (char)unit;
        }
    }
}
