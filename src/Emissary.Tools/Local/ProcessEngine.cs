using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Tools.Local;

/// <summary>
/// `emissary local --engine process` (the default): each step is `emissary run --name NAME ...
/// -- COMMAND` as a local process, in its own process group, against a fresh temporary control
/// directory, so gates, markers, results and timeouts behave exactly as in a pod; images are
/// ignored. Stopping is pod deletion: SIGTERM to every step's emissary (which forwards it to its
/// command's group), SIGKILL to everything after the grace; this process is a child subreaper,
/// so nothing a step started is left running. A step whose record says `restarting` when its
/// emissary ends is started again as the kubelet would (<see cref="LocalRestarts"/>); when it also
/// began a new pod incarnation (a <c>RestartAllContainers</c> rule), every step is: the others are
/// stopped as the kubelet stops a pod's containers, then all start again after the back-off.
/// </summary>
internal sealed class ProcessEngine(string emissaryPath, IReadOnlyList<LocalStep> steps, TimeSpan grace, LocalRestarts restarts) : ILocalEngine
{
    private readonly StepView[] _views = steps.Select(s => new StepView(s.Name, s.IsSidecar)).ToArray();
    private readonly PosixProcessLauncher _launcher = new();
    /// <summary>Per step: how many times it was restarted, and when (<see cref="Environment.TickCount64"/>) its next restart is due.</summary>
    private readonly int[] _restartsDone = new int[steps.Count];
    private readonly long?[] _restartAt = new long?[steps.Count];
    /// <summary>A restart of every step under way: the step whose exit asked for it, when all start again, when the ones still stopping are killed.</summary>
    private (int Trigger, long Due, long KillAt)? _podRestart;
    /// <summary>The pod incarnation the steps run under (DIR/.incarnation; null: the first).</summary>
    private string? _incarnation;
    private string? _root;
    private ControlDirectory? _dir;
    private IStepOutput? _output;
    private bool _stopping;
    private bool _finished;

    public IReadOnlyList<StepView> Views => _views;

    public bool Running => _views.Any(v => v.Pid != 0) || _restartAt.Any(t => t is not null) || _podRestart is not null;

    /// <summary>
    /// Restarts due; during a pod restart, the kill of the steps still stopping (their exits wake
    /// the runner anyway), then the restart once all have ended: never a time already past while
    /// something is still to come, which would spin the runner's loop.
    /// </summary>
    public long? WakeAt => _podRestart is { } pod
        ? _views.Any(v => v.Pid != 0) ? (pod.KillAt == long.MaxValue ? null : pod.KillAt) : pod.Due
        : _restartAt.Min();

    public long? KillAt { get; private set; }

