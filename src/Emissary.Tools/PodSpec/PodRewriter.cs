using Emissary.Cli;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>What <c>emissary rewrite</c> was asked for.</summary>
internal sealed record RewriteSettings
{
    /// <summary>The image of the init container that installs the binary (Dockerfile.scratch).</summary>
    public static readonly string DefaultImage = "ghcr.io/emissary-dev/emissary:" + CommandLine.Version;

    public string Image { get; init; } = DefaultImage;

    public EntrypointIndex? Entrypoints { get; init; }

    /// <summary>Run sidecars as native sidecars where the pod does not say (<c>--native-sidecars</c>).</summary>
    public bool NativeSidecars { get; init; }

    /// <summary><c>--as-pod</c>: write each workload's pod as a bare Pod (for <c>podman kube play</c>, which runs Pods but not Jobs).</summary>
    public bool AsPod { get; init; }

    /// <summary>Where the wrapped steps will run: a Kubernetes pod, or a podman pod (which has no mesh proxy).</summary>
    public StepHost Host { get; init; } = StepHost.Kubernetes;

    public PodGraphOptions GraphOptions => new() { Entrypoints = Entrypoints, NativeSidecars = NativeSidecars };
}

/// <summary>
/// Wires emissary into one pod, in place: the emptyDir volumes (the binary, the shared control
/// directory, one per step for its record), the init container that
/// installs the binary, and every step's container wrapped in <c>emissary run</c> (native sidecars
/// moved among the init containers). Rewriting a rewritten pod gives the same pod: everything
/// added is found again by name, and the commands are rebuilt from the same settings.
/// </summary>
internal static class PodRewriter
{
    /// <summary>Rewrites the pod of <paramref name="graph"/>; false (and nothing changed) when a step's command is unknown.</summary>
    public static bool Rewrite(PodGraph graph, RewriteSettings settings, ICollection<ManifestError> errors)
    {
        ManifestObject manifest = graph.Manifest;
        bool complete = true;
        foreach (StepSpec step in graph.Steps.Where(s => s.Command is null))
        {
            string message = step.Image is null
                ? $"container \"{step.Name}\" has neither command nor image"
                : $"container \"{step.Name}\" has no command, and the entrypoint of its image \"{step.Image}\" is unknown: set command (and args), or list \"{step.Image}\" in the --entrypoints file";
            errors.Add(new ManifestError(manifest.SourceName, manifest.DisplayName, manifest.PathPrefix + step.Path, message));
            complete = false;
        }
        if (!complete)
        {
            return false;
        }

        var spec = (YamlMappingNode)manifest.At(manifest.PodSpecPath)!;
        PlaceContainers(graph, spec, settings.Image);
        // Each step's volume and directory, named once per pod rather than once per container that mounts them.
        var stepVolumes = new string[graph.Steps.Count];
        var stepDirectories = new string[graph.Steps.Count];
        for (int k = 0; k < stepVolumes.Length; k++)
        {
            stepVolumes[k] = EmissaryRun.StepVolume(graph.Steps[k].Name);
            stepDirectories[k] = EmissaryRun.StepDirectory(graph.Steps[k].Name);
        }
        foreach (StepSpec step in graph.Steps)
        {
            Wrap(step, graph, settings.Host, stepVolumes, stepDirectories);
        }
        EnsureVolume(spec, EmissaryRun.BinVolume, new YamlMappingNode { Style = MappingStyle.Flow });
        EnsureVolume(spec, EmissaryRun.ControlVolume, MemoryVolume(sizeLimit: null));
        foreach (string volume in stepVolumes)
        {
            EnsureVolume(spec, volume, MemoryVolume(EmissaryRun.StepVolumeSizeLimit));
        }
        RemoveStaleStepVolumes(spec, stepVolumes);
        return true;
    }

    private static bool IsNative(StepSpec step, PodGraph graph) => graph.NativeSidecars && step.Role == StepRole.Sidecar;

