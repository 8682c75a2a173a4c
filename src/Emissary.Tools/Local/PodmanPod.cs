using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tools.Local;

/// <summary>Turns the pod of a manifest into the <see cref="PodmanPlan"/>: `rewrite --as-pod`, in process, plus what podman needs.</summary>
internal static class PodmanPod
{
    /// <summary>--image's default: the image Dockerfile.scratch builds, tagged for local use.</summary>
    public const string DefaultImage = "localhost/emissary:dev";

    /// <summary>The pod's name when its manifest has none.</summary>
    public const string DefaultPodName = "emissary-local";

    /// <summary>
    /// Rewrites <paramref name="pod"/> (one of <paramref name="set"/>'s objects, already read into
    /// <paramref name="graph"/> without errors) in place, as <c>emissary rewrite --as-pod</c> would,
    /// for a podman pod (whose steps neither wait for nor quit a mesh proxy it does not have), then:
    /// restartPolicy Never (each step runs once), and volume names unique to this run (podman names
    /// a pod's emptyDir volumes after them, so two pods would share them). Null, with the problems
    /// in <paramref name="errors"/> (the same as rewrite's), when the pod cannot be rewritten.
    /// With <paramref name="breakOnFailure"/> (`local --debug`) every step's `emissary run` also
    /// gets <c>--breakpoint on-failure</c>.
    /// </summary>
    public static PodmanPlan? Prepare(ManifestSet set, ManifestObject pod, PodGraph graph, RewriteSettings settings, string runId, ICollection<ManifestError> errors, bool breakOnFailure = false)
    {
        if (graph.NativeSidecars && graph.Steps.Any(s => s.Role == StepRole.Sidecar))
        {
            // kube play runs init containers one after the other, each to its end: a native
            // sidecar (an init container with restartPolicy: Always) would hold the pod for ever.
            throw new UsageException($"{pod.DisplayName}: --engine podman cannot run native sidecars (podman kube play runs init containers to their end): set the annotation emissary.dev/native-sidecars: \"false\", or use --engine process");
        }
        ManifestRewriter.Rewrite(set, settings with { AsPod = true, Host = StepHost.Podman }, errors, new List<ManifestError>());
        if (errors.Count > 0)
        {
            return null;
        }

        var notes = new List<string>();
        YamlMappingNode node = pod.Node; // now a Pod: ReplaceWithPod edits the object's node in place
        if (node.Get("metadata") is not YamlMappingNode metadata)
        {
            metadata = new YamlMappingNode();
            node.Set("metadata", metadata);
        }
        string podName = metadata.GetText("name") ?? DefaultPodName;
        metadata.Set("name", YamlNodes.String(podName));
        var spec = (YamlMappingNode)node.Get("spec")!;
        if (spec.GetText("restartPolicy") is { } policy && policy != "Never")
        {
            notes.Add($"restartPolicy {policy} -> Never: --engine podman runs each step once (the process engine plays restarts)");
        }
        spec.Set("restartPolicy", YamlNodes.String("Never"));

        string binVolume = EmissaryRun.BinVolume + "-" + runId;
        string controlVolume = EmissaryRun.ControlVolume + "-" + runId;
        (string Step, string Volume)[] stepVolumes = graph.Steps.Select(s => (s.Name, EmissaryRun.StepVolume(s.Name) + "-" + runId)).ToArray();
        var renames = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [EmissaryRun.BinVolume] = binVolume,
            [EmissaryRun.ControlVolume] = controlVolume,
        };
        foreach ((string step, string volume) in stepVolumes)
        {
            renames[EmissaryRun.StepVolume(step)] = volume;
        }
        string Renamed(string name) => renames.TryGetValue(name, out string? renamed) ? renamed : name;
        foreach (YamlMappingNode volume in Sequence(spec, "volumes"))
        {
            if (volume.GetText("name") is { } name && Renamed(name) != name)
            {
                volume.Set("name", YamlNodes.String(Renamed(name)));
            }
        }

        YamlMappingNode[] containers = [.. Sequence(spec, "initContainers"), .. Sequence(spec, "containers")];
        var images = new List<(string Image, string Container)>();
        foreach (YamlMappingNode container in containers)
        {
            string containerName = container.GetText("name") ?? "";
            foreach (YamlMappingNode mount in Sequence(container, "volumeMounts"))
            {
                if (mount.GetText("name") is { } name && Renamed(name) != name)
                {
                    mount.Set("name", YamlNodes.String(Renamed(name)));
                }
            }
            if (container.GetText("image") is { } image && !images.Any(i => i.Image == image))
            {
                images.Add((image, containerName));
            }
            if (breakOnFailure && graph.Steps.Any(s => s.Name == containerName))
            {
                BreakOnFailure(container);
            }
        }
        // The rewrite above asked for no proxy flags; say so where a Kubernetes pod would have had them.
        if (graph.Steps.Any(s => EmissaryRun.ArgumentsFor(s, graph, StepHost.Kubernetes).WaitProxy is not null))
        {
            notes.Add($"no {EmissaryRun.ProxyPreset(graph.Proxy) ?? "mesh"} proxy runs in a podman pod: the steps do not wait for it or tell it to quit");
        }

        return new PodmanPlan
        {
            PodName = podName,
            Yaml = YamlManifests.Write([node]),
            Images = images,
            EmissaryImage = settings.Image,
            BinVolume = binVolume,
            ControlVolume = controlVolume,
            StepVolumes = stepVolumes,
            Steps = graph.Steps.Select(s => (s.Name, podName + "-" + s.Name, s.Role == StepRole.Sidecar)).ToArray(),
            Notes = notes,
        };
    }

    /// <summary>
    /// `--breakpoint on-failure` right after `emissary run` in the step's rewritten command (the
    /// flag, not EMISSARY_BREAKPOINT in the container's env, which its command would inherit).
    /// </summary>
    private static void BreakOnFailure(YamlMappingNode container)
    {
        if (container.Get("command") is YamlSequenceNode command && command.Children.Count > 1
            && command.Children[0] is YamlScalarNode { Value: { } binary } && binary.EndsWith("/emissary", StringComparison.Ordinal)
            && command.Children[1] is YamlScalarNode { Value: "run" })
        {
            command.Children.Insert(2, YamlNodes.String("--breakpoint"));
            command.Children.Insert(3, YamlNodes.String("on-failure"));
        }
    }

    private static IEnumerable<YamlMappingNode> Sequence(YamlMappingNode mapping, string key) =>
        mapping.Get(key) is YamlSequenceNode sequence ? sequence.Children.OfType<YamlMappingNode>() : [];
}
