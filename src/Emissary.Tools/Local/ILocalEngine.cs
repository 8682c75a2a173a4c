using Emissary.Events;
using Emissary.Supervision;

namespace Emissary.Tools.Local;

/// <summary>
/// What runs the steps of `emissary local`: local processes (<see cref="ProcessEngine"/>) or a
/// podman pod (<see cref="PodmanEngine"/>). Either way the steps are `emissary run` processes
/// writing a control directory; <see cref="LocalRunner"/> watches it and does all the reporting.
/// Everything here is called from the runner's single thread.
/// </summary>
internal interface ILocalEngine : IDisposable
{
    /// <summary>The steps, in the pod's order: what the runner shows and reports.</summary>
    IReadOnlyList<StepView> Views { get; }

    /// <summary>Gets everything ready; returns where the steps' records are (the control directory, which exists on return, and the step directories outside it).</summary>
    ControlLayout Prepare(IStepOutput output);

    /// <summary>Starts the steps (the runner is watching the control directory by then).</summary>
    void Start(IStepOutput output);

    /// <summary>Whether something the engine waits for is still running.</summary>
    bool Running { get; }

    /// <summary>A child process of this process has been reaped (the runner reaps every child).</summary>
    void ChildExited(int pid, ExitStatus status);

    /// <summary>Ctrl-C (SIGINT, SIGTERM or SIGHUP): stop every step the way a pod deletion would.</summary>
    void Stop(int signal, IStepOutput output);

    /// <summary>When (<see cref="Environment.TickCount64"/>) <see cref="Kill"/> is due after <see cref="Stop"/>, or null.</summary>
    long? KillAt { get; }

    /// <summary>When (<see cref="Environment.TickCount64"/>) <see cref="Tick"/> has something to do (a step's restart after its back-off), or null.</summary>
    long? WakeAt => null;

    /// <summary>Called on every turn of the runner's loop: starts what is due (<see cref="WakeAt"/>).</summary>
    void Tick(IStepOutput output)
    {
    }

    /// <summary>The grace is over (or a second Ctrl-C came): end everything now.</summary>
    void Kill();

    /// <summary>`local --debug`: the shell to open in paused step <paramref name="step"/>'s context (its directory, its environment with <paramref name="context"/>'s additions).</summary>
    DebugShell ShellFor(string step, PausedStepContext context);

    /// <summary>After the last look at the control directory: hand over any output not shown yet, then clean up (unless <paramref name="keep"/>).</summary>
    void Finish(IStepOutput output, bool keep);
}