    /// <summary>
    /// initContainers: emissary's own first (it installs the binary everything else runs), then the
    /// user's init containers, untouched, then the native sidecars: as regular containers they
    /// started after every init container had finished, and still do. containers: the rest.
    /// </summary>
    private static void PlaceContainers(PodGraph graph, YamlMappingNode spec, string image)
    {
        var containers = (YamlSequenceNode)spec.Get("containers")!;
        var inits = spec.Get("initContainers") as YamlSequenceNode;
        var stepNodes = new HashSet<YamlNode>(graph.Steps.Select(s => (YamlNode)s.Node!), ReferenceEqualityComparer.Instance);

        YamlMappingNode init = inits?.Children.OfType<YamlMappingNode>().FirstOrDefault(n => n.GetText("name") == EmissaryRun.InitContainerName)
            ?? new YamlMappingNode();
        UpdateInitContainer(init, image);
        init.Style = MappingStyle.Block;
        List<YamlNode> newInits =
        [
            init,
            .. inits?.Children.Where(n => !ReferenceEquals(n, init) && !stepNodes.Contains(n)) ?? [],
            .. graph.Steps.Where(s => IsNative(s, graph)).Select(s => s.Node!),
        ];
        var nativeNodes = new HashSet<YamlNode>(graph.Steps.Where(s => IsNative(s, graph)).Select(s => (YamlNode)s.Node!), ReferenceEqualityComparer.Instance);
        List<YamlNode> newContainers =
        [
            .. containers.Children.Where(n => !nativeNodes.Contains(n)),
            .. graph.Steps.Where(s => s.InInitContainers && !IsNative(s, graph)).Select(s => s.Node!),
        ];

        if (inits is null)
        {
            inits = new YamlSequenceNode();
            spec.Set("initContainers", inits, spec.IndexOf("containers"));
        }
        Replace(inits, newInits);
        Replace(containers, newContainers);
    }

    // Block style for the lists we edit: a flow list (`containers: [{...}]`) would force the
    // long commands inside it onto one line.
    private static void Replace(YamlSequenceNode sequence, List<YamlNode> children)
    {
        sequence.Style = SequenceStyle.Block;
        sequence.Children.Clear();
        foreach (YamlNode child in children)
        {
            sequence.Children.Add(child);
        }
    }

    private static void UpdateInitContainer(YamlMappingNode init, string image)
    {
        init.Set("name", YamlNodes.String(EmissaryRun.InitContainerName));
        init.Set("image", YamlNodes.String(image));
        // The image's ENTRYPOINT is the binary (Dockerfile.scratch); a trailing '/' makes init create the directory's file.
        init.Set("args", YamlNodes.Strings(["init", EmissaryRun.BinDirectory + "/"]));
        EnsureMount(VolumeMounts(init), EmissaryRun.BinVolume, EmissaryRun.BinDirectory, readOnly: false);
    }

    private static void Wrap(StepSpec step, PodGraph graph, StepHost host, string[] stepVolumes, string[] stepDirectories)
    {
        YamlMappingNode node = step.Node!;
        node.Style = MappingStyle.Block;
        RemoveStepFields(node);
        var command = new YamlSequenceNode { Style = SequenceStyle.Block };
        command.Children.Add(YamlNodes.String(EmissaryRun.Binary));
        command.Children.Add(YamlNodes.String("run"));
        foreach (string arg in EmissaryRun.RunArguments(step, graph, host))
        {
            command.Children.Add(YamlNodes.String(arg));
        }
        command.Children.Add(YamlNodes.String("--"));
        foreach (YamlNode part in step.CommandNodes!)
        {
            command.Children.Add(part);
        }
        // Where the command was; else where args were; else after the image.
        int at = node.IndexOf("command") is >= 0 and var c ? c : node.IndexOf("args") is >= 0 and var a ? a : node.IndexOf("image") is >= 0 and var i ? i + 1 : -1;
        node.Set("command", command, at);
        node.Remove("args");
        YamlSequenceNode mounts = VolumeMounts(node);
        EnsureMount(mounts, EmissaryRun.BinVolume, EmissaryRun.BinDirectory, readOnly: true);
        EnsureMount(mounts, EmissaryRun.ControlVolume, EmissaryRun.ControlDirectory, readOnly: false);
        // Every step's record in every wrapped container, so any of them can read it (gates,
        // results, status, signal through the FIFO), but only the step's own container writes it.
        for (int k = 0; k < graph.Steps.Count; k++)
        {
            EnsureMount(mounts, stepVolumes[k], stepDirectories[k], readOnly: graph.Steps[k].Name != step.Name);
        }
        RemoveStaleStepMounts(node, stepVolumes);
        MountRootFirst(node);
        if (IsNative(step, graph))
        {
            node.Set("restartPolicy", YamlNodes.String("Always"));
        }
        else if (step.InInitContainers && node.GetText("restartPolicy") == "Always")
        {
            node.Remove("restartPolicy"); // a native sidecar going back among the containers
        }
    }

