using Emissary.Cli;
using Emissary.Interop;
using Emissary.Local;
using Emissary.Logging;
using Emissary.PodSpec;
using Microsoft.Extensions.Logging;

namespace Emissary.Commands;

/// <summary>Everything `emissary local` was asked to do.</summary>
internal sealed record LocalRequest
{
    public required string File { get; init; }

    public string? OutputDirectory { get; init; }

    public string? EventsFile { get; init; }

    public string? TimelineSvg { get; init; }

    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);

    public string? EntrypointsFile { get; init; }

    public bool KeepControlDirectory { get; init; }

    /// <summary>--plain: line-by-line progress even on a terminal.</summary>
    public bool Plain { get; init; }
}

/// <summary>
/// `emissary local FILE`: the pod's steps as local processes (images are ignored), each one
/// supervised by `emissary run` exactly as in a pod.
/// </summary>
internal static partial class LocalCommand
{
    /// <summary>Exit code when the manifest is invalid (the same errors as rewrite).</summary>
    public const int InvalidManifest = 1;

    public static int Execute(LocalRequest request, ILogger logger)
    {
        string text;
        try
        {
            text = request.File == "-" ? Console.In.ReadToEnd() : File.ReadAllText(request.File);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read {request.File}: {ErrorText.Reason(e)}");
        }

        var errors = new List<ManifestError>();
        PodGraph? graph = null;
        try
        {
            ManifestSet set = ManifestSet.Read(text, request.File);
            var options = new PodGraphOptions
            {
                Entrypoints = request.EntrypointsFile is { } index ? EntrypointIndex.Parse(File.ReadAllText(index), index) : null,
            };
            ManifestObject[] pods = set.Documents.SelectMany(d => d.Objects).Where(o => o.HasPod).ToArray();
            if (pods.Length != 1)
            {
                throw new UsageException(pods.Length == 0
                    ? $"{request.File}: no Pod, pod template or workload with a pod in it"
                    : $"{request.File}: {pods.Length} pods; emissary local runs one (split the file)");
            }
            graph = PodGraph.Extract(pods[0], options, errors);
        }
        catch (ManifestReadException e)
        {
            StderrWriter.WriteLine("emissary: " + e.Message);
            return InvalidManifest;
        }
        if (graph is null || errors.Count > 0)
        {
            foreach (ManifestError error in errors)
            {
                StderrWriter.WriteLine("emissary: " + error);
            }
            return InvalidManifest;
        }
        foreach (ManifestError warning in graph.Warnings)
        {
            Log.Note(logger, warning.ToString());
        }

        var steps = new List<LocalStep>();
        foreach (StepSpec step in graph.Steps)
        {
            if (step.Command is null)
            {
                StderrWriter.WriteLine($"emissary: {step.Path} ({step.Name}, image {step.Image}): no command, and the image's entrypoint is unknown: set command, or pass --entrypoints FILE");
                return InvalidManifest;
            }
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
            steps.Add(new LocalStep(
                step.Name,
                LocalArguments(EmissaryRun.RunArguments(step, graph)),
                step.Command.Select(UnescapeKubernetes).ToArray(),
                step.Env.Select(e => new KeyValuePair<string, string>(e.Name, e.Value)).ToArray(),
                workingDir,
                step.Role == StepRole.Sidecar));
        }

        string emissary = Path.Combine(Path.GetDirectoryName(Environment.ProcessPath ?? "") ?? ".", "emissary");
        if (!File.Exists(emissary))
        {
            throw new UsageException($"emissary local runs each step with {emissary}, which is missing (scripts/build.sh builds both binaries into artifacts/)");
        }
        using var runner = new LocalRunner(new LocalOptions
        {
            EmissaryPath = emissary,
            OutputDirectory = request.OutputDirectory,
            EventsFile = request.EventsFile,
            TimelineSvg = request.TimelineSvg,
            Grace = request.Grace,
            Live = !request.Plain && Libc.IsATty(1) == 1 && Libc.IsATty(2) == 1,
            KeepControlDirectory = request.KeepControlDirectory,
        }, logger);
        return runner.Run(steps);
    }

    /// <summary>The pod's `emissary run` flags, minus what only makes sense in a pod: the name (local sets it), proxies.</summary>
    private static IReadOnlyList<string> LocalArguments(IReadOnlyList<string> runArguments)
    {
        var kept = new List<string>();
        for (int i = 0; i < runArguments.Count; i++)
        {
            if (runArguments[i] is "--name" or "--wait-proxy" or "--quit" or "--termination-log" && i + 1 < runArguments.Count)
            {
                i++;
                continue;
            }
            kept.Add(runArguments[i]);
        }
        return kept;
    }

    /// <summary>Kubernetes turns $$ into $ in command and args; locally nobody else does.</summary>
    private static string UnescapeKubernetes(string text) => text.Replace("$$", "$");

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "{Note}")]
        public static partial void Note(ILogger logger, string note);
    }
}
