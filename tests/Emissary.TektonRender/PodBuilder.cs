using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Emissary.TektonRender;

/// <summary>What the controller is configured with: its images and feature flags.</summary>
internal sealed record ControllerConfig(
    string EntrypointImage, string ShellImage, string StepImage, string Platform,
    bool CompressTerminationMessage, bool PodmanVolumes);

/// <summary>
/// The pod Tekton's controller creates for a TaskRun, built as the controller builds it at
/// tektoncd/pipeline main (2026-08-20), each part after the source that makes it:
/// <list type="bullet">
/// <item>pkg/reconciler/taskrun/resources/apply.go: params (defaults, then the TaskRun's),
/// context, workspaces, result and step-result paths, artifacts paths, exitCode paths;</item>
/// <item>pkg/apis/pipeline/v1/merge.go: the stepTemplate merged under each step;</item>
/// <item>pkg/pod/script.go: <c>place-scripts</c> (base64 heredocs decoded by
/// <c>entrypoint decode-script</c>, the <c>#!/bin/sh\nset -e\n</c> preamble of a script without
/// a shebang);</item>
/// <item>pkg/pod/pod.go: <c>prepare</c> (<c>entrypoint init</c>), implicit volumes and mounts, the
/// per-step run volumes (own read-write, others read-only), the step names;</item>
/// <item>pkg/pod/entrypoint_lookup.go: TEKTON_PLATFORM_COMMANDS for a step without a command;</item>
/// <item>pkg/pod/entrypoint.go: orderContainers' flags, in its order.</item>
/// </list>
/// At main, a pod without sidecars is ready at once (isPodReadyImmediately), so the first step
/// waits on nothing and there is no downward volume. Random name suffixes (script files,
/// workspace volumes) are derived from the TaskRun's name, so a rendering is reproducible.
/// </summary>
internal static class PodBuilder
{
    private const string EntrypointBinary = "/tekton/bin/entrypoint";

