namespace Emissary.Tekton;

/// <summary>
/// CEL's <c>matches</c>: whether an RE2 pattern matches anywhere in a string. Our own small
/// automaton instead of System.Text.RegularExpressions (whose engine would more than use up the
/// entrypoint's size budget): the pattern compiles to a Thompson NFA run in lock-step over the
/// text (a Pike VM without captures), so time is linear in the text for any pattern, as RE2's is.
/// The RE2 syntax a <c>when</c> needs: literals and escapes, <c>.</c>, classes (<c>[a-z]</c>,
/// <c>[^...]</c>, <c>\d \w \s</c> and their negations), groups <c>(...)</c> <c>(?:...)</c>,
/// <c>|</c>, <c>* + ?</c> (lazy forms too) and <c>{n}</c> <c>{n,}</c> <c>{n,m}</c> (at most
/// 1000), <c>^ $</c> (start and end of text) and the flag group <c>(?i)</c> at the start.
/// Anything else (backreferences and lookaround, which RE2 refuses too; Unicode classes
/// <c>\pL</c>; <c>\b</c>) is an error "invalid regex", never a silent mismatch.
/// </summary>
internal static class CelRegex
{
    public const int MaxProgram = 10_000;

    // Plain classes, not records: a record's generated members cost size in the binary.
    private abstract class Inst
    {
        public sealed class Char(Func<int, bool> test) : Inst
        {
            public Func<int, bool> Test { get; } = test;
        }

        public sealed class Split(int first, int second) : Inst
        {
            public int First { get; } = first;

            public int Second { get; } = second;
        }

        public sealed class Jump(int to) : Inst
        {
            public int To { get; } = to;
        }

        public sealed class Start : Inst;

        public sealed class End : Inst;

        public sealed class Match : Inst;
    }

    public static object Matches(string pattern, string text)
    {
        List<Inst> program;
        try
        {
            program = new Compiler(pattern).Compile();
        }
        catch (FormatException e)
        {
            return new CelError("invalid regex: " + e.Message);
        }
        return Run(program, text);
    }

    private static bool Run(List<Inst> program, string text)
    {
        var current = new List<int>();
        var next = new List<int>();
        var seen = new bool[program.Count];
        int position = 0;
        while (true)
        {
            // A new thread at every position: an unanchored search.
            Array.Clear(seen);
            foreach (int pc in current)
            {
                seen[pc] = true;
            }
            if (AddThread(program, current, seen, 0, position == 0, position >= text.Length))
            {
                return true;
            }
            if (position >= text.Length)
            {
                return false;
            }
            int c = CelText.CodePointAt(text, position, out int width);
            position += width;
            next.Clear();
            Array.Clear(seen);
            foreach (int pc in current)
            {
                if (program[pc] is Inst.Char ch && ch.Test(c)
                    && AddThread(program, next, seen, pc + 1, false, position >= text.Length))
                {
                    return true;
                }
            }
            (current, next) = (next, current);
        }
    }

    /// <summary>Follows splits, jumps and anchors from <paramref name="pc"/>; true when it reaches Match.</summary>
    private static bool AddThread(List<Inst> program, List<int> threads, bool[] seen, int pc, bool atStart, bool atEnd)
    {
        var stack = new Stack<int>();
        stack.Push(pc);
        while (stack.Count > 0)
        {
            int at = stack.Pop();
            if (seen[at])
            {
                continue;
            }
            seen[at] = true;
            switch (program[at])
            {
                case Inst.Match:
                    return true;
                case Inst.Jump jump:
                    stack.Push(jump.To);
                    break;
                case Inst.Split split:
                    stack.Push(split.Second);
                    stack.Push(split.First);
                    break;
                case Inst.Start:
                    if (atStart)
                    {
                        stack.Push(at + 1);
                    }
                    break;
                case Inst.End:
                    if (atEnd)
                    {
                        stack.Push(at + 1);
                    }
                    break;
                default:
                    threads.Add(at);
                    break;
            }
        }
        return false;
    }

    /// <summary>Recursive descent over the pattern, emitting instructions; fragments are spliced as lists.</summary>
    private sealed class Compiler(string pattern)
    {
        private int _pos;
        private int _depth;
        private bool _ignoreCase;

        public List<Inst> Compile()
        {
            if (pattern.StartsWith("(?i)", StringComparison.Ordinal))
            {
                _ignoreCase = true;
                _pos = 4;
            }
            List<Inst> body = Alternation();
            if (_pos < pattern.Length)
            {
                throw new FormatException($"unexpected ) at {_pos}");
            }
            body.Add(new Inst.Match());
            return body;
        }

