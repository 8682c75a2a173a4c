using System.Globalization;
using System.Text;

namespace Emissary.Tekton;

// CEL values as plain CLR objects: long (int), ulong (uint), double, bool, string, and the classes
// below. Errors are values too (CelError), as in CEL: `false && 1/0 == 1` is false, not an error.

internal sealed class CelNull
{
    public static readonly CelNull Value = new();

    private CelNull()
    {
    }
}

internal sealed class CelBytes(byte[] data)
{
    public byte[] Data { get; } = data;
}

internal sealed class CelList(List<object> items)
{
    public List<object> Items { get; } = items;
}

/// <summary>A map in insertion order; keys are int, uint, string or bool, looked up across numeric types as cel-go does.</summary>
internal sealed class CelMap
{
    private readonly Dictionary<object, int> _index = [];

    public List<object> Keys { get; } = [];

    public List<object> Values { get; } = [];

    /// <summary>Adds an entry; false if the key is already there.</summary>
    public bool TryAdd(object key, object value)
    {
        if (!_index.TryAdd(CelValues.KeyOf(key)!, Keys.Count))
        {
            return false;
        }
        Keys.Add(key);
        Values.Add(value);
        return true;
    }

    public bool TryGet(object key, out object value)
    {
        if (CelValues.KeyOf(key) is { } normal && _index.TryGetValue(normal, out int at))
        {
            value = Values[at];
            return true;
        }
        value = CelNull.Value;
        return false;
    }
}

/// <summary>A type as a value (<c>type(1) == int</c>).</summary>
internal sealed class CelType(string name)
{
    public string Name { get; } = name;

    public override string ToString() => Name;
}

internal sealed class CelError(string message)
{
    public string Message { get; } = message;

    public static readonly CelError NoOverload = new("no such overload");

    public static readonly CelError Overflow = new("return error for overflow");
}

internal static class CelValues
{
    public static readonly string[] TypeNames = ["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"];

    public static string TypeName(object value) => value switch
    {
        long => "int",
        ulong => "uint",
        double => "double",
        bool => "bool",
        string => "string",
        CelBytes => "bytes",
        CelList => "list",
        CelMap => "map",
        CelNull => "null_type",
        _ => "type",
    };

    /// <summary>The dictionary key of a map key: numbers by value (1, 1u and 1.0 are one key), null if not a valid key.</summary>
    public static object? KeyOf(object key) => key switch
    {
        long or string or bool => key,
        ulong u => u <= long.MaxValue ? (long)u : u,
        double d when d == Math.Floor(d) && d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 => (long)d,
        double d when d == Math.Floor(d) && d >= 0 && d < 1.8446744073709552e19 => (ulong)d,
        _ => null,
    };

    /// <summary>CEL's heterogeneous equality: numbers by value, lists and maps deeply, other types never equal.</summary>
    public static bool Equal(object a, object b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return CompareNumbers(a, b) == 0;
        }
        switch (a)
        {
            case string s:
                return b is string text && string.Equals(s, text, StringComparison.Ordinal);
            case bool x:
                return b is bool other && x == other;
            case CelNull:
                return b is CelNull;
            case CelBytes x:
                return b is CelBytes bytes && x.Data.AsSpan().SequenceEqual(bytes.Data);
            case CelType x:
                return b is CelType type && x.Name == type.Name;
            case CelList x when b is CelList y:
                if (x.Items.Count != y.Items.Count)
                {
                    return false;
                }
                for (int i = 0; i < x.Items.Count; i++)
                {
                    if (!Equal(x.Items[i], y.Items[i]))
                    {
                        return false;
                    }
                }
                return true;
            case CelMap x when b is CelMap m:
                if (x.Keys.Count != m.Keys.Count)
                {
                    return false;
                }
                for (int i = 0; i < x.Keys.Count; i++)
                {
                    if (!m.TryGet(x.Keys[i], out object found) || !Equal(x.Values[i], found))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return false;
        }
    }

    public static bool IsNumber(object value) => value is long or ulong or double;