    public static YamlMappingNode Build(TaskRun run, ControllerConfig config)
    {
        TaskSpec spec = run.Spec;
        List<Step> steps = spec.Steps;
        if (steps.Count == 0) throw new RenderError("the Task has no steps");
        ApplyControllerSubstitutions(run);

        // workspace.Apply: each bound workspace a volume, mounted in every step.
        var volumes = new List<(string Name, YamlNode Source)>();
        var workspaceMounts = new List<VolumeMount>();
        foreach (WorkspaceDeclaration declared in spec.Workspaces)
        {
            if (run.Workspaces.FirstOrDefault(b => b.Name == declared.Name) is not { } binding) continue;
            string volume = "ws-" + Suffix(run.Name + "/ws/" + declared.Name);
            workspaceMounts.Add(new VolumeMount(volume, declared.MountPath, declared.ReadOnly));
            volumes.Add((volume, binding.ClaimName is { } claim
                ? M(("persistentVolumeClaim", M(("claimName", Q(claim))))) : M((binding.SourceKind, new YamlMappingNode()))));
        }

        for (int i = 0; i < steps.Count; i++)
        {
            steps[i] = Merge(spec.StepTemplate, steps[i]);
            steps[i].VolumeMounts.AddRange(workspaceMounts);
            ImageStandIns.Check(steps[i].Image ?? throw new RenderError($"step {StepName(steps[i], i)} has no image"));
        }

        var common = new List<string>();
        if (config.CompressTerminationMessage) common.Add("-compress_termination_message=true");

        var init = new List<YamlNode> { Prepare(steps, config) };
        var placeScripts = new StringBuilder();
        var containers = new List<YamlNode>();
        for (int i = 0; i < steps.Count; i++)
        {
            Step s = steps[i];
            List<string>? command = s.Command;
            var mounts = new List<VolumeMount>(s.VolumeMounts);
            var env = new List<(string, string)>(s.Env);
            if (s.Script.Length > 0)
            {
                string file = "/tekton/scripts/script-" + i + "-" + Suffix(run.Name + "/script/" + i);
                string script = s.Script.Trim().StartsWith("#!", StringComparison.Ordinal) ? s.Script : "#!/bin/sh\nset -e\n" + s.Script;
                placeScripts.Append($"scriptfile=\"{file}\"\ntouch ${{scriptfile}} && chmod +x ${{scriptfile}}\ncat > ${{scriptfile}} << '_EOF_'\n")
                    .Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(script)))
                    .Append("\n_EOF_\n/tekton/bin/entrypoint decode-script \"${scriptfile}\"\n");
                command = [file];
                mounts.Add(new VolumeMount("tekton-internal-scripts", "/tekton/scripts", true));
            }
            else if (command is null or [])
            {
                // Go's json.Marshal of map[string][]string.
                var platforms = new Dictionary<string, List<string>> { [config.Platform] = ImageStandIns.Command(s.Image!, s.Args is { Count: > 0 }) };
                env.Add(("TEKTON_PLATFORM_COMMANDS", JsonSerializer.Serialize(platforms)));
            }
            for (int j = 0; j < steps.Count; j++) mounts.Add(new VolumeMount($"tekton-internal-run-{j}", $"/tekton/run/{j}", i != j));
            foreach (VolumeMount implicitMount in ImplicitMounts)
            {
                if (!mounts.Any(m => Path.TrimEndingDirectorySeparator(m.MountPath) == implicitMount.MountPath)) mounts.Add(implicitMount);
            }
            if (config.PodmanVolumes && MissingWorkingDir(s.WorkingDir, mounts) is { } dir)
            {
                // The kubelet's runtimes make a missing workingDir; podman 4.3's kube play refuses to
                // start the container instead, so under podman an empty volume makes it.
                string volume = $"podman-workingdir-{i}";
                mounts.Add(new VolumeMount(volume, dir, false));
                volumes.Add((volume, M(("emptyDir", new YamlMappingNode()))));
            }
            containers.Add(StepContainer(spec, i, s, command, env, mounts, common, config));
        }
        if (placeScripts.Length > 0)
        {
            init.Add(M(("name", Q("place-scripts")), ("image", Q(config.ShellImage)), ("command", L(["sh"])), ("args", L(["-c", placeScripts.ToString()])),
                ("volumeMounts", S(Mount(new("tekton-internal-scripts", "/tekton/scripts", false)), Mount(new("tekton-internal-bin", "/tekton/bin", false))))));
        }
        if (WorkingDirInit(steps, config) is { } workingDirInit) init.Add(workingDirInit);

        var allVolumes = new List<(string Name, YamlNode Source)>();
        foreach (string v in new[] { "workspace", "home", "results", "steps", "artifacts" }) allVolumes.Add(("tekton-internal-" + v, M(("emptyDir", new YamlMappingNode()))));
        if (placeScripts.Length > 0) allVolumes.Add(("tekton-internal-scripts", M(("emptyDir", new YamlMappingNode()))));
        allVolumes.Add(("tekton-internal-bin", M(("emptyDir", new YamlMappingNode()))));
        for (int i = 0; i < steps.Count; i++) allVolumes.Add(($"tekton-internal-run-{i}", M(("emptyDir", new YamlMappingNode()))));
        allVolumes.AddRange(volumes);

        string podName = run.Name + "-pod";
        var labels = M(("app.kubernetes.io/managed-by", Q("tekton-pipelines")), ("tekton.dev/taskRun", Q(run.Name)));
        if (run.TaskName.Length > 0) labels.Add("tekton.dev/task", Q(run.TaskName));
        return M(
            ("apiVersion", Q("v1")), ("kind", Q("Pod")),
            ("metadata", M(("name", Q(podName)), ("labels", labels))),
            ("spec", M(
                ("restartPolicy", Q("Never")),
                ("initContainers", new YamlSequenceNode(init)),
                ("containers", new YamlSequenceNode(containers)),
                ("volumes", new YamlSequenceNode(allVolumes.Select(v => Volume(podName, v.Name, v.Source, config.PodmanVolumes)))))));
    }

    /// <summary>The order of pkg/reconciler/taskrun's prepare: params, context, workspaces, results, artifacts, exitCode paths.</summary>
    private static void ApplyControllerSubstitutions(TaskRun run)
    {
        TaskSpec spec = run.Spec;
        var values = new Dictionary<string, ParamValue>();
        foreach (ParamSpec p in spec.Params)
        {
            if (p.Default is { } d) values[p.Name] = d;
        }
        foreach (var (name, given) in run.Params)
        {
            ParamValue value = given;
            // An object param takes the TaskRun's keys over its default's (keys it does not give stay).
            if (given.Object is { } keys && values.GetValueOrDefault(name)?.Object is { } defaults)
            {
                var merged = new Dictionary<string, string>(defaults);
                foreach (var (k, v) in keys) merged[k] = v;
                value = new ParamValue(null, null, merged);
            }
            values[name] = value;
        }
        var all = Substitution.FromParams(values);
        all.Strings["context.taskRun.name"] = run.Name;
        all.Strings["context.task.name"] = run.TaskName;
        all.Strings["context.taskRun.namespace"] = run.Namespace;
        all.Strings["context.taskRun.uid"] = "";
        all.Strings["context.task.retry-count"] = "0";
        foreach (WorkspaceDeclaration w in spec.Workspaces)
        {
            bool bound = run.Workspaces.Any(b => b.Name == w.Name);
            all.Strings[$"workspaces.{w.Name}.bound"] = bound ? "true" : "false";
            all.Strings[$"workspaces.{w.Name}.path"] = bound ? w.MountPath : "";
            if (run.Workspaces.FirstOrDefault(b => b.Name == w.Name) is { } b2) all.Strings[$"workspaces.{w.Name}.claim"] = b2.ClaimName ?? "";
        }
        foreach (string r in spec.Results) all.AddPath("results", r, ".path", "/tekton/results/" + r);
        for (int i = 0; i < spec.Steps.Count; i++)
        {
            all.Strings[$"steps.{StepName(spec.Steps[i], i)}.exitCode.path"] = $"/tekton/steps/{StepName(spec.Steps[i], i)}/exitCode";
        }
        all.Strings["artifacts.path"] = "/tekton/artifacts/provenance.json";
        for (int i = 0; i < spec.Steps.Count; i++)
        {
            Step s = spec.Steps[i];
            var own = new Substitution();
            foreach (string r in s.Results) own.AddPath("step.results", r, ".path", $"/tekton/steps/{StepName(s, i)}/results/{r}");
            own.Strings["step.artifacts.path"] = $"/tekton/steps/{StepName(s, i)}/artifacts/provenance.json";
            own.ApplyTo(s);
            all.ApplyTo(s);
        }
        if (spec.StepTemplate is { } template) all.ApplyTo(template);
    }

    /// <summary>MergeStepsWithStepTemplate: the step's fields over the template's; env and volumeMounts merged by name and path.</summary>
    private static Step Merge(Step? template, Step step)
    {
        if (template is null) return step;
        var env = template.Env.Select(e => step.Env.Any(s => s.Name == e.Name) ? step.Env.First(s => s.Name == e.Name) : e).ToList();
        env.AddRange(step.Env.Where(s => !template.Env.Any(e => e.Name == s.Name)));
        var mounts = template.VolumeMounts.Where(t => !step.VolumeMounts.Any(m => m.MountPath == t.MountPath)).Concat(step.VolumeMounts).ToList();
        step.Image ??= template.Image;
        step.Command ??= template.Command;
        step.Args ??= template.Args;
        step.WorkingDir ??= template.WorkingDir;
        step.RunAsUser ??= template.RunAsUser;
        step.Env = env;
        step.VolumeMounts = mounts;
        return step;
    }

    private static readonly VolumeMount[] ImplicitMounts =
    [
        new("tekton-internal-bin", "/tekton/bin", true),
        new("tekton-internal-workspace", "/workspace", false),
        new("tekton-internal-home", "/tekton/home", false),
        new("tekton-internal-results", "/tekton/results", false),
        new("tekton-internal-steps", "/tekton/steps", true),
        new("tekton-internal-artifacts", "/tekton/artifacts", false),
    ];

    private static YamlNode StepContainer(TaskSpec spec, int i, Step s, List<string>? command, List<(string Name, string Value)> env,
        List<VolumeMount> mounts, List<string> common, ControllerConfig config)
    {
        // orderContainers, flag by flag in its order.
        var args = new List<string>();
        if (i > 0) args.AddRange(["-wait_file", $"/tekton/run/{i - 1}/out"]);
        args.AddRange(["-post_file", $"/tekton/run/{i}/out", "-termination_path", "/tekton/termination", "-step_metadata_dir", $"/tekton/run/{i}/status"]);
        args.AddRange(common);
        if (s.OnError is { Length: > 0 } onError)
        {
            if (onError is not ("continue" or "stopAndFail")) throw new RenderError($"task step onError must be either \"continue\" or \"stopAndFail\" but it is set to an invalid value \"{onError}\"");
            args.AddRange(["-on_error", onError]);
        }
        if (s.Timeout is { } timeout) args.AddRange(["-timeout", GoDuration.Normalize(timeout)]);
        if (s.StdoutPath is { } stdout) args.AddRange(["-stdout_path", stdout]);
        if (s.StderrPath is { } stderr) args.AddRange(["-stderr_path", stderr]);
        if (s.Results.Count > 0) args.AddRange(["-step_results", string.Join(",", s.Results)]);
        if (s.When.Count > 0) args.AddRange(["--when_expressions", WhenJson(s.When)]);
        if (spec.Results.Count > 0) args.AddRange(["-results", string.Join(",", spec.Results)]);
        var rest = new List<string>(s.Args ?? []);
        if (command is { Count: > 0 })
        {
            args.AddRange(["-entrypoint", command[0]]);
            rest.InsertRange(0, command.Skip(1));
        }
        args.Add("--");
        args.AddRange(rest);

        var c = M(("name", Q(StepName(s, i))), ("image", Q(config.StepImage)), ("command", L([EntrypointBinary])), ("args", L(args)));
        if (env.Count > 0) c.Add("env", S(env.Select(e => (YamlNode)M(("name", Q(e.Name)), ("value", Q(e.Value)))).ToArray()));
        if (s.WorkingDir is { } wd) c.Add("workingDir", Q(wd));
        if (s.RunAsUser is { } uid) c.Add("securityContext", M(("runAsUser", new YamlScalarNode(uid.ToString()))));
        c.Add("terminationMessagePath", Q("/tekton/termination"));
        c.Add("volumeMounts", S(mounts.Select(Mount).ToArray()));
        return c;
    }

    /// <summary>json.Marshal of []WhenExpression: omitempty fields in declaration order, HTML-safe escapes.</summary>
    private static string WhenJson(List<WhenExpression> when)
    {
        var list = when.Select(w =>
        {
            var o = new Dictionary<string, object>();
            if (!string.IsNullOrEmpty(w.Input)) o["input"] = w.Input;
            if (!string.IsNullOrEmpty(w.Operator)) o["operator"] = w.Operator;
            if (w.Values is { Count: > 0 }) o["values"] = w.Values;
            if (!string.IsNullOrEmpty(w.Cel)) o["cel"] = w.Cel;
            return o;
        }).ToList();
        string json = JsonSerializer.Serialize(list, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return json.Replace("<", "\\u003c").Replace(">", "\\u003e").Replace("&", "\\u0026");
    }

    private static YamlNode Prepare(List<Step> steps, ControllerConfig config)
    {
        var command = new List<string> { "/ko-app/entrypoint", "init", "/ko-app/entrypoint", EntrypointBinary };
        command.AddRange(steps.Select(StepName));
        return M(("name", Q("prepare")), ("image", Q(config.EntrypointImage)), ("command", L(command)), ("workingDir", Q("/")),
            ("volumeMounts", S(Mount(new("tekton-internal-bin", "/tekton/bin", false)), Mount(new("tekton-internal-steps", "/tekton/steps", false)))));
    }

    /// <summary>
    /// workingdir_init.go: relative workingDirs and those under /workspace/ are made before the
    /// steps by Tekton's workingdirinit image; its stand-in is the shell image's <c>mkdir -p</c>.
    /// </summary>
    private static YamlNode? WorkingDirInit(List<Step> steps, ControllerConfig config)
    {
        var dirs = steps.Select(s => s.WorkingDir).OfType<string>().Where(d => d.Length > 0).Distinct().Order(StringComparer.Ordinal)
            .Select(d => d.TrimEnd('/')).Where(d => !d.StartsWith('/') || d.StartsWith("/workspace/", StringComparison.Ordinal)).ToList();
        if (dirs.Count == 0) return null;
        return M(("name", Q("working-dir-initializer")), ("image", Q(config.ShellImage)), ("command", L(["mkdir", "-p", .. dirs])), ("workingDir", Q("/workspace")),
            ("volumeMounts", S(ImplicitMounts.Skip(1).Select(Mount).ToArray())));
    }

    /// <summary>An absolute workingDir on no volume (the image may not have it), or null.</summary>
    private static string? MissingWorkingDir(string? dir, List<VolumeMount> mounts) =>
        dir is { Length: > 1 } && dir.StartsWith('/') && !mounts.Any(m => dir == m.MountPath || dir.StartsWith(m.MountPath + "/", StringComparison.Ordinal))
            ? dir.TrimEnd('/') : null;

    public static string StepName(Step s, int i) => s.Name.Length > 0 ? "step-" + s.Name : $"step-unnamed-{i}";

    private static YamlNode Volume(string pod, string name, YamlNode source, bool podman) =>
        // podman kube play: every volume a named volume the script makes (as the kubelet makes an
        // emptyDir: root's, mode 0777) and can look into; names prefixed by the pod, so pods never share one.
        podman ? M(("name", Q(name)), ("persistentVolumeClaim", M(("claimName", Q($"{pod}-{name}")))))
               : M(("name", Q(name)), (((YamlMappingNode)source).Children.Keys.Cast<YamlScalarNode>().First().Value!, ((YamlMappingNode)source).Children.Values.First()));

    private static YamlNode Mount(VolumeMount m)
    {
        var node = M(("name", Q(m.Name)), ("mountPath", Q(m.MountPath)));
        if (m.ReadOnly) node.Add("readOnly", new YamlScalarNode("true"));
        return node;
    }

    /// <summary>5 characters of names.SimpleNameGenerator's alphabet, from a hash of <paramref name="seed"/>.</summary>
    private static string Suffix(string seed)
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        uint h = 2166136261;
        foreach (char ch in seed) h = (h ^ ch) * 16777619;
        var sb = new StringBuilder();
        for (int k = 0; k < 5; k++, h /= (uint)alphabet.Length) sb.Append(alphabet[(int)(h % alphabet.Length)]);
        return sb.ToString();
    }

    private static YamlScalarNode Q(string s) => new(s) { Style = ScalarStyle.DoubleQuoted };

    private static YamlMappingNode M(params (string Key, YamlNode Value)[] entries)
    {
        var m = new YamlMappingNode();
        foreach (var (k, v) in entries) m.Add(k, v);
        return m;
    }

    private static YamlSequenceNode L(IEnumerable<string> items) => new(items.Select(i => (YamlNode)Q(i)));

    private static YamlSequenceNode S(params YamlNode[] items) => new(items);
}
