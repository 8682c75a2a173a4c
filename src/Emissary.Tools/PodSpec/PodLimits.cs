namespace Emissary.Tools.PodSpec;

/// <summary>
/// What one pod may cost <c>emissary rewrite</c> and the admission webhook: checked before the
/// work that grows with them, so a pod over a limit is one error line, not seconds of CPU and
/// megabytes of output the API server would refuse anyway. The API server stores a pod in etcd,
/// whose default request limit is 1.5 MiB; docs/commands.md (rewrite, "Limits") says how the numbers follow from it.
/// </summary>
internal sealed record PodLimits
{
    public static readonly PodLimits Default = new();

    /// <summary>Containers and init containers of one pod.</summary>
    public int MaxContainers { get; init; } = 1000;

    /// <summary>
    /// Step-record mounts of the whole pod: each wrapped container's own record plus the records it
    /// reads (its upstreams, its stream's partner, the steps whose results it takes, the steps it
    /// observes, and for a
    /// sidecar the steps it watches). About 90 bytes of pod spec each.
    /// </summary>
    public int MaxRecordMounts { get; init; } = 5000;
}
