namespace Emissary.Tools.Local;

/// <summary>The pod `emissary local --engine podman` plays: the rewritten manifest and what to check and follow.</summary>
internal sealed record PodmanPlan
{
    public required string PodName { get; init; }

    /// <summary>The Pod as `emissary rewrite --as-pod` writes it, with this run's volume names.</summary>
    public required string Yaml { get; init; }

    /// <summary>Every image the pod uses, once, with the first container that uses it.</summary>
    public required IReadOnlyList<(string Image, string Container)> Images { get; init; }

    /// <summary>The image of the emissary-init container (named in the hint when it is missing).</summary>
    public required string EmissaryImage { get; init; }

    public required string BinVolume { get; init; }

    public required string ControlVolume { get; init; }

    /// <summary>Each step's own volume (its record, mounted read-only in the other containers), in the pod's order.</summary>
    public required IReadOnlyList<(string Step, string Volume)> StepVolumes { get; init; }

    /// <summary>The steps (and sidecars), in the pod's order, with the container podman names after each: POD-NAME.</summary>
    public required IReadOnlyList<(string Step, string Container, bool IsSidecar)> Steps { get; init; }

    /// <summary>What was changed for podman beyond the rewrite (logged as warnings).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}
