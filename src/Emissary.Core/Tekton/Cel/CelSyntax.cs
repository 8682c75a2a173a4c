using System.Globalization;
using System.Text;

namespace Emissary.Tekton;

/// <summary>An expression Tekton's cel-go would refuse at Compile (a parse or type-check issue): the step fails, exit 1.</summary>
internal sealed class CelCompileException(string message) : Exception(message);

/// <summary>
/// A node of a parsed CEL expression. Operators are calls with cel-go's internal names
/// (<c>_+_</c>, <c>!_</c>, <c>_?_:_</c>, <c>_[_]</c>, <c>@in</c>), so the evaluator has one dispatch.
/// </summary>
internal abstract class CelNode
{
    // Plain classes, not records: a record's generated equality and ToString cost size in the binary.
    public sealed class Literal(object value) : CelNode
    {
        public object Value { get; } = value;
    }

    public sealed class Ident(string name) : CelNode
    {
        public string Name { get; } = name;
    }

    /// <summary><c>operand.field</c>; <paramref name="testOnly"/> is <c>has(operand.field)</c>.</summary>
    public sealed class Select(CelNode operand, string field, bool testOnly) : CelNode
    {
        public CelNode Operand { get; } = operand;

        public string Field { get; } = field;

        public bool TestOnly { get; } = testOnly;
    }

    /// <summary><c>f(args)</c> or, with a <paramref name="target"/>, <c>target.f(args)</c>.</summary>
    public sealed class Call(string function, CelNode? target, CelNode[] args) : CelNode
    {
        public string Function { get; } = function;

        public CelNode? Target { get; } = target;

        public CelNode[] Args { get; } = args;
    }

    public sealed class ListLiteral(CelNode[] items) : CelNode
    {
        public CelNode[] Items { get; } = items;
    }

    public sealed class MapLiteral(CelNode[] keys, CelNode[] values) : CelNode
    {
        public CelNode[] Keys { get; } = keys;

        public CelNode[] Values { get; } = values;
    }
}

/// <summary>
/// CEL's grammar (cel-spec doc/langdef.md, "Syntax") by recursive descent, one method per
/// precedence level. Bounded: at most <see cref="MaxLength"/> characters and
/// <see cref="MaxDepth"/> levels of nesting, so a hostile step result substituted into an
/// expression costs bounded stack and time; cel-go's own limits are 100,000 code points and a
/// recursion depth of 250.
/// </summary>
internal sealed class CelParser
{
    public const int MaxLength = 100_000;
    public const int MaxDepth = 250;

    // Reserved by the language: an identifier with one of these names is a syntax error.
    private static readonly string[] Reserved =
        ["as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
         "package", "namespace", "return", "var", "void", "while"];

    private readonly string _text;
    private int _pos;
    private int _depth;

    private CelParser(string text) => _text = text;

    public static CelNode Parse(string text)
    {
        if (text.Length > MaxLength)
        {
            throw new CelCompileException($"expression code point size exceeds limit: size: {text.Length}, limit {MaxLength}");
        }
        var parser = new CelParser(text);
        CelNode node = parser.Expression();
        parser.SkipSpace();
        if (parser._pos < text.Length)
        {
            throw parser.Error($"Syntax error: extraneous input '{text[parser._pos]}'");
        }
        return node;
    }

    private CelNode Expression()
    {
        if (++_depth > MaxDepth)
        {
            throw Error("expression recursion limit exceeded: " + MaxDepth);
        }
        CelNode condition = Or();
        if (Accept("?"))
        {
            CelNode then = Or();
            Expect(":");
            CelNode otherwise = Expression();
            condition = new CelNode.Call("_?_:_", null, [condition, then, otherwise]);
        }
        _depth--;
        return condition;
    }

    private CelNode Or()
    {
        CelNode left = And();
        while (Accept("||"))
        {
            left = new CelNode.Call("_||_", null, [left, And()]);
        }
        return left;
    }

    private CelNode And()
    {
        CelNode left = Relation();
        while (Accept("&&"))
        {
            left = new CelNode.Call("_&&_", null, [left, Relation()]);
        }
        return left;
    }

    private CelNode Relation()
    {
        CelNode left = Addition();
        while (true)
        {
            string? op = AcceptAny("<=", ">=", "==", "!=", "<", ">");
            if (op is null && AcceptWord("in"))
            {
                op = "in";
            }
            if (op is null)
            {
                return left;
            }
            left = new CelNode.Call(op == "in" ? "@in" : "_" + op + "_", null, [left, Addition()]);
        }
    }

    private CelNode Addition()
    {
        CelNode left = Multiplication();
        while (AcceptAny("+", "-") is { } op)
        {
            left = new CelNode.Call("_" + op + "_", null, [left, Multiplication()]);
        }
        return left;
    }

