using Emissary.Cli;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.PodSpec;

/// <summary>What <c>emissary rewrite</c> was asked for.</summary>
internal sealed record RewriteSettings
{
    /// <summary>The Emissary image (Dockerfile.scratch): the init container's, or the image volume's.</summary>
    public static readonly string DefaultImage = "ghcr.io/emissary-dev/emissary:" + CommandLine.Version;

    public string Image { get; init; } = DefaultImage;

    /// <summary><c>--delivery</c>: how the binary reaches the containers, unless a pod's <c>emissary.dev/delivery</c> says; null: as the pod is wired already, else by init container.</summary>
    public BinaryDelivery? Delivery { get; init; }

    /// <summary>
    /// <c>--image-pull-policy</c> of the Emissary image: the image volume's <c>pullPolicy</c>, the
    /// init container's <c>imagePullPolicy</c>; null: what an earlier rewrite wrote, else
    /// <see cref="BinaryDeliveries.DefaultPullPolicy"/> for the volume and Kubernetes' default for the init container.
    /// </summary>
    public string? ImagePullPolicy { get; init; }

    public EntrypointIndex? Entrypoints { get; init; }

    /// <summary>Run sidecars as native sidecars where the pod does not say (<c>--native-sidecars</c>).</summary>
    public bool NativeSidecars { get; init; }

    /// <summary><c>--as-pod</c>: write each workload's pod as a bare Pod (for <c>podman kube play</c>, which runs Pods but not Jobs).</summary>
    public bool AsPod { get; init; }

    /// <summary>Where the wrapped steps will run: a Kubernetes pod, or a podman pod (which has no mesh proxy).</summary>
    public StepHost Host { get; init; } = StepHost.Kubernetes;

    /// <summary>What one pod may cost (containers, step-record mounts); the same for <c>rewrite</c> and the webhook.</summary>
    public PodLimits Limits { get; init; } = PodLimits.Default;

    /// <summary>
    /// Checked once per container while a pod is read and rewritten (then
    /// <see cref="OperationCanceledException"/>): the webhook stops a review whose client went away.
    /// </summary>
    public CancellationToken Cancellation { get; init; }

    public PodGraphOptions GraphOptions => new() { Entrypoints = Entrypoints, NativeSidecars = NativeSidecars, Delivery = Delivery, Limits = Limits, Cancellation = Cancellation };
}

