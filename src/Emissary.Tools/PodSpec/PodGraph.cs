namespace Emissary.Tools.PodSpec;

/// <summary>How to read a pod's graph where the pod itself does not say.</summary>
internal sealed record PodGraphOptions
{
    /// <summary>The images' entrypoints, for containers without a <c>command</c> (<c>--entrypoints</c>).</summary>
    public EntrypointIndex? Entrypoints { get; init; }

    /// <summary>Run sidecars as native sidecars unless the pod's <c>emissary.dev/native-sidecars</c> says otherwise (<c>--native-sidecars</c>).</summary>
    public bool NativeSidecars { get; init; }
}

/// <summary>
/// The step graph of one pod: its containers as steps and sidecars, the gates between them, and
/// the pod-level choices (native sidecars, injected proxy). Extracted from any object that carries
/// a pod (Pod, PodTemplate, workloads, Job, CronJob), validated on the way. Used by
/// <c>emissary rewrite</c> (to wire emissary into the pod) and <c>emissary local</c> (to run it here).
/// </summary>
internal sealed record PodGraph
{
    /// <summary>The object the pod belongs to.</summary>
    public required ManifestObject Manifest { get; init; }

    /// <summary>Every container that becomes an <c>emissary run</c>: already-native sidecars (init containers) first, then the containers, in the pod's order.</summary>
    public required IReadOnlyList<StepSpec> Steps { get; init; }

    /// <summary>Whether sidecars run as native sidecars (init containers with <c>restartPolicy: Always</c>).</summary>
    public bool NativeSidecars { get; init; }

    /// <summary>The proxy the mesh injects into this pod.</summary>
    public ProxyKind Proxy { get; init; }

    /// <summary>Things that are allowed but probably not meant (printed, exit code unaffected).</summary>
    public IReadOnlyList<ManifestError> Warnings { get; init; } = [];

    /// <summary>Each step's share of the kubelet's 12 KiB of termination messages per pod, at most 4 KiB.</summary>
    public int TerminationBudget => Steps.Count == 0
        ? EmissaryRun.ContainerTerminationBudget
        : Math.Min(EmissaryRun.ContainerTerminationBudget, EmissaryRun.PodTerminationBudget / Steps.Count);

    public StepSpec? Find(string name) => Steps.FirstOrDefault(s => s.Name == name);

    /// <summary>A step no other step waits for: one of those ends last, so these tell an injected proxy to quit.</summary>
    public bool IsFinal(StepSpec step) =>
        step.Role == StepRole.Step && !Steps.Any(s => s.Role == StepRole.Step && s.Gates.Contains(step.Name));

    /// <summary>
    /// Reads and validates the pod of <paramref name="manifest"/> (which must carry one:
    /// <see cref="ManifestObject.HasPod"/>). Returns null, having added every problem to
    /// <paramref name="errors"/>, when the pod is invalid.
    /// </summary>
    public static PodGraph? Extract(ManifestObject manifest, PodGraphOptions options, ICollection<ManifestError> errors)
    {
        if (!manifest.HasPod)
        {
            throw new ArgumentException($"{manifest.DisplayName} ({manifest.Kind ?? "no kind"}) carries no pod", nameof(manifest));
        }
        return new PodGraphReader(manifest, options, errors).Read();
    }
}
