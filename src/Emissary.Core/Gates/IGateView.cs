using Emissary.Control;

namespace Emissary.Gates;

/// <summary>
/// Everything the <see cref="GateEvaluator"/> may look at, and nothing it may do: the records of
/// other steps and the files gates name. The waiter gives it <see cref="DiskGateView"/>; unit
/// tests give it a scripted one.
/// </summary>
internal interface IGateView
{
    /// <summary>Step NAME's recorded exit code, or null while it has none.</summary>
    int? ExitCode(string step);

    /// <summary>Step NAME's status record, or null before it registered.</summary>
    StepStatus? Status(string step);

    /// <summary>Whether step NAME's emissary holds its lock (is alive).</summary>
    bool IsRunning(string step);

    /// <summary>The current pod incarnation (<see cref="Control.Incarnation"/>), or null when the pod never restarted in place.</summary>
    string? Incarnation() => null;

    /// <summary>Whether `emissary start NAME` (<paramref name="start"/>) or `skip NAME` was asked for.</summary>
    bool HasRequest(string step, bool start);

    /// <summary>The length of the regular file at PATH (links followed), or null when there is none.</summary>
    long? FileLength(string path);

    /// <summary>Whether PATH is a directory (links followed).</summary>
    bool IsDirectory(string path);

    /// <summary>The directories where a change can change what this view shows for <paramref name="gate"/> (the waiter watches them).</summary>
    IEnumerable<string> DirectoriesToWatch(Gate gate);
}

/// <summary>The view the waiter gives: the control directory (which reads untrusted records safely) and the file system.</summary>
internal sealed class DiskGateView(ControlDirectory? controlDirectory) : IGateView
{
    private ControlDirectory Control => controlDirectory ?? throw new InvalidOperationException("this gate needs the control directory");

    public int? ExitCode(string step) => Control.ReadExitCode(step);

    public StepStatus? Status(string step) => Control.ReadStatus(step);

    public bool IsRunning(string step) => Control.IsLockHeld(step);

    public string? Incarnation() => controlDirectory is null ? null : Emissary.Control.Incarnation.Read(controlDirectory);

    public bool HasRequest(string step, bool start) => Control.HasRequest(step, start);

    public long? FileLength(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : null;
    }

    public bool IsDirectory(string path) => Directory.Exists(path);

    /// <summary>The directories where a change can change <paramref name="gate"/>'s state (for inotify).</summary>
    public IEnumerable<string> DirectoriesToWatch(Gate gate) => gate switch
    {
        Gate.AfterStep after => [Control.Root, Control.StepDirectory(after.Step)],
        Gate.FileExists file => [Path.GetDirectoryName(Path.GetFullPath(file.Path)) ?? "/"],
        Gate.ManualStart => [Control.Root],
        Gate.StreamFrom stream => [Control.Root, Control.StepDirectory(stream.Step)],
        _ => [],
    };
}
