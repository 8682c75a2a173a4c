namespace Emissary.TektonRender;

/// <summary>
/// The controller's variable substitution (pkg/substitution, pkg/container/step_replacements.go):
/// every <c>$(KEY)</c> of a string field replaced by its value; in <c>command</c>, <c>args</c> and a
/// <c>when</c>'s values, an element that is exactly <c>$(KEY)</c> or <c>$(KEY[*])</c> of an array
/// expands into the array's elements. References it has no value for stay as they are: the
/// entrypoint resolves <c>$(steps.NAME.results.KEY)</c> at run time.
/// </summary>
internal sealed class Substitution
{
    public readonly Dictionary<string, string> Strings = [];
    public readonly Dictionary<string, List<string>> Arrays = [];

    /// <summary>Keys for params (applyParameters' three spellings: params.x, params["x"], params['x']).</summary>
    public static Substitution FromParams(IReadOnlyDictionary<string, ParamValue> values)
    {
        var s = new Substitution();
        foreach (var (name, value) in values)
        {
            foreach (string key in new[] { $"params.{name}", $"params[\"{name}\"]", $"params['{name}']" })
            {
                if (value.String is { } str) s.Strings[key] = str;
                if (value.Array is { } arr)
                {
                    s.Arrays[key] = arr;
                    for (int i = 0; i < arr.Count; i++) s.Strings[$"{key}[{i}]"] = arr[i];
                }
            }
            foreach (var (k, v) in value.Object ?? [])
            {
                s.Strings[$"params.{name}.{k}"] = v;
            }
        }
        return s;
    }

    /// <summary>The three spellings of a result-like key: results.x.path, results["x"].path, results['x'].path.</summary>
    public void AddPath(string prefix, string name, string suffix, string value)
    {
        Strings[$"{prefix}.{name}{suffix}"] = value;
        Strings[$"{prefix}[\"{name}\"]{suffix}"] = value;
        Strings[$"{prefix}['{name}']{suffix}"] = value;
    }

    public string Apply(string text)
    {
        if (!text.Contains("$(")) return text;
        foreach (var (key, value) in Strings)
        {
            text = text.Replace("$(" + key + ")", value, StringComparison.Ordinal);
        }
        return text;
    }

    public List<string>? ApplyList(List<string>? items)
    {
        if (items is null) return null;
        var result = new List<string>();
        foreach (string item in items)
        {
            List<string>? array = null;
            foreach (var (key, values) in Arrays)
            {
                if (item == $"$({key})" || item == $"$({key}[*])") array = values;
            }
            if (array is not null) result.AddRange(array);
            else result.Add(Apply(item));
        }
        return result;
    }

    public void ApplyTo(Step step)
    {
        step.Image = step.Image is null ? null : Apply(step.Image);
        step.Command = ApplyList(step.Command);
        step.Args = ApplyList(step.Args);
        step.Script = Apply(step.Script);
        step.Env = step.Env.Select(e => (e.Name, Apply(e.Value))).ToList();
        step.WorkingDir = step.WorkingDir is null ? null : Apply(step.WorkingDir);
        step.OnError = step.OnError is null ? null : Apply(step.OnError);
        step.StdoutPath = step.StdoutPath is null ? null : Apply(step.StdoutPath);
        step.StderrPath = step.StderrPath is null ? null : Apply(step.StderrPath);
        step.When = step.When.Select(w => new WhenExpression(
            w.Input is null ? null : Apply(w.Input), w.Operator, ApplyList(w.Values), w.Cel is null ? null : Apply(w.Cel))).ToList();
    }
}