/// <summary>
/// Wires emissary into one pod, in place: the volumes (the binary's, the shared control
/// directory, one per step for its record), the init container that installs the binary (or,
/// delivered by image volume, the Emissary image as the binary's volume and no init container),
/// and every step's container wrapped in <c>emissary run</c> (native sidecars
/// moved among the init containers). Each wrapped container mounts its own record read-write and
/// only the records it reads read-only (<see cref="PodGraph.RecordsReadBy"/>), so the pod grows
/// with its containers and gates, not with their square. Rewriting a rewritten pod gives the same
/// pod: everything added is found again by name, the commands are rebuilt from the same settings,
/// and step mounts no longer needed are removed. Every pass is linear in the pod's size.
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

        // The records the containers mount, counted against the limit before any is listed (S
        // sidecars that watch N steps each would be S x N names) or anything is edited.
        long recordMounts = 0;
        foreach (StepSpec step in graph.Steps)
        {
            recordMounts += 1 + graph.CountRecordsRead(step);
        }
        if (recordMounts > settings.Limits.MaxRecordMounts)
        {
            errors.Add(new ManifestError(manifest.SourceName, manifest.DisplayName, manifest.PathPrefix + manifest.PodSpecPath,
                $"{recordMounts} step-record mounts (each container's own record and the records it reads: upstreams, stream partners, result sources, observed steps, a sidecar's watched steps) is more than the limit of {settings.Limits.MaxRecordMounts} per pod"));
            return false;
        }

        var spec = (YamlMappingNode)manifest.At(manifest.PodSpecPath)!;
        BinaryDelivery delivery = settings.Host.MountsImageVolumes() ? graph.Delivery : BinaryDelivery.Init;
        PlaceContainers(graph, spec, delivery == BinaryDelivery.Init ? settings : null);
        // Each step's volume, named once per pod rather than once per container that mounts it.
        var stepVolumes = new Dictionary<string, string>(graph.Steps.Count, StringComparer.Ordinal);
        foreach (StepSpec step in graph.Steps)
        {
            stepVolumes[step.Name] = EmissaryRun.StepVolume(step.Name);
        }
        foreach (StepSpec step in graph.Steps)
        {
            settings.Cancellation.ThrowIfCancellationRequested();
            Wrap(step, graph, settings.Host, graph.RecordsReadBy(step), stepVolumes);
        }
        var volumes = new PodVolumes(spec);
        if (delivery == BinaryDelivery.ImageVolume)
        {
            volumes.SetImageSource(EmissaryRun.BinVolume, settings.Image, settings.ImagePullPolicy);
        }
        else
        {
            volumes.EnsureBinaryEmptyDir(EmissaryRun.BinVolume);
        }
        volumes.Ensure(EmissaryRun.ControlVolume, MemoryVolume(sizeLimit: null));
        foreach (string volume in stepVolumes.Values)
        {
            volumes.Ensure(volume, MemoryVolume(EmissaryRun.StepVolumeSizeLimit));
        }
        RemoveStaleStepVolumes(volumes.List, new HashSet<string>(stepVolumes.Values, StringComparer.Ordinal));
        return true;
    }

    private static bool IsNative(StepSpec step, PodGraph graph) => graph.NativeSidecars && step.Role == StepRole.Sidecar;

    /// <summary>
    /// initContainers: emissary's own first (it installs the binary everything else runs; none,
    /// and an earlier one removed, when <paramref name="installer"/> is null: the binary comes from
    /// an image volume), then the user's init containers, untouched, then the native sidecars: as
    /// regular containers they started after every init container had finished, and still do.
    /// containers: the rest.
    /// </summary>
    private static void PlaceContainers(PodGraph graph, YamlMappingNode spec, RewriteSettings? installer)
    {
        var containers = (YamlSequenceNode)spec.Get("containers")!;
        var inits = spec.Get("initContainers") as YamlSequenceNode;
        var stepNodes = new HashSet<YamlNode>(graph.Steps.Select(s => (YamlNode)s.Node!), ReferenceEqualityComparer.Instance);

        YamlMappingNode? earlier = inits?.Children.OfType<YamlMappingNode>().FirstOrDefault(n => n.GetText("name") == EmissaryRun.InitContainerName);
        YamlMappingNode? init = null;
        if (installer is not null)
        {
            init = earlier ?? new YamlMappingNode();
            UpdateInitContainer(init, installer.Image, installer.ImagePullPolicy);
            init.Style = MappingStyle.Block;
        }
        List<YamlNode> newInits =
        [
            .. init is null ? [] : new YamlNode[] { init },
            .. inits?.Children.Where(n => !ReferenceEquals(n, earlier) && !stepNodes.Contains(n)) ?? [],
            .. graph.Steps.Where(s => IsNative(s, graph)).Select(s => s.Node!),
        ];
        var nativeNodes = new HashSet<YamlNode>(graph.Steps.Where(s => IsNative(s, graph)).Select(s => (YamlNode)s.Node!), ReferenceEqualityComparer.Instance);
        List<YamlNode> newContainers =
        [
            .. containers.Children.Where(n => !nativeNodes.Contains(n)),
            .. graph.Steps.Where(s => s.InInitContainers && !IsNative(s, graph)).Select(s => s.Node!),
        ];

        if (newInits.Count == 0)
        {
            spec.Remove("initContainers"); // none left (an image-volume pod without init containers of its own): no empty list
        }
        else
        {
            if (inits is null)
            {
                inits = new YamlSequenceNode();
                spec.Set("initContainers", inits, spec.IndexOf("containers"));
            }
            Replace(inits, newInits);
        }
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

    private static void UpdateInitContainer(YamlMappingNode init, string image, string? pullPolicy)
    {
        init.Set("name", YamlNodes.String(EmissaryRun.InitContainerName));
        init.Set("image", YamlNodes.String(image));
        if (pullPolicy is not null)
        {
            init.Set("imagePullPolicy", YamlNodes.String(pullPolicy), init.IndexOf("image") + 1);
        }
        // The image's ENTRYPOINT is the binary (Dockerfile.scratch); a trailing '/' makes init create the directory's file.
        init.Set("args", YamlNodes.Strings(["init", EmissaryRun.BinDirectory + "/"]));
        SetMounts(VolumeMounts(init), [(EmissaryRun.BinVolume, EmissaryRun.BinDirectory, false)]);
    }

    private static void Wrap(StepSpec step, PodGraph graph, StepHost host, IReadOnlyList<string> reads, Dictionary<string, string> stepVolumes)
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
        // Its own record read-write; the records it reads read-only, so only a step's own
        // container can write its record, whatever its uid; no other step's record at all.
        var wanted = new List<(string Volume, string Path, bool ReadOnly)>(3 + reads.Count)
        {
            (EmissaryRun.BinVolume, EmissaryRun.BinDirectory, true),
            (EmissaryRun.ControlVolume, EmissaryRun.ControlDirectory, false),
            (stepVolumes[step.Name], EmissaryRun.StepDirectory(step.Name), false),
        };
        foreach (string read in reads)
        {
            wanted.Add((stepVolumes[read], EmissaryRun.StepDirectory(read), true));
        }
        SetMounts(VolumeMounts(node), wanted);
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
    /// Makes <paramref name="mounts"/> hold each wanted mount: one of that volume (or, from an
    /// earlier rewrite, at that path) made so, else a new one at the end; then drops the step
    /// mounts not wanted (a step renamed or removed, or a record this container no longer reads).
    /// The user's mounts are left as they are. One pass to index, one per wanted mount, one to drop.
    /// </summary>
    private static void SetMounts(YamlSequenceNode mounts, List<(string Volume, string Path, bool ReadOnly)> wanted)
    {
        var byVolume = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
        var byPath = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
        foreach (YamlNode child in mounts.Children)
        {
            if (child is YamlMappingNode mount)
            {
                if (mount.GetText("name") is { } name)
                {
                    byVolume.TryAdd(name, mount);
                }
                if (mount.GetText("mountPath") is { } path)
                {
                    byPath.TryAdd(path, mount);
                }
            }
        }
        var kept = new HashSet<YamlNode>(ReferenceEqualityComparer.Instance);
        foreach ((string volume, string path, bool readOnly) in wanted)
        {
            YamlMappingNode? mount = byVolume.GetValueOrDefault(volume) is { } named && !kept.Contains(named) ? named
                : byPath.GetValueOrDefault(path) is { } placed && !kept.Contains(placed) ? placed
                : null;
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
            }
            else
            {
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
            kept.Add(mount);
        }
        RemoveAll(mounts, child => !kept.Contains(child) && IsStepVolume(child));
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

    // Named like the volume of a step's record: ours, whatever the pod or an earlier rewrite says.
    private static bool IsStepVolume(YamlNode node) =>
        node is YamlMappingNode mapping && mapping.GetText("name") is { } name && name.StartsWith(EmissaryRun.StepVolumePrefix, StringComparison.Ordinal);

    // The volume of a container that is no longer in the pod (renamed or removed since an earlier rewrite).
    private static void RemoveStaleStepVolumes(YamlSequenceNode volumes, HashSet<string> stepVolumes) =>
        RemoveAll(volumes, node => IsStepVolume(node) && !stepVolumes.Contains(((YamlMappingNode)node).GetText("name")!));

    /// <summary>Removes the children that match, in one pass (RemoveAt in a loop would move the rest each time).</summary>
    private static void RemoveAll(YamlSequenceNode sequence, Func<YamlNode, bool> remove)
    {
        IList<YamlNode> children = sequence.Children;
        int kept = 0;
        for (int i = 0; i < children.Count; i++)
        {
            if (!remove(children[i]))
            {
                children[kept++] = children[i];
            }
        }
        while (children.Count > kept)
        {
            children.RemoveAt(children.Count - 1);
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

    /// <summary>The pod's volumes, indexed by name once.</summary>
    private sealed class PodVolumes
    {
        private readonly Dictionary<string, YamlMappingNode> _byName = new(StringComparer.Ordinal);

        public PodVolumes(YamlMappingNode spec)
        {
            if (spec.Get("volumes") is not YamlSequenceNode volumes)
            {
                volumes = new YamlSequenceNode();
                spec.Set("volumes", volumes);
            }
            List = volumes;
            foreach (YamlNode child in volumes.Children)
            {
                if (child is YamlMappingNode volume && volume.GetText("name") is { } name)
                {
                    _byName.TryAdd(name, volume);
                }
            }
        }

        public YamlSequenceNode List { get; }

        /// <summary>Our volume <paramref name="name"/>, added as an emptyDir of <paramref name="emptyDir"/>'s kind when missing; one that is there already is left as it is (its source may have been chosen on purpose).</summary>
        public void Ensure(string name, YamlMappingNode emptyDir)
        {
            if (_byName.ContainsKey(name))
            {
                return;
            }
            Add(name, "emptyDir", emptyDir);
        }

        /// <summary>
        /// The binary's volume for the init container to fill: an emptyDir, added when missing; an
        /// image volume from an earlier image-volume rewrite becomes the emptyDir (the init
        /// container would copy onto a read-only image); another source is left as it is.
        /// </summary>
        public void EnsureBinaryEmptyDir(string name)
        {
            if (_byName.GetValueOrDefault(name) is { } volume && volume.Get("image") is not null)
            {
                SetSource(volume, "emptyDir", new YamlMappingNode { Style = MappingStyle.Flow });
                return;
            }
            Ensure(name, new YamlMappingNode { Style = MappingStyle.Flow });
        }

        /// <summary>
        /// The volume <paramref name="name"/> made an image volume of <paramref name="reference"/>
        /// (core/v1 ImageVolumeSource: <c>reference</c>, <c>pullPolicy</c>), whatever its source
        /// was: the binary's directory is only emissary's. The pull policy is
        /// <paramref name="pullPolicy"/>, else the one an earlier rewrite wrote, else IfNotPresent.
        /// </summary>
        public void SetImageSource(string name, string reference, string? pullPolicy)
        {
            var image = new YamlMappingNode { Style = MappingStyle.Flow };
            image.Add("reference", YamlNodes.String(reference));
            string? earlier = (_byName.GetValueOrDefault(name)?.Get("image") as YamlMappingNode)?.GetText("pullPolicy");
            image.Add("pullPolicy", YamlNodes.String(pullPolicy ?? earlier ?? BinaryDeliveries.DefaultPullPolicy));
            if (_byName.GetValueOrDefault(name) is { } volume)
            {
                SetSource(volume, "image", image);
            }
            else
            {
                Add(name, "image", image);
            }
        }

        private void Add(string name, string sourceKey, YamlMappingNode source)
        {
            var volume = new YamlMappingNode
            {
                { "name", YamlNodes.String(name) },
                { sourceKey, source },
            };
            List.Children.Add(volume);
            _byName.Add(name, volume);
        }

        // A volume has its name and exactly one source: the old source goes, the new one takes its place.
        private static void SetSource(YamlMappingNode volume, string sourceKey, YamlMappingNode source)
        {
            for (int i = volume.Children.Count - 1; i >= 0; i--)
            {
                if (volume.Children[i].Key is not YamlScalarNode { Value: "name" })
                {
                    volume.Children.RemoveAt(i);
                }
            }
            volume.Add(sourceKey, source);
        }
    }
}
