using System.Globalization;
using System.Text;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Tools.PodSpec;
using Emissary.Supervision;
using Emissary.Supervision.Posix;
using YamlDotNet.RepresentationModel;

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

    /// <summary>The steps (and sidecars), in the pod's order, with the container podman names after each: POD-NAME.</summary>
    public required IReadOnlyList<(string Step, string Container, bool IsSidecar)> Steps { get; init; }

    /// <summary>What was changed for podman beyond the rewrite (logged as warnings).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>Turns the pod of a manifest into the <see cref="PodmanPlan"/>: `rewrite --as-pod`, in process, plus what podman needs.</summary>
internal static class PodmanPod
{
    /// <summary>--image's default: the image Dockerfile.scratch builds, tagged for local use.</summary>
    public const string DefaultImage = "localhost/emissary:dev";

    /// <summary>The pod's name when its manifest has none.</summary>
    public const string DefaultPodName = "emissary-local";

    /// <summary>
    /// Rewrites <paramref name="pod"/> (one of <paramref name="set"/>'s objects, already read into
    /// <paramref name="graph"/> without errors) in place, as <c>emissary rewrite --as-pod</c> would,
    /// then, for podman: restartPolicy Never (each step runs once), volume names unique to this
    /// run (podman names a pod's emptyDir volumes after them, so two pods would share them), and no
    /// wait for, or quit of, a mesh proxy that a podman pod does not have. Null, with the problems
    /// in <paramref name="errors"/> (the same as rewrite's), when the pod cannot be rewritten.
    /// </summary>
    public static PodmanPlan? Prepare(ManifestSet set, ManifestObject pod, PodGraph graph, RewriteSettings settings, string runId, ICollection<ManifestError> errors)
    {
        if (graph.NativeSidecars && graph.Steps.Any(s => s.Role == StepRole.Sidecar))
        {
            // kube play runs init containers one after the other, each to its end: a native
            // sidecar (an init container with restartPolicy: Always) would hold the pod for ever.
            throw new UsageException($"{pod.DisplayName}: --engine podman cannot run native sidecars (podman kube play runs init containers to their end): set the annotation emissary.dev/native-sidecars: \"false\", or use --engine process");
        }
        ManifestRewriter.Rewrite(set, settings with { AsPod = true }, errors, new List<ManifestError>());
        if (errors.Count > 0)
        {
            return null;
        }

        var notes = new List<string>();
        YamlMappingNode node = pod.Node; // now a Pod: ReplaceWithPod edits the object's node in place
        if (node.Get("metadata") is not YamlMappingNode metadata)
        {
            metadata = new YamlMappingNode();
            node.Set("metadata", metadata);
        }
        string podName = metadata.GetText("name") ?? DefaultPodName;
        metadata.Set("name", YamlNodes.String(podName));
        var spec = (YamlMappingNode)node.Get("spec")!;
        if (spec.GetText("restartPolicy") is { } policy && policy != "Never")
        {
            notes.Add($"restartPolicy {policy} -> Never: emissary local runs each step once");
        }
        spec.Set("restartPolicy", YamlNodes.String("Never"));

        string binVolume = EmissaryRun.BinVolume + "-" + runId;
        string controlVolume = EmissaryRun.ControlVolume + "-" + runId;
        string Renamed(string name) => name == EmissaryRun.BinVolume ? binVolume : name == EmissaryRun.ControlVolume ? controlVolume : name;
        foreach (YamlMappingNode volume in Sequence(spec, "volumes"))
        {
            if (volume.GetText("name") is { } name && Renamed(name) != name)
            {
                volume.Set("name", YamlNodes.String(Renamed(name)));
            }
        }

        YamlMappingNode[] containers = [.. Sequence(spec, "initContainers"), .. Sequence(spec, "containers")];
        var images = new List<(string Image, string Container)>();
        bool strippedProxy = false;
        foreach (YamlMappingNode container in containers)
        {
            string containerName = container.GetText("name") ?? "";
            foreach (YamlMappingNode mount in Sequence(container, "volumeMounts"))
            {
                if (mount.GetText("name") is { } name && Renamed(name) != name)
                {
                    mount.Set("name", YamlNodes.String(Renamed(name)));
                }
            }
            if (container.Get("command") is YamlSequenceNode command)
            {
                strippedProxy |= StripProxyFlags(command);
            }
            if (container.GetText("image") is { } image && !images.Any(i => i.Image == image))
            {
                images.Add((image, containerName));
            }
        }
        if (strippedProxy)
        {
            notes.Add($"no {EmissaryRun.ProxyPreset(graph.Proxy) ?? "mesh"} proxy runs in a podman pod: the steps do not wait for it or tell it to quit");
        }

        return new PodmanPlan
        {
            PodName = podName,
            Yaml = YamlManifests.Write([node]),
            Images = images,
            EmissaryImage = settings.Image,
            BinVolume = binVolume,
            ControlVolume = controlVolume,
            Steps = graph.Steps.Select(s => (s.Name, podName + "-" + s.Name, s.Role == StepRole.Sidecar)).ToArray(),
            Notes = notes,
        };
    }

