using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Emissary.Json;

/// <summary>
/// A small UTF-8 JSON writer for messages that must fit a byte budget (the termination message).
/// Bytes are kept only up to <c>limit</c>; past it the writer keeps counting, so
/// <see cref="Length"/> is always the exact size the whole document needs while memory stays
/// bounded by the limit, however large the values written.
///
/// Why not Utf8JsonWriter: even with JavaScriptEncoder.UnsafeRelaxedJsonEscaping it escapes every
/// character outside the Basic Multilingual Plane (an emoji costs 12 bytes instead of 4) and some
/// others, which wastes the budget. Here a string is escaped only where JSON requires it:
/// quotation mark, reverse solidus and the C0 controls (RFC 8259 §7), the short forms
/// (\n, \t, ...) where they exist and \u00XX otherwise. Everything else is copied as UTF-8.
///
/// The caller writes a well-formed sequence (objects and arrays balanced, a property name before
/// each value inside an object); the writer only places the commas (and, when
/// <paramref name="indented"/>, the line breaks and two-space indentation people read).
///
/// The buffer grows as the document does, never past the limit: a small document costs little
/// even under a large limit (<see cref="JsonWriter"/> uses this writer for status files and logs).
///
/// With <paramref name="goHtmlSafe"/> strings are escaped as Go's <c>json.Marshal</c> escapes them
/// (its default HTMLEscape): also <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, U+2028 and U+2029 as
/// <c>\u003c</c>, <c>\u003e</c>, <c>\u0026</c>, <c>\u2028</c>, <c>\u2029</c>. Tekton's termination
/// message is written that way and its 4096-byte limit is measured on those bytes, so a message
/// that must fit where Tekton's fits (and fail where it fails) is written the same. In that mode
/// a lone surrogate in a string value stands for one byte of invalid UTF-8 (see
/// <see cref="DecodeKeepingInvalidBytes"/>) and is written as the six bytes <c>\ufffd</c>, as Go's encoder
/// writes each invalid byte; without it a lone surrogate becomes a raw U+FFFD, as always.
/// </summary>
internal sealed class BoundedJsonWriter(int limit, bool indented = false, bool goHtmlSafe = false)
{
    private readonly int _limit = Math.Max(limit, 0);
    private byte[] _buffer = new byte[Math.Min(Math.Max(limit, 0), 256)];
    private int _length;

    // One bit per open container: does the next item need a leading comma?
    private ulong _needsComma;
    private int _depth;
    private bool _afterName;

    /// <summary>Bytes the document written so far needs, kept or not.</summary>
    public int Length => _length;

    /// <summary>True while everything written is within the limit.</summary>
    public bool Fits => _length <= _limit;

    /// <summary>The document; only valid when it <see cref="Fits"/>.</summary>
    public byte[] ToArray() => Document().ToArray();

    /// <summary>The document and a newline, as a file holds it; only valid when it <see cref="Fits"/>.</summary>
    public byte[] ToLine()
    {
        ReadOnlySpan<byte> document = Document();
        byte[] line = new byte[document.Length + 1];
        document.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    private ReadOnlySpan<byte> Document() => Fits
        ? _buffer.AsSpan(0, _length)
        : throw new InvalidOperationException($"the JSON document needs {_length} bytes, more than the limit of {_limit}");

    public void StartObject() => Open((byte)'{');

    public void EndObject() => Close((byte)'}');

    public void StartArray() => Open((byte)'[');

    public void EndArray() => Close((byte)']');

    public void PropertyName(string name)
    {
        BeforeValue();
        WriteQuoted(Utf8(name));
        Raw(indented ? ": "u8 : ":"u8);
        _afterName = true;
    }

    /// <summary>A string value given as UTF-8 bytes; the caller has checked they are valid UTF-8.</summary>
    public void StringValue(ReadOnlySpan<byte> utf8)
    {
        BeforeValue();
        WriteQuoted(utf8);
    }

    public void StringValue(string value)
    {
        if (!goHtmlSafe)
        {
            StringValue(Utf8(value));
            return;
        }
        BeforeValue();
        Raw((byte)'"');
        int run = 0;
        for (int i = 0; i < value.Length; i++)
        {
            if (!char.IsSurrogate(value[i]))
            {
                continue;
            }
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++; // a pair: a valid rune, copied as UTF-8
                continue;
            }
            WriteEscaped(Utf8(value[run..i]));
            Raw("\\ufffd"u8);
            run = i + 1;
        }
        WriteEscaped(Utf8(value[run..]));
        Raw((byte)'"');
    }