    /// <summary>
    /// The emissary fields (timeout, waitForTermination...), which the command now carries: in one
    /// pass over the container, the first entry of each (as a lookup by name finds it).
    /// </summary>
    private static void RemoveStepFields(YamlMappingNode container)
    {
        int removed = 0; // a bit per StepField
        for (int i = 0; i < container.Children.Count; i++)
        {
            if (container.Children[i].Key is YamlScalarNode { Value: { } key } && StepFields.Find(key) is { } field && (removed & (1 << (int)field)) == 0)
            {
                removed |= 1 << (int)field;
                container.Children.RemoveAt(i--);
            }
        }
    }

    /// <summary>The container's volumeMounts, made a list (at the end) when there is none.</summary>
    private static YamlSequenceNode VolumeMounts(YamlMappingNode container)
    {
        if (container.Get("volumeMounts") is not YamlSequenceNode mounts)
        {
            mounts = new YamlSequenceNode();
            container.Set("volumeMounts", mounts);
        }
        return mounts;
    }

    /// <summary>
    /// The mount of <paramref name="volume"/> at <paramref name="path"/>, added at the end, or made
    /// so where a mount of that volume (or at that path, from an earlier rewrite) already is.
    /// </summary>
    private static void EnsureMount(YamlSequenceNode mounts, string volume, string path, bool readOnly)
    {
        YamlMappingNode? mount = FindMount(mounts, volume, path);
        if (mount is null)
        {
            // The usual case (a pod not rewritten before): the entries in order, with no lookups.
            mount = new YamlMappingNode
            {
                { "name", YamlNodes.String(volume) },
                { "mountPath", YamlNodes.String(path) },
            };
            if (readOnly)
            {
                mount.Add("readOnly", YamlNodes.Boolean(true));
            }
            mounts.Children.Add(mount);
            return;
        }
        mount.Set("name", YamlNodes.String(volume));
        mount.Set("mountPath", YamlNodes.String(path));
        if (readOnly)
        {
            mount.Set("readOnly", YamlNodes.Boolean(true));
        }
        else
        {
            mount.Remove("readOnly");
        }
    }

    /// <summary>The first mount of <paramref name="volume"/>, else the first at <paramref name="path"/>, else null: in one pass.</summary>
    private static YamlMappingNode? FindMount(YamlSequenceNode mounts, string volume, string path)
    {
        YamlMappingNode? atPath = null;
        foreach (YamlNode child in mounts.Children)
        {
            if (child is not YamlMappingNode mount)
            {
                continue;
            }
            if (mount.GetText("name") == volume)
            {
                return mount;
            }
            if (atPath is null && mount.GetText("mountPath") == path)
            {
                atPath = mount;
            }
        }
        return atPath;
    }