    private static IEnumerable<YamlMappingNode> Sequence(YamlMappingNode mapping, string key) =>
        mapping.Get(key) is YamlSequenceNode sequence ? sequence.Children.OfType<YamlMappingNode>() : [];

    /// <summary>Removes --wait-proxy P and --quit P (and their --flag=P forms) from an `emissary run` command, before its "--".</summary>
    private static bool StripProxyFlags(YamlSequenceNode command)
    {
        IList<YamlNode> parts = command.Children;
        if (parts.Count < 2 || (parts[0] as YamlScalarNode)?.Value != EmissaryRun.Binary || (parts[1] as YamlScalarNode)?.Value != "run")
        {
            return false;
        }
        bool stripped = false;
        for (int i = 2; i < parts.Count && (parts[i] as YamlScalarNode)?.Value is { } arg && arg != "--";)
        {
            if (arg is "--wait-proxy" or "--quit" && i + 1 < parts.Count)
            {
                parts.RemoveAt(i);
                parts.RemoveAt(i);
                stripped = true;
            }
            else if (arg.StartsWith("--wait-proxy=", StringComparison.Ordinal) || arg.StartsWith("--quit=", StringComparison.Ordinal))
            {
                parts.RemoveAt(i);
                stripped = true;
            }
            else
            {
                i++;
            }
        }
        return stripped;
    }
}

/// <summary>
/// Runs podman as a child of this process. Not System.Diagnostics.Process: in emissary-tools the
/// shim blocks SIGCHLD in every thread (it is read from the runner's signalfd) and the runner
/// reaps every child with waitpid(-1), so Process would neither be told of its children's exit
/// nor find their status. PosixProcessLauncher starts podman with the caller's signal mask and
/// dispositions, in its own process group (a Ctrl-C on the terminal reaches emissary local,
/// which decides what podman does), and with stdout and stderr in files: no pipe to drain, no
/// deadlock, whatever podman prints.
/// </summary>
internal sealed unsafe class PodmanCli(string podmanPath, string scratchDirectory)
{
    private readonly PosixProcessLauncher _launcher = new();
    private int _count;

    /// <summary>A finished podman command: its exit code (128+S when killed) and what it wrote.</summary>
    internal sealed record Result(int ExitCode, byte[] Stdout, byte[] Stderr)
    {
        public string Text => Encoding.UTF8.GetString(Stdout).Trim();

        /// <summary>podman's last non-empty stderr line, without its "Error: " (what it failed on).</summary>
        public string Problem
        {
            get
            {
                string line = Encoding.UTF8.GetString(Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {ExitCode}";
                return line.StartsWith("Error: ", StringComparison.Ordinal) ? line["Error: ".Length..] : line;
            }
        }
    }

    /// <summary>A podman command started in the background; its exit comes back through the runner's reaping.</summary>
    internal sealed record Started(int Pid, string StdoutPath, string StderrPath)
    {
        public Result Collect(int exitCode) => new(exitCode, ReadAll(StdoutPath), ReadAll(StderrPath));
    }

    public Started Start(IReadOnlyList<string> args, string? workingDirectory = null)
    {
        int n = ++_count;
        string stdoutPath = Path.Combine(scratchDirectory, $"podman-{n}.stdout");
        string stderrPath = Path.Combine(scratchDirectory, $"podman-{n}.stderr");
        int stdout = Libc.Open(stdoutPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x180);
        int stderr = Libc.Open(stderrPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x180);
        try
        {
            if (stdout < 0 || stderr < 0)
            {
                throw new UsageException($"cannot write {scratchDirectory}: {Libc.Describe(Libc.LastErrno)}");
            }
            string[] argv = ["podman", .. args];
            int pid = _launcher.Start(new ResolvedCommand(podmanPath, args) { Argv = argv }, new LaunchSettings
            {
                OwnProcessGroup = true,
                StdoutFd = stdout,
                StderrFd = stderr,
                WorkingDirectory = workingDirectory,
            });
            return new Started(pid, stdoutPath, stderrPath);
        }
        finally
        {
            if (stdout >= 0) Libc.Close(stdout);
            if (stderr >= 0) Libc.Close(stderr);
        }
    }

    /// <summary>Runs a podman command to its end (only while the runner is not reaping: before its loop and after).</summary>
    public Result Run(IReadOnlyList<string> args, string? workingDirectory = null)
    {
        Started started = Start(args, workingDirectory);
        return started.Collect(WaitFor(started.Pid));
    }

    public Result Run(params string[] args) => Run((IReadOnlyList<string>)args);

    /// <summary>Ends a background command (SIGTERM to its group) and reaps it.</summary>
    public static void Abandon(int pid)
    {
        Libc.Kill(-pid, Signals.TERM);
        WaitFor(pid);
    }

    private static int WaitFor(int pid)
    {
        int status;
        while (true)
        {
            int r = Libc.WaitPid(pid, &status, 0);
            if (r == pid)
            {
                return ExitStatus.FromWaitStatus(status).ToExitCode();
            }
            if (r < 0 && Libc.LastErrno == Errno.EINTR)
            {
                continue;
            }
            return ExitCodes.EmissaryFailure; // ECHILD: reaped elsewhere; nothing to report
        }
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

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