        private List<Inst> Alternation()
        {
            if (++_depth > CelParser.MaxDepth)
            {
                throw new FormatException("nesting too deep");
            }
            List<Inst> left = Concatenation();
            while (_pos < pattern.Length && pattern[_pos] == '|')
            {
                _pos++;
                List<Inst> right = Concatenation();
                // split L1, L2; L1: left; jmp end; L2: right; end:
                var joined = new List<Inst> { new Inst.Split(1, left.Count + 2) };
                joined.AddRange(Shift(left, 1));
                joined.Add(new Inst.Jump(left.Count + right.Count + 2));
                joined.AddRange(Shift(right, left.Count + 2));
                left = Bounded(joined);
            }
            _depth--;
            return left;
        }

        private List<Inst> Concatenation()
        {
            var sequence = new List<Inst>();
            while (_pos < pattern.Length && pattern[_pos] is not ('|' or ')'))
            {
                List<Inst> atom = Repetition(Atom());
                sequence.AddRange(Shift(atom, sequence.Count));
                Bounded(sequence);
            }
            return sequence;
        }

        private List<Inst> Repetition(List<Inst> atom)
        {
            while (_pos < pattern.Length && pattern[_pos] is '*' or '+' or '?' or '{')
            {
                int min, max;
                char op = pattern[_pos];
                if (op == '{')
                {
                    if (!TryCount(out min, out max))
                    {
                        return atom; // a literal '{', as RE2 reads one that starts no count
                    }
                }
                else
                {
                    _pos++;
                    (min, max) = op switch { '*' => (0, -1), '+' => (1, -1), _ => (0, 1) };
                }
                if (_pos < pattern.Length && pattern[_pos] == '?')
                {
                    _pos++; // lazy: the same set of matches when only asking whether one exists
                }
                atom = Repeat(atom, min, max);
            }
            return atom;
        }

        private bool TryCount(out int min, out int max)
        {
            int start = _pos;
            min = max = 0;
            _pos++;
            int? first = Number();
            if (first is null)
            {
                _pos = start;
                return false;
            }
            min = max = first.Value;
            if (_pos < pattern.Length && pattern[_pos] == ',')
            {
                _pos++;
                max = Number() ?? -1;
            }
            if (_pos >= pattern.Length || pattern[_pos] != '}')
            {
                _pos = start;
                return false;
            }
            _pos++;
            if (min > 1000 || max > 1000 || (max >= 0 && max < min))
            {
                throw new FormatException("invalid repeat count");
            }
            return true;
        }

        private int? Number()
        {
            int start = _pos, value = 0;
            while (_pos < pattern.Length && char.IsAsciiDigit(pattern[_pos]) && _pos - start < 5)
            {
                value = (value * 10) + (pattern[_pos++] - '0');
            }
            return _pos > start ? value : null;
        }

        private static List<Inst> Repeat(List<Inst> atom, int min, int max)
        {
            var result = new List<Inst>();
            for (int i = 0; i < min; i++)
            {
                result.AddRange(Shift(atom, result.Count));
                Bounded(result);
            }
            if (max < 0)
            {
                // L: split body, end; body; jmp L; end:
                int loop = result.Count;
                result.Add(new Inst.Split(loop + 1, loop + atom.Count + 2));
                result.AddRange(Shift(atom, loop + 1));
                result.Add(new Inst.Jump(loop));
                return Bounded(result);
            }
            for (int i = min; i < max; i++)
            {
                int at = result.Count;
                result.Add(new Inst.Split(at + 1, at + atom.Count + 1));
                result.AddRange(Shift(atom, at + 1));
                Bounded(result);
            }
            return result;
        }

        private List<Inst> Atom()
        {
            char c = pattern[_pos++];
            switch (c)
            {
                case '(':
                    if (_pos < pattern.Length && pattern[_pos] == '?')
                    {
                        if (_pos + 1 < pattern.Length && pattern[_pos + 1] == ':')
                        {
                            _pos += 2;
                        }
                        else
                        {
                            throw new FormatException("unsupported group or flags (?" );
                        }
                    }
                    List<Inst> inner = Alternation();
                    if (_pos >= pattern.Length || pattern[_pos] != ')')
                    {
                        throw new FormatException("missing )");
                    }
                    _pos++;
                    return inner;
                case '^':
                    return [new Inst.Start()];
                case '$':
                    return [new Inst.End()];
                case '.':
                    return [new Inst.Char(x => x != '\n')];
                case '[':
                    return [new Inst.Char(Class())];
                case '\\':
                    return [new Inst.Char(Escape(inClass: false))];
                case '*' or '+' or '?':
                    throw new FormatException($"missing argument to repetition operator: {c}");
                default:
                    _pos--;
                    int literal = CelText.CodePointAt(pattern, _pos, out int width);
                    _pos += width;
                    return [new Inst.Char(Literal(literal))];
            }
        }

