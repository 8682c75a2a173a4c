using Emissary.Foundation.Sequences;

namespace Emissary.Tekton;

/// <summary>
/// The part of cel-go's type check (env.Compile) that matters in Tekton's environment, which
/// declares no variables: an unknown name or function, a macro without a simple variable, and an
/// operator between two operands whose types are known and differ (<c>1 == 1.0</c>,
/// <c>'a' + 1</c>, <c>1 && true</c>) are compile errors there, so the step fails here too
/// instead of running. Types are inferred from literals only: whatever comes out of an index, a
/// field, a macro variable or <c>dyn()</c> is <c>dyn</c> and passes, as in cel-go.
/// </summary>
internal sealed class CelChecker
{
    private const string Dyn = "dyn";
    private readonly List<string> _variables = [];

    public static void Check(CelNode node) => new CelChecker().TypeOf(node);

    private string TypeOf(CelNode node)
    {
        switch (node)
        {
            case CelNode.Literal literal:
                return CelValues.TypeName(literal.Value);
            case CelNode.Ident ident:
                if (_variables.Contains(ident.Name, StringComparer.Ordinal))
                {
                    return Dyn;
                }
                return Array.IndexOf(CelValues.TypeNames, ident.Name) >= 0 ? "type"
                    : throw Refuse($"undeclared reference to '{ident.Name}' (in container '')");
            case CelNode.Select select:
                string operand = TypeOf(select.Operand);
                return operand is Dyn or "map" ? (select.TestOnly ? "bool" : Dyn)
                    : throw Refuse($"type '{operand}' does not support field selection");
            case CelNode.ListLiteral list:
                foreach (CelNode item in list.Items)
                {
                    TypeOf(item);
                }
                return "list";
            case CelNode.MapLiteral map:
                for (int i = 0; i < map.Keys.Length; i++)
                {
                    TypeOf(map.Keys[i]);
                    TypeOf(map.Values[i]);
                }
                return "map";
            default:
                return Call((CelNode.Call)node);
        }
    }

    private string Call(CelNode.Call call)
    {
        if (call.Target is not null && call.Function is "all" or "exists" or "exists_one" or "map" or "filter")
        {
            return Macro(call);
        }
        string? target = call.Target is null ? null : TypeOf(call.Target);
        var args = new string[call.Args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = TypeOf(call.Args[i]);
        }
        switch (call.Function)
        {
            case "_==_" or "_!=_":
                Same(call.Function, args[0], args[1], nullMatches: true);
                return "bool";
            case "_<_" or "_<=_" or "_>_" or "_>=_":
                Same(call.Function, args[0], args[1], nullMatches: false);
                Among(call.Function, args, "int", "uint", "double", "string", "bytes", "bool");
                return "bool";
            case "_+_":
                Same(call.Function, args[0], args[1], nullMatches: false);
                Among(call.Function, args, "int", "uint", "double", "string", "bytes", "list");
                return args[0] == Dyn ? args[1] : args[0];
            case "_-_" or "_*_" or "_/_" or "_%_":
                Same(call.Function, args[0], args[1], nullMatches: false);
                Among(call.Function, args, "int", "uint", "double");
                if (call.Function == "_%_")
                {
                    Among(call.Function, args, "int", "uint");
                }
                return args[0] == Dyn ? args[1] : args[0];
            case "-_":
                Among(call.Function, args, "int", "double");
                return args[0];
            case "!_" or "_&&_" or "_||_":
                Among(call.Function, args, "bool");
                return "bool";
            case "_?_:_":
                Among(call.Function, [args[0]], "bool");
                return args[1] == args[2] ? args[1] : Dyn;
            case "@in":
                Among(call.Function, [args[1]], "list", "map");
                return "bool";
            case "_[_]":
                Among(call.Function, [args[0]], "list", "map");
                return Dyn;
            case "size" when (target is null && args.Length == 1) || (target is not null && args.Length == 0):
                Among(call.Function, [target ?? args[0]], "string", "bytes", "list", "map");
                return "int";
            case "contains" or "startsWith" or "endsWith" or "matches" when target is not null && args.Length == 1:
                Among(call.Function, [target, args[0]], "string");
                return "bool";
            case "matches" when target is null && args.Length == 2:
                Among(call.Function, args, "string");
                return "bool";
            case "int" or "uint" or "double" or "string" or "bool" or "bytes" when target is null && args.Length == 1:
                return call.Function;
            case "dyn" when target is null && args.Length == 1:
                return Dyn;
            case "type" when target is null && args.Length == 1:
                return "type";
            default:
                throw Refuse($"undeclared reference to '{call.Function}' (in container '')");
        }
    }

    private string Macro(CelNode.Call call)
    {
        int arity = call.Function == "map" ? call.Args.Length : 2;
        if (call.Args.Length != arity || arity is < 2 or > 3)
        {
            throw Refuse($"undeclared reference to '{call.Function}' (in container '')");
        }
        if (call.Args[0] is not CelNode.Ident variable)
        {
            throw Refuse("argument must be a simple name");
        }
        Among(call.Function, [TypeOf(call.Target!)], "list", "map");
        _variables.Add(variable.Name);
        for (int i = 1; i < call.Args.Length; i++)
        {
            string type = TypeOf(call.Args[i]);
            if (call.Function != "map" || i < call.Args.Length - 1)
            {
                Among(call.Function, [type], "bool");
            }
        }
        _variables.RemoveAt(_variables.Count - 1);
        return call.Function is "map" or "filter" ? "list" : "bool";
    }

    /// <summary>Both operands of a known type must be the same type (cel-go has no implicit conversion).</summary>
    private static void Same(string function, string a, string b, bool nullMatches)
    {
        if (a != b && a != Dyn && b != Dyn && !(nullMatches && (a == "null_type" || b == "null_type")))
        {
            throw NoOverload(function, [a, b]);
        }
    }

    private static void Among(string function, string[] types, params string[] allowed)
    {
        foreach (string type in types)
        {
            if (type != Dyn && Array.IndexOf(allowed, type) < 0)
            {
                throw NoOverload(function, types);
            }
        }
    }

    private static CelCompileException NoOverload(string function, string[] types) =>
        Refuse($"found no matching overload for '{function}' applied to '({string.Join(", ", types)})'");

    private static CelCompileException Refuse(string message) => new("ERROR: <input>: " + message);
}

/// <summary>Tekton's allowExec for one CEL expression: compile (parse + check), evaluate, demand a bool.</summary>
internal static class CelProgram
{
    /// <summary>The expression's value: a bool, or the error Tekton's Go() returns (exit 1).</summary>
    public static bool Evaluate(string expression, out string? error)
    {
        object value;
        try
        {
            CelNode node = CelParser.Parse(expression);
            CelChecker.Check(node);
            value = CelEvaluator.Evaluate(node);
        }
        catch (CelCompileException e)
        {
            error = e.Message;
            return false;
        }
        error = value switch
        {
            bool => null,
            CelError e => e.Message,
            _ => $"the CEL expression {expression} is not evaluated to a boolean",
        };
        return value is true;
    }
}