    /// <summary>-1, 0, 1 across int, uint and double (int and uint exactly, against a double as a double); null when a NaN makes them unordered.</summary>
    public static int? CompareNumbers(object a, object b)
    {
        switch (a, b)
        {
            case (long x, long y):
                return x.CompareTo(y);
            case (ulong x, ulong y):
                return x.CompareTo(y);
            case (double x, double y):
                return double.IsNaN(x) || double.IsNaN(y) ? null : x.CompareTo(y);
            case (long x, ulong y):
                return x < 0 ? -1 : ((ulong)x).CompareTo(y);
            case (ulong, long):
                return -CompareNumbers(b, a);
            case (double x, _):
                return CompareDouble(x, b);
            default:
                return -CompareDouble((double)b, a);
        }
    }

    // As cel-go: the integer converted to a double (lossy above 2^53), so 2^63-1 and 2^63 compare equal.
    private static int? CompareDouble(double d, object integer) =>
        double.IsNaN(d) ? null : d.CompareTo(integer is long l ? (double)l : (double)(ulong)integer);

    /// <summary>Code point order (UTF-8 byte order), not UTF-16 unit order.</summary>
    public static int CompareStrings(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            int x = CelText.CodePointAt(a, i, out int wa), y = CelText.CodePointAt(b, j, out int wb);
            if (x != y)
            {
                return x < y ? -1 : 1;
            }
            i += wa;
            j += wb;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }

    /// <summary>A double as Go's strconv.FormatFloat(d, 'g', -1, 64), as cel-go's string(double) writes it.</summary>
    public static string FormatDouble(double d)
    {
        if (double.IsNaN(d))
        {
            return "NaN";
        }
        if (double.IsInfinity(d))
        {
            return d > 0 ? "+Inf" : "-Inf";
        }
        // The shortest round-trip digits and the decimal exponent, from .NET's "R" form.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest.StartsWith('-');
        string body = negative ? shortest[1..] : shortest;
        int exponent = 0;
        int e = body.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }
        int dot = body.IndexOf('.');
        string digits = dot >= 0 ? body.Remove(dot, 1) : body;
        int pointAt = (dot >= 0 ? dot : body.Length) + exponent; // digits before the decimal point
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
            pointAt--;
        }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0)
        {
            return negative ? "-0" : "0";
        }
        int x = pointAt - 1;
        var sb = new StringBuilder(negative ? "-" : "");
        // Go's %g with the shortest precision: an exponent form below 1e-4 and from 1e+06 up.
        if (x < -4 || x >= 6)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
            {
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            }
            sb.Append(x < 0 ? "e-" : "e+").Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (pointAt <= 0)
        {
            sb.Append("0.").Append('0', -pointAt).Append(digits);
        }
        else if (pointAt >= digits.Length)
        {
            sb.Append(digits).Append('0', pointAt - digits.Length);
        }
        else
        {
            sb.Append(digits, 0, pointAt).Append('.').Append(digits, pointAt, digits.Length - pointAt);
        }
        return sb.ToString();
    }

    /// <summary>The value as the one line of an error or a test's failure message.</summary>
    public static string Display(object value) => value switch
    {
        string s => "\"" + s + "\"",
        ulong u => u.ToString(CultureInfo.InvariantCulture) + "u",
        double d => FormatDouble(d),
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        CelNull => "null",
        CelError err => "error: " + err.Message,
        CelType t => t.Name,
        CelBytes => "bytes",
        CelList list => "list of " + list.Items.Count.ToString(CultureInfo.InvariantCulture),
        CelMap map => "map of " + map.Keys.Count.ToString(CultureInfo.InvariantCulture),
        _ => "?",
    };
}

internal static class CelText
{
    /// <summary>The code point at <paramref name="index"/>; a lone surrogate reads as U+FFFD.</summary>
    public static int CodePointAt(string text, int index, out int width)
    {
        if (char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(text[index], text[index + 1]);
        }
        width = 1;
        return char.IsSurrogate(text[index]) ? 0xFFFD : text[index];
    }

    public static long CodePointCount(string text)
    {
        long count = 0;
        for (int i = 0; i < text.Length; count++)
        {
            CodePointAt(text, i, out int width);
            i += width;
        }
        return count;
    }

    /// <summary>Bytes as a string if they are valid UTF-8 (cel-go's string(bytes)), else null.</summary>
    public static string? DecodeUtf8(byte[] data)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(data);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
