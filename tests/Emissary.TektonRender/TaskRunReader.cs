using YamlDotNet.RepresentationModel;

namespace Emissary.TektonRender;

/// <summary>Bad input: one line on stderr, exit 2.</summary>
internal sealed class RenderError(string message) : Exception(message);

/// <summary>
/// Reads the YAML documents of one example (a TaskRun, and the Task and StepActions it refers to in
/// the same file, as Tekton's examples ship them) into the model, resolving <c>taskRef</c> and step
/// <c>ref</c> as the reconciler does (pkg/reconciler/taskrun/resources/taskspec.go).
/// Documents of other kinds (a PersistentVolumeClaim the TaskRun binds) are left to the caller's
/// volume mapping.
/// </summary>
internal static class TaskRunReader
{
    public static TaskRun Read(TextReader text, string nameWhenGenerated)
    {
        var stream = new YamlStream();
        stream.Load(text);
        var byKind = new Dictionary<string, List<YamlMappingNode>>();
        foreach (YamlDocument doc in stream.Documents)
        {
            if (doc.RootNode is YamlMappingNode m && Str(m, "kind") is { } kind)
            {
                (byKind.TryGetValue(kind, out var list) ? list : byKind[kind] = []).Add(m);
            }
        }
        YamlMappingNode run = byKind.GetValueOrDefault("TaskRun") is [var only] ? only
            : throw new RenderError("expected exactly one TaskRun in the file");
        var meta = Map(run, "metadata");
        var spec = Map(run, "spec") ?? throw new RenderError("the TaskRun has no spec");
        var taskRun = new TaskRun
        {
            Name = (meta is null ? null : Str(meta, "name")) ?? nameWhenGenerated,
            Namespace = (meta is null ? null : Str(meta, "namespace")) ?? "default",
        };
        foreach (YamlMappingNode p in Seq(spec, "params"))
        {
            taskRun.Params[Str(p, "name")!] = Value(p["value"]);
        }
        foreach (YamlMappingNode w in Seq(spec, "workspaces"))
        {
            string kind = w.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).FirstOrDefault(k => k != "name" && k != "subPath") ?? "emptyDir";
            taskRun.Workspaces.Add(new WorkspaceBinding(Str(w, "name")!, kind, Map(w, kind) is { } src ? Str(src, "claimName") : null));
        }
        YamlMappingNode taskSpec;
        if (Map(spec, "taskSpec") is { } inline)
        {
            taskSpec = inline;
        }
        else
        {
            string wanted = Str(Map(spec, "taskRef") ?? throw new RenderError("the TaskRun has neither taskSpec nor taskRef"), "name")
                ?? throw new RenderError("taskRef without a name (resolvers need a cluster)");
            YamlMappingNode task = byKind.GetValueOrDefault("Task")?.FirstOrDefault(t => Str(Map(t, "metadata")!, "name") == wanted)
                ?? throw new RenderError($"taskRef {wanted}: no Task of that name in the file");
            taskSpec = Map(task, "spec")!;
            taskRun.TaskName = wanted;
        }
        taskRun.Spec = ReadTaskSpec(taskSpec, byKind.GetValueOrDefault("StepAction") ?? []);
        return taskRun;
    }

    private static TaskSpec ReadTaskSpec(YamlMappingNode node, List<YamlMappingNode> stepActions)
    {
        var spec = new TaskSpec();
        foreach (YamlMappingNode p in Seq(node, "params"))
        {
            spec.Params.Add(new ParamSpec(Str(p, "name")!, p.Children.TryGetValue("default", out var d) ? Value(d) : null));
        }
        spec.Results.AddRange(Seq(node, "results").Select(r => Str((YamlMappingNode)r, "name")!));
        foreach (YamlMappingNode w in Seq(node, "workspaces"))
        {
            string name = Str(w, "name")!;
            spec.Workspaces.Add(new WorkspaceDeclaration(name, Str(w, "mountPath") ?? "/workspace/" + name, Str(w, "readOnly") == "true"));
        }
        if (Map(node, "stepTemplate") is { } template)
        {
            spec.StepTemplate = ReadStep(template);
        }
        foreach (YamlMappingNode s in Seq(node, "steps"))
        {
            Step step = ReadStep(s);
            if (step.Ref is { } name)
            {
                YamlMappingNode action = stepActions.FirstOrDefault(a => Str(Map(a, "metadata")!, "name") == name)
                    ?? throw new RenderError($"step {step.Name}: StepAction {name} is not in the file");
                step = WithStepAction(step, Map(action, "spec")!);
            }
            spec.Steps.Add(step);
        }
        return spec;
    }

    /// <summary>A step that refers to a StepAction takes the action's container fields and params' defaults; it keeps its name, onError, when, timeout.</summary>
    private static Step WithStepAction(Step step, YamlMappingNode action)
    {
        Step a = ReadStep(action);
        var values = new Dictionary<string, ParamValue>();
        foreach (YamlMappingNode p in Seq(action, "params"))
        {
            if (p.Children.TryGetValue("default", out var d)) values[Str(p, "name")!] = Value(d);
        }
        foreach (var (k, v) in step.RefParams) values[k] = v;
        var replacements = Substitution.FromParams(values);
        a.Name = step.Name;
        a.OnError = step.OnError;
        a.When = step.When;
        a.Timeout = step.Timeout;
        a.StdoutPath = step.StdoutPath;
        a.StderrPath = step.StderrPath;
        replacements.ApplyTo(a);
        return a;
    }

    private static Step ReadStep(YamlMappingNode s)
    {
        var step = new Step
        {
            Name = Str(s, "name") ?? "",
            Image = Str(s, "image"),
            Command = Strings(s, "command"),
            Args = Strings(s, "args"),
            Script = Str(s, "script") ?? "",
            WorkingDir = Str(s, "workingDir"),
            OnError = Str(s, "onError"),
            Timeout = Str(s, "timeout"),
            StdoutPath = Map(s, "stdoutConfig") is { } o ? Str(o, "path") : null,
            StderrPath = Map(s, "stderrConfig") is { } err ? Str(err, "path") : null,
            RunAsUser = Map(s, "securityContext") is { } sc && Str(sc, "runAsUser") is { } uid ? long.Parse(uid) : null,
            Ref = Map(s, "ref") is { } r ? Str(r, "name") : null,
        };
        foreach (YamlMappingNode e in Seq(s, "env"))
        {
            step.Env.Add((Str(e, "name")!, Str(e, "value") ?? throw new RenderError($"env {Str(e, "name")}: only plain values are rendered (valueFrom needs a cluster)")));
        }
        step.Results.AddRange(Seq(s, "results").Select(r => Str((YamlMappingNode)r, "name")!));
        foreach (YamlMappingNode w in Seq(s, "when"))
        {
            step.When.Add(new WhenExpression(Str(w, "input"), Str(w, "operator"), Strings(w, "values"), Str(w, "cel")));
        }
        foreach (YamlMappingNode m in Seq(s, "volumeMounts"))
        {
            step.VolumeMounts.Add(new VolumeMount(Str(m, "name")!, Str(m, "mountPath")!, Str(m, "readOnly") == "true"));
        }
        foreach (YamlMappingNode p in Seq(s, "params"))
        {
            step.RefParams[Str(p, "name")!] = Value(p["value"]);
        }
        return step;
    }

    private static ParamValue Value(YamlNode node) => node switch
    {
        YamlScalarNode s => ParamValue.Of(s.Value ?? ""),
        YamlSequenceNode q => new ParamValue(null, q.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList(), null),
        YamlMappingNode m => new ParamValue(null, null, m.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value ?? "")),
        _ => throw new RenderError("a param value is neither a string, an array nor an object"),
    };

    internal static string? Str(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(key, out var v) && v is YamlScalarNode s ? s.Value : null;

    private static YamlMappingNode? Map(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(key, out var v) ? v as YamlMappingNode : null;

    private static IEnumerable<YamlNode> Seq(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(key, out var v) && v is YamlSequenceNode s ? s.Children : [];

    private static List<string>? Strings(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(key, out var v) && v is YamlSequenceNode s ? s.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList() : null;
}
