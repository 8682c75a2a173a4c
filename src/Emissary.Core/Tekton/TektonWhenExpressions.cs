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
/// isTrue has it. CEL is not evaluated: the C# implementation on NuGet (Cel 0.3.3) adds about
/// 3 MB and a trim warning to a NativeAOT binary (README, "Tekton"), so a step with a CEL
/// expression is refused — it fails with one line saying why, never runs or skips silently.
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

    /// <summary>Whether the step runs (AllowsExecution); CEL must have been refused before.</summary>
    public static bool AllowsExecution(IReadOnlyList<TektonWhenExpression> expressions) =>
        expressions.All(e => e.Values.Contains(e.Input, StringComparer.Ordinal) == (e.Operator == "in"));

    /// <summary>The first CEL expression, which this entrypoint refuses to evaluate, or null.</summary>
    public static string? FirstCel(IReadOnlyList<TektonWhenExpression> expressions) =>
        expressions.FirstOrDefault(e => e.Cel.Length > 0)?.Cel;

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
