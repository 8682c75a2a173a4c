using System.Globalization;
using System.Text;

namespace Emissary.Tekton;

/// <summary>
/// Walks a parsed CEL expression to its value, with cel-go's runtime semantics for the standard
/// environment Tekton builds (cel.NewEnv(): no variables, the standard functions and macros).
/// Errors are values: <c>&&</c>, <c>||</c>, <c>all</c> and <c>exists</c> absorb them when the other
/// side decides; every other function passes the first on. Work is bounded by
/// <see cref="MaxCost"/>: a step per node visited and per element or character built, so a
/// nested <c>map</c> over a long list ends with an error instead of running on.
/// </summary>
internal sealed class CelEvaluator
{
    public const long MaxCost = 1_000_000;

    private static readonly CelError CostExceeded = new("evaluation cost limit exceeded: " + MaxCost);
    private readonly List<KeyValuePair<string, object>> _scope = [];
    private long _cost;

    public static object Evaluate(CelNode node) => new CelEvaluator().Eval(node);

    private bool Charge(long units)
    {
        _cost += units;
        return _cost <= MaxCost;
    }

    private object Eval(CelNode node)
    {
        if (!Charge(1))
        {
            return CostExceeded;
        }
        switch (node)
        {
            case CelNode.Literal literal:
                return literal.Value;
            case CelNode.Ident ident:
                return Lookup(ident.Name);
            case CelNode.Select select:
                return Select(Eval(select.Operand), select.Field, select.TestOnly);
            case CelNode.ListLiteral list:
                var items = new List<object>(list.Items.Length);
                foreach (CelNode item in list.Items)
                {
                    object value = Eval(item);
                    if (value is CelError)
                    {
                        return value;
                    }
                    items.Add(value);
                }
                return new CelList(items);
            case CelNode.MapLiteral map:
                var result = new CelMap();
                for (int i = 0; i < map.Keys.Length; i++)
                {
                    object key = Eval(map.Keys[i]);
                    if (key is CelError)
                    {
                        return key;
                    }
                    object value = Eval(map.Values[i]);
                    if (value is CelError)
                    {
                        return value;
                    }
                    if (key is not (long or ulong or string or bool))
                    {
                        return new CelError($"unsupported key type: {CelValues.TypeName(key)}");
                    }
                    if (!result.TryAdd(key, value))
                    {
                        return new CelError($"Failed with repeated key: {CelValues.Display(key)}");
                    }
                }
                return result;
            case CelNode.Call call:
                return Call(call);
            default:
                return CelError.NoOverload;
        }
    }

    private object Lookup(string name)
    {
        for (int i = _scope.Count - 1; i >= 0; i--)
        {
            if (_scope[i].Key == name)
            {
                return _scope[i].Value;
            }
        }
        return Array.IndexOf(CelValues.TypeNames, name) >= 0 ? new CelType(name)
            : new CelError($"no such attribute: {name}");
    }

    private static object Select(object operand, string field, bool testOnly)
    {
        if (operand is CelError)
        {
            return operand;
        }
        if (operand is not CelMap map)
        {
            return new CelError($"type '{CelValues.TypeName(operand)}' does not support field selection");
        }
        bool found = map.TryGet(field, out object value);
        return testOnly ? found : found ? value : new CelError($"no such key: {field}");
    }

    private object Call(CelNode.Call call)
    {
        switch (call.Function)
        {
            case "_&&_":
            case "_||_":
                return Logic(call.Function == "_||_", call.Args[0], call.Args[1]);
            case "_?_:_":
                object condition = Eval(call.Args[0]);
                return condition switch
                {
                    CelError => condition,
                    bool b => Eval(call.Args[b ? 1 : 2]),
                    _ => CelError.NoOverload,
                };
            case "all" or "exists" or "exists_one" or "map" or "filter" when call.Target is not null:
                return Macro(call);
        }
        object? target = null;
        if (call.Target is not null)
        {
            target = Eval(call.Target);
            if (target is CelError)
            {
                return target;
            }
        }
        var args = new object[call.Args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = Eval(call.Args[i]);
            if (args[i] is CelError)
            {
                return args[i];
            }
        }
        return CelFunctions.Apply(call.Function, target, args, this);
    }

