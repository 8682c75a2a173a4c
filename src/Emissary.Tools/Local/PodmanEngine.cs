using System.Globalization;
using System.Text;
using Emissary.Cli;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Supervision;

namespace Emissary.Tools.Local;

/// <summary>
/// `emissary local --engine podman`: the pod rewritten in process (`rewrite --as-pod`), played by
/// `podman kube play --network none` in real containers. Every image must already be in podman's
/// local storage (checked first: nothing is pulled). The steps are followed through the status
/// files in the control directory's volume, exactly as for local processes; `podman wait` on
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

    public string Prepare(IStepOutput output)
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

        // kube play looks for a directory named like each image to build it from: run it from an empty one.
        string manifest = Path.Combine(_scratch, "pod.yaml");
        string playDirectory = Path.Combine(_scratch, "play");
        File.WriteAllText(manifest, plan.Yaml);
        Directory.CreateDirectory(playDirectory);
        _played = true; // from here on the pod may exist, even if kube play fails half-way
        PodmanCli.Result play = _podman.Run(["kube", "play", "--network", "none", manifest], playDirectory);
        if (play.ExitCode != 0)
        {
            throw new UsageException($"podman kube play failed: {play.Problem}");
        }
        PodmanCli.Result volume = _podman.Run("volume", "inspect", plan.ControlVolume, "--format", "{{.Mountpoint}}");
        if (volume.ExitCode != 0 || volume.Text.Length == 0 || !Directory.Exists(volume.Text))
        {
            throw new UsageException($"cannot find the control directory volume {plan.ControlVolume}: {volume.Problem}");
        }
        output.Note($"pod {plan.PodName} (podman), control directory: {volume.Text}");
        return volume.Text;
    }

    public void Start(IStepOutput output) =>
        _wait = _podman!.Start(["wait", .. plan.Steps.Select(s => s.Container)]);

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
            output.Note($"kept pod {plan.PodName} and volumes {plan.BinVolume}, {plan.ControlVolume} (podman pod rm -f {plan.PodName}; podman volume rm {plan.BinVolume} {plan.ControlVolume})");
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
            foreach (string volume in new[] { plan.BinVolume, plan.ControlVolume })
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

    /// <summary>If the run ended early (a failed kube play, an exception): the pod and volumes still go.</summary>
    public void Dispose() => CleanUp();
}