    public ControlLayout Prepare(IStepOutput output)
    {
        _root = Directory.CreateTempSubdirectory("emissary-local-").FullName;
        _dir = new ControlDirectory(_root);
        if (Libc.GetPid() != 1)
        {
            // Orphans of the steps (their commands, if an emissary is killed) come back to us.
            Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        // Only the root: each step's emissary makes its own directory in it, as in a shared volume.
        // They all run as this user, so the per-step protection of a pod cannot exist here.
        return ControlLayout.Shared(_root);
    }

    public void Start(IStepOutput output)
    {
        _output = output;
        for (int i = 0; i < steps.Count; i++)
        {
            Launch(i, output);
        }
        output.Note($"control directory: {_root}");
    }

    /// <summary>Starts the restarts that are due (their back-off is over).</summary>
    public void Tick(IStepOutput output)
    {
        if (_podRestart is { } pod)
        {
            RestartPodWhenDue(pod, output);
            return;
        }
        for (int i = 0; i < steps.Count; i++)
        {
            if (_restartAt[i] is { } due && Environment.TickCount64 >= due)
            {
                _restartAt[i] = null;
                _restartsDone[i]++;
                Launch(i, output);
            }
        }
    }

    /// <summary>Step <paramref name="i"/>'s emissary, with its restart flags unless this is the last run allowed.</summary>
    private void Launch(int i, IStepOutput output)
    {
        LocalStep step = steps[i];
        (int stdout, int stderr) = output.OpenStreams(step.Name);
        IReadOnlyList<string> restartFlags = restarts.IsLastRun(_restartsDone[i]) ? [] : step.RestartArguments;
        string[] argv = [emissaryPath, "run", "--control-dir", _root!, "--name", step.Name, .. step.RunArguments, .. restartFlags, "--", .. step.Command];
        var env = step.Environment.GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        try
        {
            _views[i].Pid = _launcher.Start(new ResolvedCommand(emissaryPath, argv[1..]) { Argv = argv }, new LaunchSettings
            {
                OwnProcessGroup = true,
                ExtraEnvironment = env,
                StdoutFd = stdout,
                StderrFd = stderr,
                WorkingDirectory = step.WorkingDirectory,
            });
        }
        finally
        {
            output.ChildStarted(stdout, stderr);
        }
    }

    /// <summary>$SHELL (else /bin/sh) as the step's command runs: the step's env from the pod spec and what its emissary added, over this process's environment, in its working directory.</summary>
    public DebugShell ShellFor(string step, PausedStepContext context)
    {
        LocalStep local = steps.First(s => s.Name == step);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, string value) in local.Environment.Concat(context.Added))
        {
            env[name] = value;
        }
        string shell = DebugShell.UserShell(Environment.GetEnvironmentVariable("SHELL"));
        string? directory = context.Directory is { } d && Directory.Exists(d) ? d : local.WorkingDirectory;
        return new DebugShell(shell, [shell], env, directory);
    }

    public void ChildExited(int pid, ExitStatus status)
    {
        int i = Array.FindIndex(_views, v => v.Pid == pid);
        if (i < 0)
        {
            return;
        }
        StepView done = _views[i];
        done.Pid = 0;
        if (_podRestart is not null)
        {
            // Stopped for the pod's restart: it starts again with every other step.
            return;
        }
        StepStatus? recorded = _dir?.ReadStatus(done.Name);
        if (restarts.Next(recorded?.State, _restartsDone[i], _stopping) is { } backoff)
        {
            // Its record says restarting: its dependants wait for the next run, which comes after the back-off.
            done.Restarts.Add(recorded?.FinishedAt ?? DateTimeOffset.UtcNow);
            if (_dir is not null && Incarnation.Read(_dir) is { } incarnation && incarnation != _incarnation)
            {
                // It began a new pod incarnation before it exited: its rule restarts every container.
                _incarnation = incarnation;
                BeginPodRestart(i, recorded?.ExitCode, backoff);
                return;
            }
            _restartAt[i] = Environment.TickCount64 + (long)backoff.TotalMilliseconds;
            return;
        }
        done.ProcessExitCode = status.ToExitCode();
        if (_restartsDone[i] > 0 && restarts.IsLastRun(_restartsDone[i]) && recorded?.State == StepState.Failed)
        {
            _output?.Note($"{done.Name}: failed after {_restartsDone[i]} restarts (--max-restarts {restarts.MaxRestarts}): left failed; the kubelet would go on restarting it");
        }
    }

    /// <summary>
    /// A <c>RestartAllContainers</c> rule matched step <paramref name="trigger"/>'s exit: as the
    /// kubelet does, every other running step is stopped (SIGTERM, SIGKILL after the grace), and
    /// once all have ended and the back-off is over, every step starts again, finished ones too,
    /// under the new incarnation (in which the records from before read as not yet run).
    /// </summary>
    private void BeginPodRestart(int trigger, int? exitCode, TimeSpan backoff)
    {
        long now = Environment.TickCount64;
        _podRestart = (trigger, now + (long)backoff.TotalMilliseconds, now + (long)grace.TotalMilliseconds);
        Array.Clear(_restartAt);
        string code = exitCode is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        _output?.Note($"{steps[trigger].Name}: exit {code} restarts every step (RestartAllContainers): stopping the others, then starting all again");
        foreach (StepView view in _views.Where(v => v.Pid != 0))
        {
            Libc.Kill(view.Pid, Signals.TERM);
        }
    }

    private void RestartPodWhenDue((int Trigger, long Due, long KillAt) pod, IStepOutput output)
    {
        long now = Environment.TickCount64;
        if (now >= pod.KillAt)
        {
            foreach (StepView view in _views.Where(v => v.Pid != 0))
            {
                KillStep(view);
            }
            _podRestart = pod = pod with { KillAt = long.MaxValue };
        }
        if (now < pod.Due || _views.Any(v => v.Pid != 0))
        {
            return;
        }
        _podRestart = null;
        _restartsDone[pod.Trigger]++;
        for (int i = 0; i < steps.Count; i++)
        {
            if (i != pod.Trigger)
            {
                // Every run of the pod before this one ended, one way or another: a restart mark at its end.
                _views[i].Restarts.Add(_dir?.ReadStatus(_views[i].Name)?.FinishedAt ?? DateTimeOffset.UtcNow);
            }
            _views[i].ProcessExitCode = null;
            Launch(i, output);
        }
    }

    public void Stop(int signal, IStepOutput output)
    {
        output.Note($"{Signals.Name(signal)}: stopping every step (SIGTERM, SIGKILL after {Duration.Format(grace)})");
        KillAt = Environment.TickCount64 + (long)grace.TotalMilliseconds;
        // A deleted pod's containers are not restarted: the steps waiting for a restart stay as their record says.
        _stopping = true;
        Array.Clear(_restartAt);
        _podRestart = null;
        // Each step's emissary forwards SIGTERM to its command's process group.
        foreach (StepView view in _views.Where(v => v.Pid != 0))
        {
            Libc.Kill(view.Pid, Signals.TERM);
        }
    }

    /// <summary>After the grace period: the steps' emissaries and their commands' groups.</summary>
    public void Kill()
    {
        KillAt = null;
        foreach (StepView view in _views.Where(v => v.Pid != 0))
        {
            KillStep(view);
        }
    }

    /// <summary>The step's emissary and its command's group.</summary>
    private void KillStep(StepView view)
    {
        if (_dir?.ReadStatus(view.Name) is { State: StepState.Running, Pid: { } child })
        {
            Libc.Kill(-child, Signals.KILL);
        }
        Libc.Kill(-view.Pid, Signals.KILL);
        Libc.Kill(view.Pid, Signals.KILL);
    }

    public void Finish(IStepOutput output, bool keep)
    {
        _finished = true;
        if (KillLeftovers() is > 0 and var killed)
        {
            output.Note($"killed {killed} process{(killed == 1 ? "" : "es")} that the steps left running (in a pod, they end with their container)");
        }
        if (_root is null)
        {
            return;
        }
        if (keep)
        {
            output.Note($"kept control directory {_root}");
        }
        else
        {
            TryDelete(_root);
        }
    }

    private static void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>If the run ended in an exception: nothing is left running, nothing is left on disk.</summary>
    public void Dispose()
    {
        if (_finished)
        {
            return;
        }
        Kill();
        KillLeftovers();
        if (_root is not null)
        {
            TryDelete(_root);
        }
    }

    /// <summary>
    /// The pod is over. When a container's main process ends, everything else in it ends too (its
    /// PID namespace goes); locally, what the steps left running (background jobs, daemons, a
    /// child started just as SIGTERM went to its group) would live on. Orphans come back to this
    /// process (a child subreaper), so they are its remaining children: SIGKILL them, reap them,
    /// and again for their own children, which come back in turn. Returns how many were killed.
    /// </summary>
    private static unsafe int KillLeftovers()
    {
        int self = Libc.GetPid();
        // By pid: one SIGKILLed but not yet a zombie when /proc is read again is killed again, not counted again.
        var killed = new HashSet<int>();
        long deadline = Environment.TickCount64 + 2000;
        while (true)
        {
            int status;
            while (Libc.WaitPid(-1, &status, Libc.WNOHANG) > 0)
            {
            }
            int[] alive = ChildrenOf(self);
            if (alive.Length == 0 || Environment.TickCount64 > deadline)
            {
                return killed.Count;
            }
            foreach (int pid in alive)
            {
                if (Libc.Kill(pid, Signals.KILL) == 0)
                {
                    killed.Add(pid);
                }
            }
            Thread.Sleep(5);
        }
    }

    /// <summary>The live (not zombie) children of <paramref name="parent"/>, from /proc/PID/stat.</summary>
    private static int[] ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone meanwhile
            }
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && fields[0] != "Z" && int.TryParse(fields[1], out int ppid) && ppid == parent)
            {
                children.Add(pid);
            }
        }
        return children.ToArray();
    }
}