    /// <summary><c>&&</c> / <c>||</c>: the deciding value wins over an error on either side (commutative).</summary>
    private object Logic(bool or, CelNode leftNode, CelNode rightNode)
    {
        object left = Eval(leftNode);
        if (left is bool l && l == or)
        {
            return or;
        }
        object right = Eval(rightNode);
        if (right is bool r && r == or)
        {
            return or;
        }
        if (left is bool && right is bool)
        {
            return !or;
        }
        return left is CelError ? left : right is CelError ? right : CelError.NoOverload;
    }

    private object Macro(CelNode.Call call)
    {
        object range = Eval(call.Target!);
        if (range is CelError)
        {
            return range;
        }
        List<object> elements = range switch
        {
            CelList list => list.Items,
            CelMap map => map.Keys,
            _ => [],
        };
        if (range is not (CelList or CelMap))
        {
            return CelError.NoOverload;
        }
        string variable = ((CelNode.Ident)call.Args[0]).Name;
        CelNode body = call.Args[^1];
        CelNode? filter = call.Function == "map" && call.Args.Length == 3 ? call.Args[1] : null;
        bool quantifier = call.Function is "all" or "exists";
        bool decided = call.Function == "exists"; // the value that ends all/exists early
        object? pending = null; // an error all/exists absorbs unless no element decides
        int matched = 0;
        var produced = new List<object>();
        foreach (object element in elements)
        {
            _scope.Add(new(variable, element));
            object value;
            try
            {
                if (filter is not null)
                {
                    object keep = Eval(filter);
                    if (keep is not bool k)
                    {
                        return keep is CelError ? keep : CelError.NoOverload;
                    }
                    if (!k)
                    {
                        continue;
                    }
                }
                value = Eval(body);
            }
            finally
            {
                _scope.RemoveAt(_scope.Count - 1);
            }
            if (quantifier)
            {
                if (value is bool b)
                {
                    if (b == decided)
                    {
                        return decided;
                    }
                }
                else
                {
                    pending ??= value is CelError ? value : CelError.NoOverload;
                }
                continue;
            }
            if (value is CelError)
            {
                return value;
            }
            switch (call.Function)
            {
                case "exists_one":
                    if (value is not bool one)
                    {
                        return CelError.NoOverload;
                    }
                    matched += one ? 1 : 0;
                    break;
                case "filter":
                    if (value is not bool keepIt)
                    {
                        return CelError.NoOverload;
                    }
                    if (keepIt)
                    {
                        produced.Add(element);
                    }
                    break;
                default:
                    produced.Add(value);
                    break;
            }
            if (!Charge(1))
            {
                return CostExceeded;
            }
        }
        return call.Function switch
        {
            "all" or "exists" => pending ?? !decided,
            "exists_one" => matched == 1,
            _ => new CelList(produced),
        };
    }

    /// <summary>Charges for a value built of <paramref name="size"/> elements or characters; false past the limit.</summary>
    public bool ChargeFor(long size) => Charge(size / 8);

    public static CelError CostError => CostExceeded;
}

/// <summary>CEL's standard functions and operators on evaluated arguments (cel-spec doc/langdef.md, "Functions").</summary>
internal static class CelFunctions
{
    public static object Apply(string function, object? target, object[] args, CelEvaluator evaluator)
    {
        switch (function, target, args.Length)
        {
            case ("_==_", null, 2):
                return CelValues.Equal(args[0], args[1]);
            case ("_!=_", null, 2):
                return !CelValues.Equal(args[0], args[1]);
            case ("_<_" or "_<=_" or "_>_" or "_>=_", null, 2):
                return Compare(function, args[0], args[1]);
            case ("_+_", null, 2):
                return Add(args[0], args[1], evaluator);
            case ("_-_" or "_*_" or "_/_" or "_%_", null, 2):
                return Arithmetic(function[1], args[0], args[1]);
            case ("-_", null, 1):
                return args[0] switch
                {
                    long l => l == long.MinValue ? CelError.Overflow : -l,
                    double d => -d,
                    _ => CelError.NoOverload,
                };
            case ("!_", null, 1):
                return args[0] is bool b ? !b : CelError.NoOverload;
            case ("@in", null, 2):
                return In(args[0], args[1]);
            case ("_[_]", null, 2):
                return Index(args[0], args[1]);
            case ("size", null, 1):
                return Size(args[0]);
            case ("size", not null, 0):
                return Size(target);
            case ("contains" or "startsWith" or "endsWith", string s, 1):
                if (args[0] is not string part)
                {
                    return CelError.NoOverload;
                }
                return function switch
                {
                    "contains" => s.Contains(part, StringComparison.Ordinal),
                    "startsWith" => s.StartsWith(part, StringComparison.Ordinal),
                    _ => s.EndsWith(part, StringComparison.Ordinal),
                };
            case ("matches", string s, 1):
                return args[0] is string re ? CelRegex.Matches(re, s) : CelError.NoOverload;
            case ("matches", null, 2):
                return args[0] is string text && args[1] is string pattern ? CelRegex.Matches(pattern, text) : CelError.NoOverload;
            case ("int" or "uint" or "double" or "string" or "bool" or "bytes" or "dyn" or "type", null, 1):
                return CelConversions.Convert(function, args[0]);
            default:
                return new CelError($"no such overload: {function}");
        }
    }

