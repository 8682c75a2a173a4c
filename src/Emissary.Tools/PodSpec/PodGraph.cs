namespace Emissary.Tools.PodSpec;

/// <summary>How to read a pod's graph where the pod itself does not say.</summary>
internal sealed record PodGraphOptions
{
    /// <summary>The images' entrypoints, for containers without a <c>command</c> (<c>--entrypoints</c>).</summary>
    public EntrypointIndex? Entrypoints { get; init; }

    /// <summary>Run sidecars as native sidecars unless the pod's <c>emissary.dev/native-sidecars</c> says otherwise (<c>--native-sidecars</c>).</summary>
    public bool NativeSidecars { get; init; }

    /// <summary>How the binary is delivered unless the pod's <c>emissary.dev/delivery</c> says (<c>--delivery</c>); null: as the pod is wired already, else by init container.</summary>
    public BinaryDelivery? Delivery { get; init; }

    /// <summary>What one pod may cost; a pod over a limit is refused before it is read further.</summary>
    public PodLimits Limits { get; init; } = PodLimits.Default;

    /// <summary>Checked once per container: the webhook cancels a review whose client went away.</summary>
    public CancellationToken Cancellation { get; init; }
}

/// <summary>
/// The step graph of one pod: its containers as steps and sidecars, the gates between them, and
/// the pod-level choices (native sidecars, injected proxy). Extracted from any object that carries
/// a pod (Pod, PodTemplate, workloads, Job, CronJob), validated on the way. Used by
/// <c>emissary rewrite</c> (to wire emissary into the pod) and <c>emissary local</c> (to run it here).
/// </summary>
internal sealed record PodGraph
{
    private readonly IReadOnlyList<StepSpec> _steps = [];
    private readonly StepIndex _index = StepIndex.Empty;

    /// <summary>The object the pod belongs to.</summary>
    public required ManifestObject Manifest { get; init; }

    /// <summary>Every container that becomes an <c>emissary run</c>: already-native sidecars (init containers) first, then the containers, in the pod's order.</summary>
    public required IReadOnlyList<StepSpec> Steps
    {
        get => _steps;
        init
        {
            _steps = value;
            _index = new StepIndex(value); // built with the list, so a copy made with `with` never keeps another list's index
        }
    }

    /// <summary>Whether sidecars run as native sidecars (init containers with <c>restartPolicy: Always</c>).</summary>
    public bool NativeSidecars { get; init; }

    /// <summary>The proxy the mesh injects into this pod.</summary>
    public ProxyKind Proxy { get; init; }

    /// <summary>How the binary reaches the containers: the pod's annotation, else the option, else the pod's wiring, else init.</summary>
    public BinaryDelivery Delivery { get; init; }

    /// <summary>Things that are allowed but probably not meant (printed, exit code unaffected).</summary>
    public IReadOnlyList<ManifestError> Warnings { get; init; } = [];

    /// <summary>Each step's share of the kubelet's 12 KiB of termination messages per pod, at most 4 KiB.</summary>
    public int TerminationBudget => Steps.Count == 0
        ? EmissaryRun.ContainerTerminationBudget
        : Math.Min(EmissaryRun.ContainerTerminationBudget, EmissaryRun.PodTerminationBudget / Steps.Count);

    public StepSpec? Find(string name) => _index.ByName.GetValueOrDefault(name);

    /// <summary>A step no other step waits for: one of those ends last, so these tell an injected proxy to quit.</summary>
    public bool IsFinal(StepSpec step) => step.Role == StepRole.Step && !_index.WaitedFor.Contains(step.Name);

    /// <summary>
    /// What a sidecar that is not a native one watches (<c>--sidecar-of</c>): steps whose ends tell
    /// that every step is over. Not every step: a step Y "covers" its upstream X when Y cannot be
    /// over before X is — Y waits for X alone, or for all its upstreams whatever their outcome
    /// (runOnUpstreamFailure), and nothing else can end Y's wait early (no waitForStart, which
    /// <c>emissary skip</c> ends; no gate flags of a rewritten command, e.g. --wait-timeout).
    /// Covering is transitive and the gates have no cycle, so the steps nobody covers are enough:
    /// the final step of a chain, and the upstreams of a step that waits for several and is skipped
    /// as soon as one of them fails. Edge case: a covering step stopped while it waits (the
    /// kubelet's SIGTERM, <c>emissary signal</c>, a kill) is over before its upstreams, and the
    /// sidecar may then be stopped while they still run. At most one name per step, for each sidecar.
    /// </summary>
    public IReadOnlyList<string> EndingSteps => _index.EndingSteps;

