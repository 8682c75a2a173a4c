using Emissary.Logging;
using System.Text;
using Emissary.Cli;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Supervision.Posix;
using Emissary.Supervision;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.Local;
using Emissary.Tools.PodSpec;

namespace Emissary.Tools.Commands;

/// <summary>What runs the steps of `emissary local`.</summary>
internal enum LocalEngineKind
{
    /// <summary>Each container's command as a local process supervised by `emissary run` (images ignored).</summary>
    Process,

    /// <summary>The rewritten pod in real containers, with `podman kube play`.</summary>
    Podman,
}

/// <summary>Everything `emissary local` was asked to do.</summary>
internal sealed record LocalRequest
{
    public required string File { get; init; }

    public LocalEngineKind Engine { get; init; } = LocalEngineKind.Process;

    /// <summary>--engine podman: the image of the emissary-init container.</summary>
    public string Image { get; init; } = PodmanPod.DefaultImage;

    public string? OutputDirectory { get; init; }

    public string? EventsFile { get; init; }

    public string? TimelineSvg { get; init; }

    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);

    public string? EntrypointsFile { get; init; }

    /// <summary>--max-restarts: how many times the process engine restarts a step its restart policy restarts.</summary>
    public int MaxRestarts { get; init; } = LocalRestarts.DefaultMaxRestarts;

    public bool KeepControlDirectory { get; init; }

    /// <summary>--plain: line-by-line progress even on a terminal.</summary>
    public bool Plain { get; init; }

    /// <summary>--debug: every step breaks on failure, and a shell opens in each step that pauses.</summary>
    public bool Debug { get; init; }
}

/// <summary>
/// `emissary local FILE`: the pod's steps on this machine, supervised by `emissary run` exactly as
/// in a pod: as local processes (images ignored), or with --engine podman in real containers.
/// </summary>
internal static partial class LocalCommand
{
    /// <summary>Exit code when the manifest is invalid (the same errors, and lines, as rewrite).</summary>
    public const int InvalidManifest = 1;

    public static int Execute(LocalRequest request, ILogger logger)
    {
        if (request.Engine == LocalEngineKind.Podman)
        {
            ToolOptions.RequireImage(request.Image);
        }
        EntrypointIndex? entrypoints = ToolOptions.LoadEntrypoints(request.EntrypointsFile);
        string text = InputText.Read(request.File);

        // Read and validated exactly as rewrite does, and reported with the same lines.
        var errors = new List<ManifestError>();
        ManifestSet set;
        try
        {
            set = ManifestSet.Read(text, request.File);
        }
        catch (ManifestReadException e)
        {
            StderrWriter.WriteLine(e.Message);
            return InvalidManifest;
        }
        ManifestObject[] pods = set.Documents.SelectMany(d => d.Objects).Where(o => o.HasPod).ToArray();
        if (pods.Length != 1)
        {
            throw new UsageException(pods.Length == 0
                ? $"{request.File}: no Pod, pod template or workload with a pod in it"
                : $"{request.File}: {pods.Length} pods; emissary local runs one (split the file)");
        }
        var settings = new RewriteSettings { Image = request.Image, Entrypoints = entrypoints };
        PodGraph? graph = PodGraph.Extract(pods[0], settings.GraphOptions, errors);
        if (graph is not null && errors.Count == 0 && graph.Steps.Any(s => s.Command is null))
        {
            // Adds rewrite's error for each container whose command is unknown, and changes nothing.
            PodRewriter.Rewrite(graph, settings, errors);
        }
        if (graph is null || errors.Count > 0)
        {
            foreach (ManifestError error in errors)
            {
                StderrWriter.WriteLine(error.ToString());
            }
            return InvalidManifest;
        }
        foreach (ManifestError warning in graph.Warnings)
        {
            Log.Note(logger, warning.ToString());
        }

        bool debug = request.Debug && Libc.IsATty(0) == 1;
        if (request.Debug && !debug)
        {
            Log.Note(logger, "--debug needs a terminal on stdin to open shells in: running without it");
        }
        request = request with { Debug = debug };
        var options = new LocalOptions
        {
            Debug = debug,
            OutputDirectory = request.OutputDirectory,
            EventsFile = request.EventsFile,
            TimelineSvg = request.TimelineSvg,
            Live = !request.Plain && Libc.IsATty(1) == 1 && Libc.IsATty(2) == 1,
            KeepControlDirectory = request.KeepControlDirectory,
        };
        ILocalEngine? engine = request.Engine == LocalEngineKind.Podman
            ? PodmanEngineFor(set, pods[0], graph, settings, request, errors, logger)
            : ProcessEngineFor(graph, request, logger);
        if (engine is null)
        {
            foreach (ManifestError error in errors)
            {
                StderrWriter.WriteLine(error.ToString());
            }
            return InvalidManifest;
        }
        using (engine)
        {
            using var runner = new LocalRunner(options, engine, logger);
            return runner.Run();
        }
    }