    private static object Size(object value) => value switch
    {
        string s => CelText.CodePointCount(s),
        CelBytes b => (long)b.Data.Length,
        CelList l => (long)l.Items.Count,
        CelMap m => (long)m.Keys.Count,
        _ => CelError.NoOverload,
    };

    private static object Compare(string op, object a, object b)
    {
        int? order;
        if (CelValues.IsNumber(a) && CelValues.IsNumber(b))
        {
            order = CelValues.CompareNumbers(a, b);
            if (order is null)
            {
                return false; // NaN: every comparison is false
            }
        }
        else
        {
            order = (a, b) switch
            {
                (string x, string y) => CelValues.CompareStrings(x, y),
                (bool x, bool y) => x.CompareTo(y),
                (CelBytes x, CelBytes y) => x.Data.AsSpan().SequenceCompareTo(y.Data),
                _ => null,
            };
            if (order is null)
            {
                return CelError.NoOverload;
            }
        }
        int o = order.Value;
        return op switch
        {
            "_<_" => o < 0,
            "_<=_" => o <= 0,
            "_>_" => o > 0,
            _ => o >= 0,
        };
    }

    private static object Add(object a, object b, CelEvaluator evaluator)
    {
        switch (a, b)
        {
            case (string x, string y):
                return evaluator.ChargeFor((long)x.Length + y.Length) ? x + y : CelEvaluator.CostError;
            case (CelBytes x, CelBytes y):
                if (!evaluator.ChargeFor((long)x.Data.Length + y.Data.Length))
                {
                    return CelEvaluator.CostError;
                }
                var joined = new byte[x.Data.Length + y.Data.Length];
                x.Data.CopyTo(joined, 0);
                y.Data.CopyTo(joined, x.Data.Length);
                return new CelBytes(joined);
            case (CelList x, CelList y):
                if (!evaluator.ChargeFor((long)x.Items.Count + y.Items.Count))
                {
                    return CelEvaluator.CostError;
                }
                var items = new List<object>(x.Items.Count + y.Items.Count);
                items.AddRange(x.Items);
                items.AddRange(y.Items);
                return new CelList(items);
            default:
                return Arithmetic('+', a, b);
        }
    }

    private static object Arithmetic(char op, object a, object b)
    {
        try
        {
            switch (a, b)
            {
                case (long x, long y):
                    return op switch
                    {
                        '+' => checked(x + y),
                        '-' => checked(x - y),
                        '*' => checked(x * y),
                        '/' => y == 0 ? new CelError("division by zero") : x == long.MinValue && y == -1 ? CelError.Overflow : x / y,
                        _ => y == 0 ? new CelError("modulus by zero") : x == long.MinValue && y == -1 ? CelError.Overflow : x % y,
                    };
                case (ulong x, ulong y):
                    return op switch
                    {
                        '+' => checked(x + y),
                        '-' => checked(x - y),
                        '*' => checked(x * y),
                        '/' => y == 0 ? new CelError("division by zero") : x / y,
                        _ => y == 0 ? new CelError("modulus by zero") : x % y,
                    };
                case (double x, double y):
                    return op switch
                    {
                        '+' => x + y,
                        '-' => x - y,
                        '*' => x * y,
                        '/' => x / y,
                        _ => CelError.NoOverload, // no % on doubles
                    };
                default:
                    return CelError.NoOverload;
            }
        }
        catch (OverflowException)
        {
            return CelError.Overflow;
        }
    }

    private static object In(object element, object container)
    {
        switch (container)
        {
            case CelList list:
                foreach (object item in list.Items)
                {
                    if (CelValues.Equal(element, item))
                    {
                        return true;
                    }
                }
                return false;
            case CelMap map:
                return map.TryGet(element, out _);
            default:
                return CelError.NoOverload;
        }
    }