    /// <summary>
    /// The other steps whose records <paramref name="step"/>'s emissary reads, in the pod's order:
    /// the steps it waits for, the ones it watches as a sidecar (<see cref="EndingSteps"/>), its
    /// stream's partner (the producer it reads, or the consumer it waits for), the steps whose
    /// results its command or environment takes, and the steps its command observes (<c>observes</c>).
    /// Its container mounts these read-only, and no others.
    /// </summary>
    public IReadOnlyList<string> RecordsReadBy(StepSpec step)
    {
        var positions = new SortedSet<int>();
        foreach (string name in SidecarOf(step).Concat(OwnReads(step)))
        {
            if (name != step.Name && _index.Position.TryGetValue(name, out int position))
            {
                positions.Add(position);
            }
        }
        var names = new string[positions.Count];
        int i = 0;
        foreach (int position in positions)
        {
            names[i++] = Steps[position].Name;
        }
        return names;
    }

    /// <summary>
    /// How many names <see cref="RecordsReadBy"/> gives, found without listing a sidecar's
    /// watched steps again for each sidecar: what the mount limit is checked with before the
    /// rewrite lists anything. Linear in the step's own fields.
    /// </summary>
    public int CountRecordsRead(StepSpec step)
    {
        IReadOnlyList<string> watched = SidecarOf(step);
        var others = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in OwnReads(step))
        {
            if (name != step.Name && _index.Position.ContainsKey(name) && !(watched.Count > 0 && _index.Ending.Contains(name)))
            {
                others.Add(name);
            }
        }
        return watched.Count + others.Count; // a sidecar is never among the steps it watches
    }

    // What a step reads by its own fields: the steps it waits for, its stream's partner (the
    // producer it reads, or the consumer it waits for), the steps whose results it takes, the
    // steps it observes.
    private static IEnumerable<string> OwnReads(StepSpec step)
    {
        foreach (string gate in step.Gates)
        {
            yield return gate;
        }
        if (step.StdinFrom is { } producer)
        {
            yield return producer;
        }
        if (step.StdoutTo is { } consumer)
        {
            yield return consumer;
        }
        foreach (string source in step.ResultSources)
        {
            yield return source;
        }
        foreach (string observed in step.Observes)
        {
            yield return observed;
        }
    }

    /// <summary>
    /// The steps <paramref name="step"/> is told to be a sidecar of: none for a step, nor for a
    /// native sidecar (the kubelet stops it; told to stop by us it would exit 0 and be restarted).
    /// </summary>
    public IReadOnlyList<string> SidecarOf(StepSpec step) =>
        step.Role == StepRole.Sidecar && !NativeSidecars ? EndingSteps : [];

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

    /// <summary>What the graph's questions need, found in one pass over the steps instead of one per question.</summary>
    private sealed class StepIndex
    {
        public static readonly StepIndex Empty = new([]);

        public StepIndex(IReadOnlyList<StepSpec> steps)
        {
            var covered = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < steps.Count; i++)
            {
                StepSpec step = steps[i];
                ByName.TryAdd(step.Name, step);
                Position.TryAdd(step.Name, i);
                if (step.Role != StepRole.Step)
                {
                    continue;
                }
                WaitedFor.UnionWith(step.Gates);
                if (Covers(step))
                {
                    covered.UnionWith(step.Gates);
                }
            }
            var ending = new List<string>();
            foreach (StepSpec step in steps)
            {
                if (step.Role == StepRole.Step && !covered.Contains(step.Name))
                {
                    ending.Add(step.Name);
                }
            }
            EndingSteps = ending;
            Ending = new HashSet<string>(ending, StringComparer.Ordinal);
        }

        public Dictionary<string, StepSpec> ByName { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> Position { get; } = new(StringComparer.Ordinal);

        /// <summary>The steps some step waits for.</summary>
        public HashSet<string> WaitedFor { get; } = new(StringComparer.Ordinal);

        public IReadOnlyList<string> EndingSteps { get; }

        public HashSet<string> Ending { get; }

        // See PodGraph.EndingSteps: whether the step cannot be over before each of its upstreams is.
        private static bool Covers(StepSpec step) =>
            step.Gates.Count > 0
            && (step.Gates.Count == 1 || step.RunOnUpstreamFailure)
            && !step.WaitForStart
            && step.ExtraRunArguments.Count == 0;
    }
}
