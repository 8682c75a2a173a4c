using System.Globalization;
using System.Text;
using Emissary.Tekton;
using Xunit.Abstractions;

namespace Emissary.Tests.Unit.Tekton.Cel;

/// <summary>A textproto message: fields in order, each a scalar (string/number/enum, as text or bytes) or a message.</summary>
internal sealed class TextProtoNode
{
    public List<(string Name, TextProtoNode? Message, byte[]? Scalar)> Fields { get; } = [];

    public TextProtoNode? Message(string name) => Fields.Find(f => f.Name == name && f.Message is not null).Message;

    public IEnumerable<TextProtoNode> Messages(string name) => Fields.Where(f => f.Name == name && f.Message is not null).Select(f => f.Message!);

    public string? Text(string name) => Fields.Find(f => f.Name == name && f.Scalar is not null).Scalar is { } s ? Encoding.UTF8.GetString(s) : null;

    public byte[]? Bytes(string name) => Fields.Find(f => f.Name == name && f.Scalar is not null).Scalar;

    public bool Has(string name) => Fields.Exists(f => f.Name == name);

    /// <summary>The shapes cel-spec's simple tests use: <c>name: scalar</c>, <c>name {..}</c>, <c>name: {..}</c>, # comments, C escapes.</summary>
    public static TextProtoNode Parse(string text)
    {
        int pos = 0;
        TextProtoNode root = ParseFields(text, ref pos, '\0');
        return root;
    }

    private static TextProtoNode ParseFields(string text, ref int pos, char close)
    {
        var node = new TextProtoNode();
        while (true)
        {
            Skip(text, ref pos);
            if (pos >= text.Length || text[pos] == close)
            {
                pos++;
                return node;
            }
            int start = pos;
            while (char.IsAsciiLetterOrDigit(text[pos]) || text[pos] is '_' or '.' or '[' or ']' or '/')
            {
                pos++;
            }
            string name = text[start..pos];
            Skip(text, ref pos);
            if (text[pos] == ':')
            {
                pos++;
                Skip(text, ref pos);
            }
            if (text[pos] is '{' or '<')
            {
                char end = text[pos] == '{' ? '}' : '>';
                pos++;
                node.Fields.Add((name, ParseFields(text, ref pos, end), null));
            }
            else if (text[pos] == '[')
            {
                throw new FormatException("repeated scalar lists are not used in these files");
            }
            else
            {
                node.Fields.Add((name, null, Scalar(text, ref pos)));
            }
        }
    }

    private static byte[] Scalar(string text, ref int pos)
    {
        if (text[pos] is not ('"' or '\''))
        {
            int start = pos;
            while (pos < text.Length && !char.IsWhiteSpace(text[pos]) && text[pos] is not ('}' or '>' or '#'))
            {
                pos++;
            }
            return Encoding.UTF8.GetBytes(text[start..pos]);
        }
        var bytes = new List<byte>();
        while (pos < text.Length && text[pos] is '"' or '\'')
        {
            char quote = text[pos++];
            while (text[pos] != quote)
            {
                char c = text[pos++];
                if (c != '\\')
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                    continue;
                }
                c = text[pos++];
                switch (c)
                {
                    case 'n': bytes.Add(10); break;
                    case 't': bytes.Add(9); break;
                    case 'r': bytes.Add(13); break;
                    case 'a': bytes.Add(7); break;
                    case 'b': bytes.Add(8); break;
                    case 'f': bytes.Add(12); break;
                    case 'v': bytes.Add(11); break;
                    case 'x':
                        int hex = 0, n = 0;
                        while (n < 2 && char.IsAsciiHexDigit(text[pos]))
                        {
                            hex = (hex * 16) + Convert.ToInt32(text[pos++].ToString(), 16);
                            n++;
                        }
                        bytes.Add((byte)hex);
                        break;
                    case 'u' or 'U':
                        int digits = c == 'u' ? 4 : 8;
                        int code = int.Parse(text.AsSpan(pos, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        pos += digits;
                        bytes.AddRange(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(code)));
                        break;
                    case >= '0' and <= '7':
                        int octal = c - '0';
                        for (int i = 0; i < 2 && text[pos] is >= '0' and <= '7'; i++)
                        {
                            octal = (octal * 8) + (text[pos++] - '0');
                        }
                        bytes.Add((byte)octal);
                        break;
                    default:
                        bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                        break;
                }
            }
            pos++;
            Skip(text, ref pos);
        }
        return bytes.ToArray();
    }