    private static object Index(object container, object index)
    {
        switch (container)
        {
            case CelList list:
                if (!CelValues.IsNumber(index) || CelValues.KeyOf(index) is not long at)
                {
                    return index is double or ulong ? new CelError($"invalid_argument: index {CelValues.Display(index)}")
                        : CelError.NoOverload;
                }
                return at >= 0 && at < list.Items.Count ? list.Items[(int)at]
                    : new CelError($"index out of bounds: {at.ToString(CultureInfo.InvariantCulture)}");
            case CelMap map:
                if (index is not (long or ulong or double or string or bool))
                {
                    return new CelError($"unsupported key type: {CelValues.TypeName(index)}");
                }
                return map.TryGet(index, out object value) ? value : new CelError($"no such key: {CelValues.Display(index)}");
            default:
                return CelError.NoOverload;
        }
    }
}

/// <summary>The type conversions int(), uint(), double(), string(), bool(), bytes(), dyn(), type().</summary>
internal static class CelConversions
{
    // The doubles just outside int64 and uint64: a conversion at or beyond them is a range error.
    private const double TwoTo63 = 9.223372036854775808e18;
    private const double TwoTo64 = 1.8446744073709552e19;

    public static object Convert(string type, object value)
    {
        switch (type, value)
        {
            case ("dyn", _):
                return value;
            case ("type", _):
                return new CelType(CelValues.TypeName(value));
            case ("int", long):
                return value;
            case ("int", ulong big):
                return big > long.MaxValue ? new CelError("range error") : (long)big;
            case ("int", double d):
                return double.IsNaN(d) || d <= -TwoTo63 || d >= TwoTo63 ? new CelError("range error") : (long)d;
            case ("int", string s):
                // strconv.ParseInt(s, 10, 64): an optional sign, decimal digits
                return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed)
                    ? parsed : new CelError($"cannot convert \"{s}\" to int");
            case ("uint", ulong):
                return value;
            case ("uint", long signed):
                return signed < 0 ? new CelError("range error") : (ulong)signed;
            case ("uint", double d):
                return double.IsNaN(d) || d < 0 || d >= TwoTo64 ? new CelError("range error") : (ulong)d;
            case ("uint", string s):
                return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong unsigned) ? unsigned : new CelError($"cannot convert \"{s}\" to uint");
            case ("double", double):
                return value;
            case ("double", long l):
                return (double)l;
            case ("double", ulong u):
                return (double)u;
            case ("double", string s):
                return ParseDouble(s) is { } number ? number : new CelError($"cannot convert \"{s}\" to double");
            case ("string", string):
                return value;
            case ("string", long l):
                return l.ToString(CultureInfo.InvariantCulture);
            case ("string", ulong u):
                return u.ToString(CultureInfo.InvariantCulture);
            case ("string", double d):
                return CelValues.FormatDouble(d);
            case ("string", bool b):
                return b ? "true" : "false";
            case ("string", CelBytes bytes):
                return CelText.DecodeUtf8(bytes.Data) is { } text ? text : new CelError("invalid UTF-8");
            case ("string", CelType t):
                return t.Name;
            case ("bool", bool):
                return value;
            case ("bool", string s):
                // strconv.ParseBool's spellings
                return s switch
                {
                    "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
                    "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
                    _ => new CelError($"cannot convert \"{s}\" to bool"),
                };
            case ("bytes", CelBytes):
                return value;
            case ("bytes", string s):
                return new CelBytes(Encoding.UTF8.GetBytes(s));
            default:
                return new CelError($"no such overload: {type}({CelValues.TypeName(value)})");
        }
    }

    /// <summary>strconv.ParseFloat's decimal forms plus inf/infinity/nan in any case.</summary>
    private static double? ParseDouble(string s)
    {
        string body = s.TrimStart('+', '-');
        bool negative = s.StartsWith('-');
        if (s.Length - body.Length > 1)
        {
            return null;
        }
        switch (body.ToLowerInvariant())
        {
            case "inf" or "infinity":
                return negative ? double.NegativeInfinity : double.PositiveInfinity;
            case "nan":
                return double.NaN;
        }
        foreach (char c in body)
        {
            if (!(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-'))
            {
                return null;
            }
        }
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;
    }
}