    private CelNode Multiplication()
    {
        CelNode left = Unary();
        while (AcceptAny("*", "/", "%") is { } op)
        {
            left = new CelNode.Call("_" + op + "_", null, [left, Unary()]);
        }
        return left;
    }

    private CelNode Unary()
    {
        SkipSpace();
        if (Peek('!') && !PeekAt(1, '='))
        {
            _pos++;
            return Nested(() => new CelNode.Call("!_", null, [Unary()]));
        }
        if (Peek('-'))
        {
            _pos++;
            SkipSpace();
            // "-9223372036854775808" is one literal: its magnitude alone does not fit an int.
            if (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                return Member(NumberLiteral(negative: true));
            }
            return Nested(() => new CelNode.Call("-_", null, [Unary()]));
        }
        return Member(Primary());
    }

    private CelNode Nested(Func<CelNode> parse)
    {
        if (++_depth > MaxDepth)
        {
            throw Error("expression recursion limit exceeded: " + MaxDepth);
        }
        CelNode node = parse();
        _depth--;
        return node;
    }

    private CelNode Member(CelNode operand)
    {
        int chain = 0;
        while (true)
        {
            if (++chain > MaxDepth)
            {
                throw Error("expression recursion limit exceeded: " + MaxDepth);
            }
            if (Accept("."))
            {
                SkipSpace();
                if (Peek('`'))
                {
                    operand = new CelNode.Select(operand, QuotedField(), false);
                    continue;
                }
                string name = Identifier(allowReserved: true); // after a dot, `{'if': 1}.if` is a field
                if (Accept("("))
                {
                    operand = new CelNode.Call(name, operand, Arguments(")"));
                }
                else
                {
                    operand = new CelNode.Select(operand, name, false);
                }
            }
            else if (Accept("["))
            {
                CelNode index = Expression();
                Expect("]");
                operand = new CelNode.Call("_[_]", null, [operand, index]);
            }
            else if (Peek2('{'))
            {
                throw Error("Syntax error: message construction is not supported (no message types are declared)");
            }
            else
            {
                return operand;
            }
        }
    }