    private static void Skip(string text, ref int pos)
    {
        while (pos < text.Length)
        {
            if (char.IsWhiteSpace(text[pos]))
            {
                pos++;
            }
            else if (text[pos] == '#')
            {
                while (pos < text.Length && text[pos] != '\n')
                {
                    pos++;
                }
            }
            else
            {
                return;
            }
        }
    }
}

/// <summary>
/// cel-spec's own conformance cases (tests/simple/testdata, copied in cel-spec/ with its README)
/// through our CEL: each case inside the subset must give the expected value, or an error where
/// one is expected. A case is outside the subset by one of the rules in <see cref="OutOfSubset"/>,
/// each a reason and never silent: the counts per file go to the test output and docs/tekton-cel.md.
/// <c>disable_check: true</c> cases skip our checker, as cel-spec means them to.
/// </summary>
public sealed class CelSpecConformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Files =>
        ["basic", "comparisons", "conversions", "fp_math", "integer_math", "lists", "logic", "macros", "macros2", "string", "fields", "parse", "plumbing"];

    /// <summary>Why a case is outside the subset (null: inside). Tekton's cel.NewEnv() declares no variables, types or extensions.</summary>
    internal static string? OutOfSubset(TextProtoNode test)
    {
        string expr = test.Text("expr") ?? "";
        if (test.Has("type_env") || test.Has("bindings"))
        {
            return "declares variables (Tekton's environment has none)";
        }
        if (test.Text("container") is { Length: > 0 })
        {
            return "a container (namespace) for names";
        }
        if (test.Has("check_only") || test.Has("typed_result"))
        {
            return "checks the type checker's output types";
        }
        if (test.Has("disable_macros"))
        {
            return "macros disabled";
        }
        string[] protobuf = ["google.protobuf", "TestAllTypes", "NestedTestAllTypes", "cel.expr", "proto2", "proto3", "google.", "Any{"];
        if (protobuf.Any(p => expr.Contains(p, StringComparison.Ordinal)) || Mentions(test.Message("value"), "object_value") || Mentions(test.Message("value"), "enum_value"))
        {
            return "protobuf messages";
        }
        string[] time = ["timestamp(", "duration(", "getSeconds", "getHours", "getMinutes", "getDate", "getDay", "getMonth", "getFullYear", "getMilliseconds"];
        if (time.Any(t => expr.Contains(t, StringComparison.Ordinal)))
        {
            return "timestamps and durations";
        }
        if (expr.Contains("optional", StringComparison.Ordinal) || expr.Contains("?.", StringComparison.Ordinal) || expr.Contains(".?", StringComparison.Ordinal) || expr.Contains("[?", StringComparison.Ordinal))
        {
            return "optionals (an extension)";
        }
        string[] extensions = ["transformList", "transformMap", "transformMapEntry", "cel.bind", ".sortBy", "existsOne", "lowerAscii", "upperAscii", "charAt", "indexOf", ".join(", ".split(", ".replace(", ".trim(", ".substring(", "strings.quote", ".format(", "math.", "sets.", "base64", ".reverse(", "lists.", ".flatten(", ".slice(", ".sort(", ".distinct("];
        if (extensions.Any(e => expr.Contains(e, StringComparison.Ordinal)))
        {
            return "an extension library function (not in cel.NewEnv())";
        }
        if (expr.Contains("(i, v,", StringComparison.Ordinal) || expr.Contains("(k, v,", StringComparison.Ordinal) || expr.Contains("(i,v,", StringComparison.Ordinal))
        {
            return "two-variable comprehensions (an extension)";
        }
        return null;
    }

    private static bool Mentions(TextProtoNode? node, string field) =>
        node is not null && (node.Has(field) || node.Fields.Any(f => f.Message is not null && Mentions(f.Message, field)));

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_case_of_the_subset_passes(string file)
    {
        TextProtoNode root = TextProtoNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Unit", "Tekton", "Cel", "cel-spec", file + ".textproto")));
        int total = 0, inSubset = 0, passing = 0;
        var failures = new List<string>();
        var skipped = new Dictionary<string, int>();
        foreach (TextProtoNode section in root.Messages("section"))
        {
            foreach (TextProtoNode test in section.Messages("test"))
            {
                total++;
                if (OutOfSubset(test) is { } reason)
                {
                    skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                    continue;
                }
                inSubset++;
                string id = $"{section.Text("name")}/{test.Text("name")}: {test.Text("expr")}";
                string? problem = Run(test);
                if (problem is null)
                {
                    passing++;
                }
                else
                {
                    failures.Add(id + " -> " + problem);
                }
            }
        }
        output.WriteLine($"{file}: {total} cases, {inSubset} in the subset, {passing} passing");
        foreach ((string reason, int count) in skipped)
        {
            output.WriteLine($"  out of the subset: {count} ({reason})");
        }
        foreach (string failure in failures)
        {
            output.WriteLine("  FAIL " + failure);
        }
        failures.Should().BeEmpty();
    }

    private static string? Run(TextProtoNode test)
    {
        string expr = test.Text("expr")!;
        object actual;
        try
        {
            CelNode node = CelParser.Parse(expr);
            if (test.Text("disable_check") != "true")
            {
                CelChecker.Check(node);
            }
            actual = CelEvaluator.Evaluate(node);
        }
        catch (CelCompileException e)
        {
            actual = new CelError(e.Message);
        }
        if (test.Has("eval_error"))
        {
            return actual is CelError ? null : "expected an error, got " + CelValues.Display(actual);
        }
        object expected = test.Message("value") is { } value ? ValueOf(value) : true; // no value: the expression must be true
        return actual is not CelError && SameValue(expected, actual) ? null
            : $"expected {CelValues.Display(expected)}, got {CelValues.Display(actual)}";
    }

    /// <summary>Equal and of the same type (CEL's == would call 1 and 1u equal).</summary>
    private static bool SameValue(object expected, object actual)
    {
        if (expected.GetType() != actual.GetType())
        {
            return false;
        }
        switch (expected)
        {
            case double e:
                return double.IsNaN(e) ? double.IsNaN((double)actual) : e.Equals((double)actual);
            case CelList e:
                var a = (CelList)actual;
                return e.Items.Count == a.Items.Count && e.Items.Zip(a.Items).All(p => SameValue(p.First, p.Second));
            case CelMap e:
                var m = (CelMap)actual;
                return e.Keys.Count == m.Keys.Count
                    && e.Keys.Select((k, i) => m.TryGet(k, out object v) && SameValue(e.Values[i], v)).All(ok => ok);
            default:
                return CelValues.Equal(expected, actual);
        }
    }

    private static object ValueOf(TextProtoNode value)
    {
        (string name, TextProtoNode? message, byte[]? scalar) = value.Fields[0];
        string text = scalar is null ? "" : Encoding.UTF8.GetString(scalar);
        switch (name)
        {
            case "int64_value":
                return long.Parse(text, CultureInfo.InvariantCulture);
            case "uint64_value":
                return ulong.Parse(text, CultureInfo.InvariantCulture);
            case "double_value":
                return text.ToLowerInvariant() switch
                {
                    "inf" or "infinity" => double.PositiveInfinity,
                    "-inf" or "-infinity" => double.NegativeInfinity,
                    "nan" => double.NaN,
                    _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
                };
            case "string_value":
                return text;
            case "bytes_value":
                return new CelBytes(scalar!);
            case "bool_value":
                return text == "true";
            case "null_value":
                return CelNull.Value;
            case "type_value":
                return new CelType(text);
            case "list_value":
                return new CelList(message!.Messages("values").Select(ValueOf).ToList());
            case "map_value":
                var map = new CelMap();
                foreach (TextProtoNode entry in message!.Messages("entries"))
                {
                    map.TryAdd(ValueOf(entry.Message("key")!), ValueOf(entry.Message("value")!));
                }
                return map;
            default:
                throw new FormatException("a value of kind " + name);
        }
    }
}
