namespace Emissary.TektonRender;

/// <summary>A param's value: a string, an array (List of string) or an object (Dictionary), as in v1.ParamValue.</summary>
internal sealed record ParamValue(string? String, List<string>? Array, Dictionary<string, string>? Object)
{
    public static ParamValue Of(string s) => new(s, null, null);
}

internal sealed record ParamSpec(string Name, ParamValue? Default);

/// <summary>One step-level <c>when</c> expression (v1.WhenExpression), passed to the entrypoint as JSON.</summary>
internal sealed record WhenExpression(string? Input, string? Operator, List<string>? Values, string? Cel);

internal sealed record VolumeMount(string Name, string MountPath, bool ReadOnly);

/// <summary>A step (or the stepTemplate, or a StepAction's spec): the fields of v1.Step the examples use.</summary>
internal sealed class Step
{
    public string Name = "";
    public string? Image;
    public List<string>? Command;
    public List<string>? Args;
    public string Script = "";
    public List<(string Name, string Value)> Env = [];
    public string? WorkingDir;
    public string? OnError;
    public string? Timeout;
    public string? StdoutPath;
    public string? StderrPath;
    public long? RunAsUser;
    public List<string> Results = [];
    public List<WhenExpression> When = [];
    public List<VolumeMount> VolumeMounts = [];
    /// <summary>ref.name of a StepAction, and the params the step passes it.</summary>
    public string? Ref;
    public Dictionary<string, ParamValue> RefParams = [];
}

internal sealed record WorkspaceDeclaration(string Name, string MountPath, bool ReadOnly);

/// <summary>A TaskRun's workspace binding: the volume source as written (persistentVolumeClaim, emptyDir...).</summary>
internal sealed record WorkspaceBinding(string Name, string SourceKind, string? ClaimName);

internal sealed class TaskSpec
{
    public List<ParamSpec> Params = [];
    public List<string> Results = [];
    public List<Step> Steps = [];
    public Step? StepTemplate;
    public List<WorkspaceDeclaration> Workspaces = [];
}

internal sealed class TaskRun
{
    public string Name = "";
    public string Namespace = "default";
    public Dictionary<string, ParamValue> Params = [];
    public List<WorkspaceBinding> Workspaces = [];
    public TaskSpec Spec = new();
    public string TaskName = "";
}