    private CelNode Primary()
    {
        SkipSpace();
        if (_pos >= _text.Length)
        {
            throw Error("Syntax error: mismatched input '<EOF>'");
        }
        char c = _text[_pos];
        if (Accept("("))
        {
            CelNode inner = Expression();
            Expect(")");
            return inner;
        }
        if (Accept("["))
        {
            return Nested(() => new CelNode.ListLiteral(Arguments("]")));
        }
        if (Accept("{"))
        {
            return Nested(MapBody);
        }
        if (char.IsAsciiDigit(c) || (c == '.' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1])))
        {
            return NumberLiteral(negative: false);
        }
        if (c is '"' or '\'' || (StringPrefixLength() is var prefix && prefix > 0))
        {
            return StringLiteral();
        }
        if (Accept("."))
        {
            Identifier(); // a leading dot names the root container; no container here
            throw Error("Syntax error: qualified names are not supported");
        }
        string name = Identifier();
        switch (name)
        {
            case "true":
                return new CelNode.Literal(true);
            case "false":
                return new CelNode.Literal(false);
            case "null":
                return new CelNode.Literal(CelNull.Value);
        }
        if (Accept("("))
        {
            CelNode[] args = Arguments(")");
            if (name == "has")
            {
                if (args.Length != 1 || args[0] is not CelNode.Select select)
                {
                    throw Error("invalid argument to has() macro");
                }
                return new CelNode.Select(select.Operand, select.Field, testOnly: true);
            }
            return new CelNode.Call(name, null, args);
        }
        return new CelNode.Ident(name);
    }

    private CelNode MapBody()
    {
        var keys = new List<CelNode>();
        var values = new List<CelNode>();
        if (!Accept("}"))
        {
            do
            {
                if (Peek2('}'))
                {
                    break; // a trailing comma
                }
                keys.Add(Expression());
                Expect(":");
                values.Add(Expression());
            }
            while (Accept(","));
            Expect("}");
        }
        return new CelNode.MapLiteral(keys.ToArray(), values.ToArray());
    }

    private CelNode[] Arguments(string close)
    {
        var items = new List<CelNode>();
        if (Accept(close))
        {
            return [];
        }
        do
        {
            SkipSpace();
            if (_pos < _text.Length && _text[_pos] == close[0])
            {
                break; // a trailing comma
            }
            items.Add(Expression());
        }
        while (Accept(","));
        Expect(close);
        return items.ToArray();
    }

    /// <summary>A field name in backquotes (<c>m.`content-type`</c>): any characters but a backquote or newline.</summary>
    private string QuotedField()
    {
        int start = ++_pos;
        while (_pos < _text.Length && _text[_pos] is not ('`' or '\n'))
        {
            _pos++;
        }
        if (_pos >= _text.Length || _text[_pos] != '`' || _pos == start)
        {
            throw Error("Syntax error: unterminated quoted field");
        }
        return _text[start.._pos++];
    }

    private string Identifier(bool allowReserved = false)
    {
        SkipSpace();
        int start = _pos;
        if (_pos < _text.Length && (char.IsAsciiLetter(_text[_pos]) || _text[_pos] == '_'))
        {
            _pos++;
            while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_'))
            {
                _pos++;
            }
        }
        if (start == _pos)
        {
            throw Error(_pos < _text.Length ? $"Syntax error: token recognition error at: '{_text[_pos]}'" : "Syntax error: mismatched input '<EOF>'");
        }
        string name = _text[start.._pos];
        if (!allowReserved && (Array.IndexOf(Reserved, name) >= 0 || name == "in"))
        {
            throw Error($"Syntax error: reserved identifier: {name}");
        }
        return name;
    }

    private CelNode NumberLiteral(bool negative)
    {
        int start = _pos;
        string sign = negative ? "-" : "";
        if (_text[_pos] == '0' && _pos + 1 < _text.Length && _text[_pos + 1] is 'x' or 'X')
        {
            _pos += 2;
            int digits = _pos;
            while (_pos < _text.Length && char.IsAsciiHexDigit(_text[_pos]))
            {
                _pos++;
            }
            if (digits == _pos)
            {
                throw Error("Syntax error: invalid hex literal");
            }
            string hex = _text[digits.._pos];
            if (AcceptUintSuffix())
            {
                return negative ? throw Error("Syntax error: a uint cannot be negative")
                    : new CelNode.Literal(ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong u) ? u : throw Error("invalid uint literal"));
            }
            // The magnitude as a uint64, then the sign: -0x8000000000000000 is the one negative without a positive twin.
            if (!ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong magnitude)
                || magnitude > (negative ? 9223372036854775808UL : long.MaxValue))
            {
                throw Error("invalid int literal");
            }
            return new CelNode.Literal(negative ? (long)(0 - magnitude) : (long)magnitude);
        }
        while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
        {
            _pos++;
        }
        bool isDouble = false;
        if (_pos + 1 < _text.Length && _text[_pos] == '.' && char.IsAsciiDigit(_text[_pos + 1]))
        {
            isDouble = true;
            _pos++;
            while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                _pos++;
            }
        }
        if (_pos < _text.Length && _text[_pos] is 'e' or 'E')
        {
            int mark = _pos++;
            if (_pos < _text.Length && _text[_pos] is '+' or '-')
            {
                _pos++;
            }
            if (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                isDouble = true;
                while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
                {
                    _pos++;
                }
            }
            else
            {
                _pos = mark;
            }
        }
        string text = sign + _text[start.._pos];
        if (isDouble)
        {
            return new CelNode.Literal(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
        }
        if (AcceptUintSuffix())
        {
            return negative ? throw Error("Syntax error: a uint cannot be negative")
                : new CelNode.Literal(ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u) ? u : throw Error("invalid uint literal"));
        }
        return new CelNode.Literal(long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : throw Error("invalid int literal"));
    }

    private bool AcceptUintSuffix()
    {
        if (_pos < _text.Length && _text[_pos] is 'u' or 'U')
        {
            _pos++;
            return true;
        }
        return false;
    }

    /// <summary>The length of an r/b/rb/br prefix right before a quote, or 0.</summary>
    private int StringPrefixLength()
    {
        int n = 0;
        while (n < 2 && _pos + n < _text.Length && _text[_pos + n] is 'r' or 'R' or 'b' or 'B')
        {
            n++;
        }
        if (n == 2 && char.ToLowerInvariant(_text[_pos]) == char.ToLowerInvariant(_text[_pos + 1]))
        {
            return 0;
        }
        return n > 0 && _pos + n < _text.Length && _text[_pos + n] is '"' or '\'' ? n : 0;
    }

    private CelNode StringLiteral()
    {
        bool raw = false, bytes = false;
        for (int n = StringPrefixLength(); n > 0; n--, _pos++)
        {
            raw |= _text[_pos] is 'r' or 'R';
            bytes |= _text[_pos] is 'b' or 'B';
        }
        char quote = _text[_pos];
        bool triple = _pos + 2 < _text.Length && _text[_pos + 1] == quote && _text[_pos + 2] == quote;
        _pos += triple ? 3 : 1;
        var units = new List<byte>(); // UTF-8 for bytes, and for strings (\x in a string is a code point)
        var text = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
            {
                throw Error("Syntax error: unterminated string literal");
            }
            char c = _text[_pos];
            if (c == quote && (!triple || (_pos + 2 < _text.Length && _text[_pos + 1] == quote && _text[_pos + 2] == quote)))
            {
                _pos += triple ? 3 : 1;
                break;
            }
            if (!triple && c is '\n' or '\r')
            {
                throw Error("Syntax error: newline in a string literal");
            }
            if (c == '\\' && !raw)
            {
                _pos++;
                Escape(bytes, units, text);
                continue;
            }
            int codePoint = CelText.CodePointAt(_text, _pos, out int width);
            _pos += width;
            Append(codePoint, bytes, units, text);
        }
        return new CelNode.Literal(bytes ? new CelBytes(units.ToArray()) : text.ToString());
    }

    private static void Append(int codePoint, bool bytes, List<byte> units, StringBuilder text)
    {
        if (bytes)
        {
            Span<byte> buffer = stackalloc byte[4];
            int n = new Rune(codePoint).EncodeToUtf8(buffer);
            for (int i = 0; i < n; i++)
            {
                units.Add(buffer[i]);
            }
        }
        else
        {
            text.Append(char.ConvertFromUtf32(codePoint));
        }
    }

    private void Escape(bool bytes, List<byte> units, StringBuilder text)
    {
        if (_pos >= _text.Length)
        {
            throw Error("Syntax error: unterminated escape");
        }
        char c = _text[_pos++];
        int simple = c switch
        {
            'a' => 7, 'b' => 8, 'f' => 12, 'n' => 10, 'r' => 13, 't' => 9, 'v' => 11,
            '\\' => '\\', '\'' => '\'', '"' => '"', '`' => '`', '?' => '?',
            _ => -1,
        };
        if (simple >= 0)
        {
            Append(simple, bytes, units, text);
            return;
        }
        int value;
        switch (c)
        {
            case 'x' or 'X':
                value = Digits(2, 16);
                break;
            case 'u' when !bytes:
                value = Digits(4, 16);
                break;
            case 'U' when !bytes:
                value = Digits(8, 16);
                break;
            case >= '0' and <= '3':
                _pos--;
                value = Digits(3, 8);
                break;
            default:
                throw Error($"Syntax error: invalid escape sequence \\{c}");
        }
        if (bytes && c is not ('u' or 'U'))
        {
            units.Add((byte)value); // \x and octal are one byte in a bytes literal
            return;
        }
        if (value > 0x10FFFF || (value >= 0xD800 && value < 0xE000))
        {
            throw Error("Syntax error: invalid unicode code point");
        }
        Append(value, bytes, units, text);
    }

    private int Digits(int count, int radix)
    {
        int value = 0;
        for (int i = 0; i < count; i++, _pos++)
        {
            int digit = _pos < _text.Length ? HexValue(_text[_pos]) : -1;
            if (digit < 0 || digit >= radix)
            {
                throw Error("Syntax error: invalid escape sequence");
            }
            value = (value * radix) + digit;
        }
        return value;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private void SkipSpace()
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c is ' ' or '\t' or '\n' or '\r' or '\f')
            {
                _pos++;
            }
            else if (c == '/' && _pos + 1 < _text.Length && _text[_pos + 1] == '/')
            {
                while (_pos < _text.Length && _text[_pos] != '\n')
                {
                    _pos++;
                }
            }
            else
            {
                return;
            }
        }
    }

    private bool Peek(char c) => _pos < _text.Length && _text[_pos] == c;

    private bool PeekAt(int offset, char c) => _pos + offset < _text.Length && _text[_pos + offset] == c;

    private bool Peek2(char c)
    {
        SkipSpace();
        return Peek(c);
    }

    private bool Accept(string token)
    {
        SkipSpace();
        if (string.CompareOrdinal(_text, _pos, token, 0, token.Length) != 0)
        {
            return false;
        }
        // "|" and "&" alone are not CEL; "=" alone is not either: leave them for the error.
        _pos += token.Length;
        return true;
    }

    private void Expect(string token)
    {
        if (!Accept(token))
        {
            throw Error(_pos < _text.Length ? $"Syntax error: mismatched input '{_text[_pos]}' expecting '{token}'" : $"Syntax error: missing '{token}' at '<EOF>'");
        }
    }

    private string? AcceptAny(params string[] tokens)
    {
        foreach (string token in tokens)
        {
            if (Accept(token))
            {
                return token;
            }
        }
        return null;
    }

    private bool AcceptWord(string word)
    {
        SkipSpace();
        int end = _pos + word.Length;
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) == 0
            && (end >= _text.Length || !(char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_')))
        {
            _pos = end;
            return true;
        }
        return false;
    }

    private CelCompileException Error(string message) =>
        new($"ERROR: <input>:1:{_pos + 1}: {message}");
}
