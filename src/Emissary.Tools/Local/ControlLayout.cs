using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>
/// Where `emissary local` reads the steps' records. Local processes share one control directory,
/// each step's record in ROOT/NAME. A podman pod has the per-step layout of rewritten pods: each
/// step's record is a volume of its own, whose directory on this machine is not inside the control
/// directory's volume; <see cref="StepDirectories"/> names it.
/// </summary>
internal sealed record ControlLayout(string Root, IReadOnlyDictionary<string, string> StepDirectories)
{
    /// <summary>Every record in ROOT/NAME.</summary>
    public static ControlLayout Shared(string root) => new(root, new Dictionary<string, string>());

    /// <summary>The directory of <paramref name="step"/>'s record on this machine.</summary>
    public string StepDirectory(string step) => StepDirectories.TryGetValue(step, out string? directory) ? directory : Path.Combine(Root, step);

    /// <summary>
    /// The record of <paramref name="step"/> as a <see cref="ControlDirectory"/> and its entry in it,
    /// so that it is read with the same care as in a pod (no link followed, bounded reads). The
    /// entry is the step's name in the shared layout, and <c>_data</c> for a podman volume: not a
    /// step name, so whatever reports on it names the step itself.
    /// </summary>
    public (ControlDirectory Directory, string Entry) Record(string step)
    {
        string directory = StepDirectory(step);
        return (new ControlDirectory(Path.GetDirectoryName(directory) ?? "/"), Path.GetFileName(directory));
    }
}