    /// <summary>
    /// The string a Go-mode writer writes for <paramref name="utf8"/> as Go's json.Marshal would:
    /// valid UTF-8 decoded, each byte that is not part of a valid sequence (utf8.DecodeRune's
    /// RuneError of size 1) kept as one lone surrogate, which <see cref="StringValue(string)"/>
    /// writes as <c>\ufffd</c>. Decoding with Encoding.UTF8 instead would make one U+FFFD per bad
    /// sequence and lose the count of bad bytes that the 4096-byte limit is measured on.
    /// </summary>
    public static string DecodeKeepingInvalidBytes(ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Unicode.Utf8.IsValid(utf8))
        {
            return Encoding.UTF8.GetString(utf8);
        }
        var text = new StringBuilder(utf8.Length);
        while (!utf8.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(utf8, out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
            }
            else
            {
                text.Append((char)(0xDC00 | utf8[0])); // one bad byte, one marker; the next byte is decoded afresh, as Go does
                consumed = 1;
            }
            utf8 = utf8[consumed..];
        }
        return text.ToString();
    }

    public void NumberValue(long value)
    {
        BeforeValue();
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int written);
        Raw(digits[..written]);
    }

    /// <summary>A number with a fraction, in the shortest form that reads back the same; JSON has no NaN or infinity, so those are null.</summary>
    public void NumberValue(double value)
    {
        if (!double.IsFinite(value))
        {
            NullValue();
            return;
        }
        BeforeValue();
        Span<byte> digits = stackalloc byte[32];
        Utf8Formatter.TryFormat(value, digits, out int written);
        Raw(digits[..written]);
    }

    public void BooleanValue(bool value)
    {
        BeforeValue();
        Raw(value ? "true"u8 : "false"u8);
    }

    public void NullValue()
    {
        BeforeValue();
        Raw("null"u8);
    }

    /// <summary>The length <paramref name="utf8"/> takes as a JSON string, quotes included.</summary>
    public static int QuotedLength(ReadOnlySpan<byte> utf8)
    {
        int length = 2;
        foreach (byte b in utf8)
        {
            length += EscapedLength(b);
        }
        return length;
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s); // lone surrogates become U+FFFD

    private void Open(byte bracket)
    {
        BeforeValue();
        Raw(bracket);
        _depth++;
        if (_depth < 64)
        {
            _needsComma &= ~(1UL << _depth);
        }
    }

    private void Close(byte bracket)
    {
        bool hadItems = _depth is > 0 and < 64 && (_needsComma & (1UL << _depth)) != 0;
        _depth--;
        if (indented && hadItems)
        {
            NewLine();
        }
        Raw(bracket);
    }

    private void NewLine()
    {
        Raw((byte)'\n');
        for (int i = 0; i < _depth; i++)
        {
            Raw("  "u8);
        }
    }

    private void BeforeValue()
    {
        if (_afterName)
        {
            _afterName = false;
            return;
        }
        if (_depth is > 0 and < 64)
        {
            if ((_needsComma & (1UL << _depth)) != 0)
            {
                Raw((byte)',');
            }
            _needsComma |= 1UL << _depth;
        }
        if (indented && _depth > 0)
        {
            NewLine();
        }
    }

    private void WriteQuoted(ReadOnlySpan<byte> utf8)
    {
        Raw((byte)'"');
        WriteEscaped(utf8);
        Raw((byte)'"');
    }

    private void WriteEscaped(ReadOnlySpan<byte> utf8)
    {
        int run = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            byte b = utf8[i];
            int length = goHtmlSafe ? GoEscapedLength(utf8, i) : EscapedLength(b);
            if (length == 1)
            {
                continue;
            }
            Raw(utf8[run..i]);
            run = i + 1;
            switch (b)
            {
                case (byte)'"': Raw("\\\""u8); break;
                case (byte)'\\': Raw("\\\\"u8); break;
                case (byte)'\n': Raw("\\n"u8); break;
                case (byte)'\r': Raw("\\r"u8); break;
                case (byte)'\t': Raw("\\t"u8); break;
                case (byte)'\b': Raw("\\b"u8); break;
                case (byte)'\f': Raw("\\f"u8); break;
                case 0xE2: // U+2028 or U+2029 (E2 80 A8/A9), three bytes in, six out
                    Raw(utf8[i + 2] == 0xA8 ? "\\u2028"u8 : "\\u2029"u8);
                    run = i + 3;
                    i += 2;
                    break;
                default:
                    Raw("\\u00"u8);
                    Raw("0123456789abcdef"u8[b >> 4]);
                    Raw("0123456789abcdef"u8[b & 0xF]);
                    break;
            }
        }
        Raw(utf8[run..]);
    }

    private static int EscapedLength(byte b) => b switch
    {
        (byte)'"' or (byte)'\\' or (byte)'\n' or (byte)'\r' or (byte)'\t' or (byte)'\b' or (byte)'\f' => 2,
        < 0x20 => 6,
        _ => 1,
    };

    /// <summary>What Go's encoder writes for the byte at <paramref name="i"/>: 1 when copied, else the escape's length (6 for U+2028/U+2029, which start there).</summary>
    private static int GoEscapedLength(ReadOnlySpan<byte> utf8, int i) => utf8[i] switch
    {
        (byte)'<' or (byte)'>' or (byte)'&' => 6,
        0xE2 when i + 2 < utf8.Length && utf8[i + 1] == 0x80 && utf8[i + 2] is 0xA8 or 0xA9 => 6,
        var b => EscapedLength(b),
    };

    private void Raw(byte b) => Raw([b]);

    private void Raw(ReadOnlySpan<byte> bytes)
    {
        if (_length <= _limit && bytes.Length <= _limit - _length)
        {
            if (bytes.Length > _buffer.Length - _length)
            {
                Array.Resize(ref _buffer, (int)Math.Min(Math.Max((long)_buffer.Length * 2, (long)_length + bytes.Length), _limit));
            }
            bytes.CopyTo(_buffer.AsSpan(_length));
        }
        // Past the limit only the count grows (it cannot overflow: it is checked against int.MaxValue).
        _length = (int)Math.Min((long)_length + bytes.Length, int.MaxValue);
    }

    public override string ToString() => Fits
        ? Encoding.UTF8.GetString(_buffer, 0, _length)
        : string.Create(CultureInfo.InvariantCulture, $"<{_length} bytes, over the limit of {_limit}>");
}
