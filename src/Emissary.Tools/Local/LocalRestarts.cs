using Emissary.Control;

namespace Emissary.Tools.Local;

/// <summary>
/// `emissary local` playing the kubelet's part for restarts: a step whose emissary ended with its record saying
/// <c>restarting</c> (its <c>restartPolicy</c> or <c>restartPolicyRules</c> restart it) is started again after a
/// back-off. Unlike the kubelet (10 s doubling to 5 min, for ever), local must end and be quick to watch: 100 ms
/// doubling to 2 s, and at most <see cref="MaxRestarts"/> restarts; the last run allowed goes without the restart
/// flags, so its failure is final and releases its dependants as failed.
/// </summary>
internal sealed class LocalRestarts(int maxRestarts)
{
    public const int DefaultMaxRestarts = 5;

    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    public int MaxRestarts { get; } = maxRestarts;

    /// <summary>
    /// How long to wait before starting the step again after its run number <paramref name="restartsDone"/> + 1
    /// ended with <paramref name="recorded"/>; null when it is not restarted (a final state, no record, the pod
    /// is being stopped, or the cap is reached).
    /// </summary>
    public TimeSpan? Next(StepState? recorded, int restartsDone, bool stopping) =>
        recorded == StepState.Restarting && !stopping && restartsDone < MaxRestarts ? Backoff(restartsDone) : null;

    /// <summary>100 ms before the first restart, doubling, at most 2 s.</summary>
    public static TimeSpan Backoff(int restartsDone) =>
        restartsDone >= 5 ? MaxBackoff : TimeSpan.FromTicks(Math.Min(FirstBackoff.Ticks << restartsDone, MaxBackoff.Ticks));

    /// <summary>Whether run number <paramref name="restartsDone"/> + 1 is the last one allowed: it runs without the restart flags.</summary>
    public bool IsLastRun(int restartsDone) => restartsDone >= MaxRestarts;
}
