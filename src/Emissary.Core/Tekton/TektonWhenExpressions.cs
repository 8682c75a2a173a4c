using Emissary.Foundation.Sequences;
using Emissary.Json;

namespace Emissary.Tekton;

/// <summary>One of v1.StepWhenExpressions: <c>{"input":..,"operator":"in"|"notin","values":[..],"cel":".."}</c>.</summary>
internal sealed record TektonWhenExpression(string Input, string Operator, IReadOnlyList<string> Values, string Cel);

/// <summary>Invalid <c>--when_expressions</c> JSON (Tekton: log.Fatal, exit 1).</summary>
internal sealed class TektonWhenException(string message) : Exception(message);

/// <summary>
/// Step when-expressions (pkg/apis/pipeline/v1/when_types.go), evaluated after step-result
/// substitution. <c>in</c>/<c>notin</c> natively: an operator other than "in" means "not in", as
/// isTrue has it. <c>cel</c> by our own evaluator (Tekton/Cel/, docs/tekton-cel.md): the C#
/// implementation on NuGet (Cel 0.3.3) adds 3.1 MB and a trim warning to a NativeAOT binary.
/// </summary>
internal static class TektonWhenExpressions
{
    public static IReadOnlyList<TektonWhenExpression> Parse(string json)
    {
        if (json.Length == 0)
        {
            return [];
        }
        try
        {
            JsonValue document = JsonValue.Parse(json);
            if (document.Kind == JsonKind.Null)
            {
                return [];
            }
            if (document.Kind != JsonKind.Array)
            {
                throw new TektonWhenException("json: cannot unmarshal when expressions: not an array");
            }
            var list = new List<TektonWhenExpression>();
            foreach (JsonValue item in document.Items)
            {
                if (item.Kind != JsonKind.Object)
                {
                    throw new TektonWhenException("json: cannot unmarshal a when expression: not an object");
                }
                string input = "", op = "", cel = "";
                var values = new List<string>();
                foreach (JsonProperty p in item.Properties)
                {
                    switch (p.Name)
                    {
                        case "input":
                            input = StringOf(p);
                            break;
                        case "operator":
                            op = StringOf(p);
                            break;
                        case "cel":
                            cel = StringOf(p);
                            break;
                        case "values" when p.Value.Kind == JsonKind.Array:
                            values.AddRange(p.Value.Items.Select(v => v.Kind == JsonKind.String ? v.GetString()!
                                : throw new TektonWhenException("json: cannot unmarshal a non-string into values")));
                            break;
                        case "values" when p.Value.Kind == JsonKind.Null:
                            break;
                        case "values":
                            throw new TektonWhenException("json: cannot unmarshal values: not an array");
                    }
                }
                list.Add(new TektonWhenExpression(input, op, values, cel));
            }
            return list;
        }
        catch (JsonFormatException e)
        {
            throw new TektonWhenException(e.Message);
        }
    }

    /// <summary>
    /// Whether the step runs, as Tekton's allowExec: the CEL expressions first, in order (the first
    /// false skips, the first error or non-bool fails the step: <paramref name="error"/>), then
    /// AllowsExecution over input/operator/values.
    /// </summary>
    public static bool AllowsExecution(IReadOnlyList<TektonWhenExpression> expressions, out string? error)
    {
        error = null;
        foreach (TektonWhenExpression e in expressions)
        {
            if (e.Cel.Length > 0 && !CelProgram.Evaluate(e.Cel, out error))
            {
                return false;
            }
        }
        return expressions.All(e => e.Values.Contains(e.Input, StringComparer.Ordinal) == (e.Operator == "in"));
    }

    /// <summary>Each when-expression with step-result references in input, values (an exact <c>[*]</c> expands) and cel replaced.</summary>
    public static IReadOnlyList<TektonWhenExpression> Substitute(IReadOnlyList<TektonWhenExpression> expressions, TektonStepResultResolver resolver) =>
        expressions.Select(e => e with
        {
            Input = Results.StepResultReferences.Substitute(e.Input, resolver.Resolve),
            Values = e.Values.SelectMany(resolver.SubstituteArgument).ToArray(),
            Cel = Results.StepResultReferences.Substitute(e.Cel, resolver.Resolve),
        }).ToArray();

    private static string StringOf(JsonProperty p) => p.Value.Kind switch
    {
        JsonKind.String => p.Value.GetString()!,
        JsonKind.Null => "",
        _ => throw new TektonWhenException($"json: cannot unmarshal {p.Value.Kind} into field {p.Name} of type string"),
    };
}