    /// <summary>The first mapping of <paramref name="sequence"/> whose <paramref name="key"/> is <paramref name="text"/>, or null.</summary>
    private static YamlMappingNode? FindByText(YamlSequenceNode sequence, string key, string text)
    {
        foreach (YamlNode child in sequence.Children)
        {
            if (child is YamlMappingNode mapping && mapping.GetText(key) == text)
            {
                return mapping;
            }
        }
        return null;
    }

    /// <summary>
    /// The control directory's mount before the step volumes mounted inside it (a container
    /// runtime mounts in the listed order, and a mount under a path mounted later would be hidden).
    /// </summary>
    private static void MountRootFirst(YamlMappingNode container)
    {
        var mounts = (YamlSequenceNode)container.Get("volumeMounts")!;
        IList<YamlNode> children = mounts.Children;
        int root = -1;
        int firstInside = -1;
        for (int i = 0; i < children.Count && (root < 0 || firstInside < 0); i++)
        {
            if (children[i] is YamlMappingNode mapping && mapping.GetText("mountPath") is { } path)
            {
                if (root < 0 && path == EmissaryRun.ControlDirectory)
                {
                    root = i;
                }
                else if (firstInside < 0 && path.StartsWith(EmissaryRun.ControlDirectory + "/", StringComparison.Ordinal))
                {
                    firstInside = i;
                }
            }
        }
        if (root > firstInside && firstInside >= 0)
        {
            YamlNode rootMount = children[root];
            mounts.Children.RemoveAt(root);
            mounts.Children.Insert(firstInside, rootMount);
        }
    }

    // A step volume of a container that is no longer in the pod (renamed or removed since an earlier rewrite).
    private static bool IsStaleStepVolume(YamlMappingNode node, string[] stepVolumes) =>
        node.GetText("name") is { } name && name.StartsWith(EmissaryRun.StepVolumePrefix, StringComparison.Ordinal) && !stepVolumes.Contains(name);

    private static void RemoveStaleStepMounts(YamlMappingNode container, string[] stepVolumes) =>
        RemoveStaleStepVolumes(container.Get("volumeMounts") as YamlSequenceNode, stepVolumes);

    private static void RemoveStaleStepVolumes(YamlMappingNode spec, string[] stepVolumes) =>
        RemoveStaleStepVolumes(spec.Get("volumes") as YamlSequenceNode, stepVolumes);

    // Volumes or mounts: both name the volume in "name".
    private static void RemoveStaleStepVolumes(YamlSequenceNode? list, string[] stepVolumes)
    {
        for (int i = (list?.Children.Count ?? 0) - 1; i >= 0; i--)
        {
            if (list!.Children[i] is YamlMappingNode node && IsStaleStepVolume(node, stepVolumes))
            {
                list.Children.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// A memory-backed emptyDir (tmpfs): the control files are tiny, and a step waiting for another
    /// is woken sooner by a rename on tmpfs than on the node's disk.
    /// </summary>
    private static YamlMappingNode MemoryVolume(string? sizeLimit)
    {
        var emptyDir = new YamlMappingNode { Style = MappingStyle.Flow };
        emptyDir.Add("medium", YamlNodes.String("Memory"));
        if (sizeLimit is not null)
        {
            emptyDir.Add("sizeLimit", YamlNodes.String(sizeLimit));
        }
        return emptyDir;
    }

    /// <summary>Our volume <paramref name="name"/>, added as an emptyDir of <paramref name="emptyDir"/>'s kind when missing; one that is there already is left as it is (its source may have been chosen on purpose).</summary>
    private static void EnsureVolume(YamlMappingNode spec, string name, YamlMappingNode emptyDir)
    {
        if (spec.Get("volumes") is not YamlSequenceNode volumes)
        {
            volumes = new YamlSequenceNode();
            spec.Set("volumes", volumes);
        }
        if (FindByText(volumes, "name", name) is not null)
        {
            return;
        }
        volumes.Children.Add(new YamlMappingNode
        {
            { "name", YamlNodes.String(name) },
            { "emptyDir", emptyDir },
        });
    }
}
