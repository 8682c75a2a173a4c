using System.Globalization;
using System.Text;
using Emissary.Cli;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Commands;
using Emissary.Supervision;

namespace Emissary.Tools.Local;

/// <summary>
/// `emissary local --engine podman`: the pod rewritten in process (`rewrite --as-pod`), played by
/// `podman kube play --network none` in real containers. Every image must already be in podman's
/// local storage (checked first: nothing is pulled). The pod has the per-step layout of rewritten
/// pods; the steps are followed through the status files in their own volumes, read on this
/// machine as for local processes; `podman wait` on
/// every step's container tells when they are all over, and their exit codes. The containers'
/// logs are printed (or written to --output-dir) at the end. Ctrl-C: `podman pod stop -t GRACE`
/// (SIGTERM to every container, SIGKILL after the grace). Whatever happens, the pod and its
/// volumes are removed at the end (unless --keep).
/// </summary>
internal sealed class PodmanEngine(PodmanPlan plan, string podmanPath, TimeSpan grace) : ILocalEngine
{
    /// <summary>After the grace, how long `podman pod stop` may take before the pod is killed outright.</summary>
    private static readonly TimeSpan StopSlack = TimeSpan.FromSeconds(5);

    private readonly StepView[] _views = plan.Steps.Select(s => new StepView(s.Step, s.IsSidecar)).ToArray();
    private string? _scratch;
    private PodmanCli? _podman;
    private bool _played;
    private bool _cleaned;
    private PodmanCli.Started? _wait;
    private PodmanCli.Started? _stop;
    private PodmanCli.Started? _kill;

    public IReadOnlyList<StepView> Views => _views;

    public bool Running => _wait is not null;

    public long? KillAt { get; private set; }