        private Func<int, bool> Literal(int literal)
        {
            if (!_ignoreCase)
            {
                return x => x == literal;
            }
            int folded = Fold(literal);
            return x => Fold(x) == folded;
        }

        private static int Fold(int c) => c < 0x10000 ? char.ToLowerInvariant((char)c) : c;

        private Func<int, bool> Class()
        {
            bool negated = _pos < pattern.Length && pattern[_pos] == '^';
            if (negated)
            {
                _pos++;
            }
            var tests = new List<Func<int, bool>>();
            bool first = true;
            while (true)
            {
                if (_pos >= pattern.Length)
                {
                    throw new FormatException("missing ]");
                }
                if (pattern[_pos] == ']' && !first)
                {
                    _pos++;
                    break;
                }
                first = false;
                if (pattern[_pos] == '\\')
                {
                    _pos++;
                    int before = _pos;
                    if (_pos < pattern.Length && pattern[_pos] is 'd' or 'D' or 'w' or 'W' or 's' or 'S')
                    {
                        tests.Add(Escape(inClass: false));
                        continue;
                    }
                    _pos = before;
                }
                int low = ClassChar();
                int high = low;
                if (_pos + 1 < pattern.Length && pattern[_pos] == '-' && pattern[_pos + 1] != ']')
                {
                    _pos++;
                    high = ClassChar();
                    if (high < low)
                    {
                        throw new FormatException("invalid character class range");
                    }
                }
                bool fold = _ignoreCase;
                tests.Add(x => (x >= low && x <= high) || (fold && Fold(x) != x && Fold(x) >= low && Fold(x) <= high)
                    || (fold && x < 0x10000 && char.ToUpperInvariant((char)x) is var u && u >= low && u <= high));
            }
            Func<int, bool>[] all = tests.ToArray();
            return x =>
            {
                foreach (Func<int, bool> test in all)
                {
                    if (test(x))
                    {
                        return !negated;
                    }
                }
                return negated;
            };
        }

        private int ClassChar()
        {
            if (pattern[_pos] == '\\')
            {
                _pos++;
                return EscapedChar();
            }
            int c = CelText.CodePointAt(pattern, _pos, out int width);
            _pos += width;
            return c;
        }

        private Func<int, bool> Escape(bool inClass)
        {
            if (_pos >= pattern.Length)
            {
                throw new FormatException("trailing backslash at end of expression");
            }
            char c = pattern[_pos];
            Func<int, bool>? perl = c switch
            {
                'd' => x => x is >= '0' and <= '9',
                'D' => x => x is not (>= '0' and <= '9'),
                'w' => IsWord,
                'W' => x => !IsWord(x),
                's' => x => x is ' ' or '\t' or '\n' or '\f' or '\r',
                'S' => x => x is not (' ' or '\t' or '\n' or '\f' or '\r'),
                _ => null,
            };
            if (perl is not null)
            {
                _pos++;
                return perl;
            }
            return inClass ? throw new FormatException("escape") : Literal(EscapedChar());
        }

        private static bool IsWord(int x) => x is (>= '0' and <= '9') or (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';

        private int EscapedChar()
        {
            char c = pattern[_pos++];
            switch (c)
            {
                case 'n':
                    return '\n';
                case 't':
                    return '\t';
                case 'r':
                    return '\r';
                case 'f':
                    return '\f';
                case 'v':
                    return '\v';
                case 'a':
                    return 7;
                case 'x':
                    int value = 0, digits = 0;
                    while (digits < 2 && _pos < pattern.Length && char.IsAsciiHexDigit(pattern[_pos]))
                    {
                        value = (value * 16) + System.Convert.ToInt32(pattern[_pos++].ToString(), 16);
                        digits++;
                    }
                    return digits == 2 ? value : throw new FormatException("invalid escape sequence: \\x");
                default:
                    // RE2: any punctuation may be escaped; a letter or digit escape it does not know is an error.
                    if (c < 0x80 && !char.IsAsciiLetterOrDigit(c))
                    {
                        return c;
                    }
                    throw new FormatException($"invalid escape sequence: \\{c}");
            }
        }

        private static List<Inst> Shift(List<Inst> fragment, int offset)
        {
            var moved = new List<Inst>(fragment.Count);
            foreach (Inst inst in fragment)
            {
                moved.Add(inst switch
                {
                    Inst.Split s => new Inst.Split(s.First + offset, s.Second + offset),
                    Inst.Jump j => new Inst.Jump(j.To + offset),
                    _ => inst,
                });
            }
            return moved;
        }

        private static List<Inst> Bounded(List<Inst> program) =>
            program.Count > MaxProgram ? throw new FormatException("expression too large") : program;
    }
}