    private static ProcessEngine ProcessEngineFor(PodGraph graph, LocalRequest request, ILogger logger)
    {
        // Locally nobody stops a native sidecar (the kubelet does that in a pod): every sidecar is told
        // to stop by emissary, with --sidecar-of, once the steps are over.
        PodGraph local = graph with { NativeSidecars = false };
        var steps = new List<LocalStep>();
        foreach (StepSpec step in graph.Steps)
        {
            if (step.EnvValueFrom.Count > 0)
            {
                Log.Note(logger, $"{step.Name}: env {string.Join(", ", step.EnvValueFrom)} come from valueFrom (secrets, fields): not set locally");
            }
            if (step.Proxy != ProxyKind.None)
            {
                Log.Note(logger, $"{step.Name}: no {step.Proxy} proxy is injected locally: not waiting for it, not telling it to quit");
            }
            string? workingDir = step.WorkingDir;
            if (workingDir is not null && !Directory.Exists(workingDir))
            {
                Log.Note(logger, $"{step.Name}: workingDir {workingDir} does not exist here: running in the current directory");
                workingDir = null;
            }
            IReadOnlyList<string> run = EmissaryRun.RunArguments(step, local, StepHost.LocalProcess);
            steps.Add(new LocalStep(
                step.Name,
                request.Debug ? [.. run, "--breakpoint", "on-failure"] : run,
                step.Command!.Select(UnescapeKubernetes).ToArray(),
                step.Env.Select(e => new KeyValuePair<string, string>(e.Name, e.Value)).ToArray(),
                workingDir,
                step.Role == StepRole.Sidecar)
            {
                RestartArguments = EmissaryRun.LocalRestartArguments(step),
            });
        }

        string emissary = Path.Combine(Path.GetDirectoryName(Environment.ProcessPath ?? "") ?? ".", "emissary");
        if (!File.Exists(emissary))
        {
            throw new UsageException($"emissary local runs each step with {emissary}, which is missing (scripts/build.sh builds both binaries into artifacts/)");
        }
        return new ProcessEngine(emissary, steps, request.Grace, new LocalRestarts(request.MaxRestarts));
    }

    private static PodmanEngine? PodmanEngineFor(ManifestSet set, ManifestObject pod, PodGraph graph, RewriteSettings settings, LocalRequest request, List<ManifestError> errors, ILogger logger)
    {
        string podman;
        try
        {
            podman = CommandResolver.Resolve(["podman"], Environment.GetEnvironmentVariable("PATH"), FileProbe.Probe).Path;
        }
        catch (LaunchException e)
        {
            throw new UsageException($"--engine podman: {e.Message}");
        }
        string runId = Convert.ToHexString(Guid.NewGuid().ToByteArray(), 0, 4).ToLowerInvariant();
        PodmanPlan? plan = PodmanPod.Prepare(set, pod, graph, settings, runId, errors, breakOnFailure: request.Debug);
        if (plan is null)
        {
            return null;
        }
        foreach (string note in plan.Notes)
        {
            Log.Note(logger, note);
        }
        return new PodmanEngine(plan, podman, request.Grace);
    }

    /// <summary>Kubernetes turns $$ into $ in command and args; locally nobody else does.</summary>
    private static string UnescapeKubernetes(string text) => text.Replace("$$", "$");

    private static class Log
    {
        public static void Note(ILogger logger, string note)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"{note}");
            }
        }
    }
}
