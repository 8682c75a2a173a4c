namespace Emissary.Sidecars;

/// <summary>When a running command must be stopped although it has not failed (a sidecar whose steps are over).</summary>
internal interface IStopCondition
{
    /// <summary>Called when the command has started and whenever a watcher wakes the loop.</summary>
    bool ShouldStop();

    /// <summary>For the log: why the command is stopped.</summary>
    string Reason { get; }

    /// <summary>How often to re-check when no watcher can wake the loop (inotify unavailable), else null.</summary>
    TimeSpan? RecheckEvery { get; }
}