    public ControlLayout Prepare(IStepOutput output)
    {
        _scratch = Directory.CreateTempSubdirectory("emissary-podman-").FullName;
        _podman = new PodmanCli(podmanPath, _scratch);
        foreach ((string image, string container) in plan.Images)
        {
            PodmanCli.Result exists = _podman.Run("image", "exists", image);
            if (exists.ExitCode == 1)
            {
                string hint = image == plan.EmissaryImage
                    ? $" (scripts/build.sh, then: buildah bud -f Dockerfile.scratch -t {image} .)"
                    : "";
                throw new UsageException($"image {image} (container {container}) is not in podman's local storage, and --engine podman does not pull: pull or build it first{hint}");
            }
            if (exists.ExitCode != 0)
            {
                throw new UsageException($"podman image exists {image}: {exists.Problem}");
            }
        }
        if (_podman.Run("pod", "exists", plan.PodName).ExitCode == 0)
        {
            throw new UsageException($"podman already has a pod named {plan.PodName}: remove it (podman pod rm -f {plan.PodName}) or rename the pod");
        }

        // The control volumes are made here, before kube play (which uses volumes that exist), to
        // make them what the kubelet makes an emptyDir: root's, mode 0777, so that a step running as
        // any uid can write its own record and make requests. Podman would make them 0755 and give
        // each to the uid of the first container that mounts it (uid=0,gid=0 stops that): a step's
        // own volume could then belong to another step's uid, and the step would refuse it.
        _played = true; // from here on volumes (and then the pod) may exist, even if something fails half-way
        string root = CreateSharedVolume(plan.ControlVolume);
        var stepDirectories = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string step, string volume) in plan.StepVolumes)
        {
            stepDirectories[step] = CreateSharedVolume(volume);
        }

        // kube play looks for a directory named like each image to build it from: run it from an empty one.
        string manifest = Path.Combine(_scratch, "pod.yaml");
        string playDirectory = Path.Combine(_scratch, "play");
        File.WriteAllText(manifest, plan.Yaml);
        Directory.CreateDirectory(playDirectory);
        PodmanCli.Result play = _podman.Run(["kube", "play", "--network", "none", manifest], playDirectory);
        if (play.ExitCode != 0)
        {
            throw new UsageException($"podman kube play failed: {play.Problem}");
        }
        output.Note($"pod {plan.PodName} (podman), control directory: {root}");
        return new ControlLayout(root, stepDirectories);
    }

    /// <summary>Creates a volume of this run, root's and mode 0777 like a kubelet's emptyDir; returns its directory on this machine.</summary>
    private string CreateSharedVolume(string volume)
    {
        PodmanCli.Result created = _podman!.Run("volume", "create", "--opt", "o=uid=0,gid=0", volume);
        if (created.ExitCode != 0)
        {
            throw new UsageException($"podman volume create {volume}: {created.Problem}");
        }
        PodmanCli.Result inspect = _podman.Run("volume", "inspect", volume, "--format", "{{.Mountpoint}}");
        if (inspect.ExitCode != 0 || inspect.Text.Length == 0 || !Directory.Exists(inspect.Text))
        {
            throw new UsageException($"cannot find the directory of volume {volume}: {inspect.Problem}");
        }
        try
        {
            File.SetUnixFileMode(inspect.Text, (UnixFileMode)0x1FF);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot make volume {volume} writable for every uid ({inspect.Text}): {ErrorText.Reason(e)}");
        }
        return inspect.Text;
    }

    public void Start(IStepOutput output) =>
        _wait = _podman!.Start(["wait", .. plan.Steps.Select(s => s.Container)]);

    /// <summary>
    /// `podman exec -it` into the step's container: its image's sh (the container has its own
    /// shell, not this machine's $SHELL), in the step's working directory, with the variables the
    /// step's emissary added (the container has the rest).
    /// </summary>
    public DebugShell ShellFor(string step, PausedStepContext context)
    {
        string container = plan.Steps.First(s => s.Step == step).Container;
        var argv = new List<string> { podmanPath, "exec", "-it" };
        if (context.Directory is { } directory)
        {
            argv.AddRange(["--workdir", directory]);
        }
        foreach ((string name, string value) in context.Added)
        {
            argv.AddRange(["--env", name + "=" + value]);
        }
        argv.AddRange([container, "sh"]);
        return new DebugShell(podmanPath, argv, new Dictionary<string, string>(), null);
    }

    public void ChildExited(int pid, ExitStatus status)
    {
        if (_wait?.Pid == pid)
        {
            PodmanCli.Result result = _wait.Collect(status.ToExitCode());
            _wait = null;
            // One exit code per container, in the order given.
            string[] lines = Encoding.UTF8.GetString(result.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            for (int i = 0; i < lines.Length && i < _views.Length; i++)
            {
                if (int.TryParse(lines[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int code) && code >= 0)
                {
                    _views[i].ProcessExitCode = code;
                }
            }
        }
        else if (_stop?.Pid == pid)
        {
            _stop = null;
        }
        else if (_kill?.Pid == pid)
        {
            _kill = null;
        }
    }

    public void Stop(int signal, IStepOutput output)
    {
        int seconds = (int)Math.Ceiling(grace.TotalSeconds);
        output.Note($"{Signals.Name(signal)}: stopping the pod (podman pod stop -t {seconds}: SIGTERM to every container, SIGKILL after {Duration.Format(grace)})");
        _stop = _podman!.Start(["pod", "stop", "-t", seconds.ToString(CultureInfo.InvariantCulture), plan.PodName]);
        KillAt = Environment.TickCount64 + (long)(grace + StopSlack).TotalMilliseconds;
    }

    public void Kill()
    {
        KillAt = null;
        if (_kill is null && _wait is not null)
        {
            _kill = _podman!.Start(["pod", "kill", "--signal", "KILL", plan.PodName]);
        }
    }

    public void Finish(IStepOutput output, bool keep)
    {
        foreach (PodmanCli.Started? child in new[] { _stop, _kill })
        {
            if (child is not null)
            {
                PodmanCli.Abandon(child.Pid);
            }
        }
        _stop = _kill = null;
        foreach ((string step, string container, _) in plan.Steps)
        {
            PodmanCli.Result logs = _podman!.Run("logs", container);
            output.Write(step, logs.Stdout, toStderr: false);
            output.Write(step, logs.Stderr, toStderr: true);
        }
        if (keep)
        {
            _cleaned = true;
            string volumes = string.Join(" ", Volumes);
            output.Note($"kept pod {plan.PodName} and volumes {volumes} (podman pod rm -f {plan.PodName}; podman volume rm {volumes})");
        }
        CleanUp();
    }

    /// <summary>The pod, its volumes (podman removes them with the pod; they are named for this run), the scratch directory.</summary>
    private void CleanUp()
    {
        foreach (PodmanCli.Started? child in new[] { _wait, _stop, _kill })
        {
            if (child is not null)
            {
                PodmanCli.Abandon(child.Pid);
            }
        }
        _wait = _stop = _kill = null;
        if (!_cleaned && _played && _podman is not null)
        {
            _podman.Run("pod", "rm", "-f", "-t", "0", plan.PodName);
            foreach (string volume in Volumes)
            {
                if (_podman.Run("volume", "exists", volume).ExitCode == 0)
                {
                    _podman.Run("volume", "rm", "-f", volume);
                }
            }
        }
        _cleaned = true;
        if (_scratch is not null)
        {
            try
            {
                Directory.Delete(_scratch, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            _scratch = null;
        }
    }

    private IEnumerable<string> Volumes => [plan.BinVolume, plan.ControlVolume, .. plan.StepVolumes.Select(v => v.Volume)];

    /// <summary>If the run ended early (a failed kube play, an exception): the pod and volumes still go.</summary>
    public void Dispose() => CleanUp();
}
