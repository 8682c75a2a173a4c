using Emissary.Gates;
using Emissary.Foundation.Sequences;

namespace Emissary.Sidecars;

/// <summary>
/// <c>--sidecar-of STEP,...</c>: the sidecar runs until every named step is over — succeeded,
/// failed, skipped, or its emissary gone — then it is stopped, and that counts as success
/// (kubernetes #25908: a Job whose pod has a sidecar never completes).
/// </summary>
internal sealed class SidecarStop(IReadOnlyList<string> steps, GateWaiter watcher) : IStopCondition
{
    public bool ShouldStop() => watcher.AllOver(steps);

    public string Reason => steps.Count == 1 ? $"step '{steps[0]}' is over" : $"steps {string.Join(", ", steps.Select(s => $"'{s}'"))} are over";

    public TimeSpan? RecheckEvery => watcher.Polling ? TimeSpan.FromMilliseconds(100) : null;
}
