using Emissary.Foundation.Sequences;
using Emissary.Json;

namespace Emissary.Tekton;

/// <summary>Everything one step's entrypoint was asked to do (cmd/entrypoint/main.go's flags), after parsing.</summary>
internal sealed record TektonStepOptions
{
    /// <summary>argv[0] from <c>-entrypoint</c>, or null (then TEKTON_PLATFORM_COMMANDS).</summary>
    public string? Entrypoint { get; init; }

    /// <summary>Everything after the first <c>--</c> (at index &gt; 0).</summary>
    public IReadOnlyList<string> CommandArgs { get; init; } = [];

    /// <summary><c>-wait_file</c> split at commas; empty entries are no-ops.</summary>
    public IReadOnlyList<string> WaitFiles { get; init; } = [];

    public bool WaitFileContent { get; init; }

    public string PostFile { get; init; } = "";

    public string TerminationPath { get; init; } = TektonPaths.DefaultTerminationPath;

    public IReadOnlyList<string> Results { get; init; } = [];

    public IReadOnlyList<string> StepResults { get; init; } = [];

    /// <summary><c>--when_expressions</c> as given (JSON), or empty.</summary>
    public string WhenExpressions { get; init; } = "";

    /// <summary><c>-timeout</c>; zero means none, negative is refused when the step runs (as Tekton does).</summary>
    public TimeSpan Timeout { get; init; }

    public string? StdoutPath { get; init; }

    public string? StderrPath { get; init; }

    public bool BreakpointOnFailure { get; init; }

    public bool DebugBeforeStep { get; init; }

    /// <summary><c>-on_error</c>: "continue" lets a non-zero exit through; anything else is Tekton's default.</summary>
    public string OnError { get; init; } = "";

    public string StepMetadataDir { get; init; } = "";

    /// <summary><c>-result_from</c>: results go into the termination message only for "termination-message".</summary>
    public string ResultFrom { get; init; } = TektonCommandLine.ResultFromTerminationMessage;

    public bool CompressTerminationMessage { get; init; }

    public bool EnableSpire { get; init; }

    public TektonCredentialFlags Credentials { get; init; } = new();

    public bool ContinueOnError => OnError == "continue";

    public bool ResultsInTerminationMessage => ResultFrom == TektonCommandLine.ResultFromTerminationMessage;
}

/// <summary>The credential flags (<c>-basic-git=SECRET=URL</c> and the others), each repeatable, as given.</summary>
internal sealed record TektonCredentialFlags
{
    public IReadOnlyList<string> BasicGit { get; init; } = [];

    public IReadOnlyList<string> SshGit { get; init; } = [];

    public IReadOnlyList<string> BasicDocker { get; init; } = [];

    public IReadOnlyList<string> DockerConfig { get; init; } = [];

    public IReadOnlyList<string> DockerCfg { get; init; } = [];

    public bool Any => BasicGit.Count + SshGit.Count + BasicDocker.Count + DockerConfig.Count + DockerCfg.Count > 0;
}

/// <summary>
/// Tekton's entrypoint command line: the flag table of cmd/entrypoint/main.go (plus spire.go's two
/// and the credential flags of pkg/credentials), the split at the first <c>--</c>, and the
/// subcommand look-up on what follows the flags.
/// </summary>
internal static class TektonCommandLine
{
    /// <summary>
    /// What Go's flag package names the program in its usage: os.Args[0], as the process was
    /// started (the controller runs <c>/tekton/bin/entrypoint</c>), not a fixed name.
    /// </summary>
    public static string ProgramName => Environment.GetCommandLineArgs() is [var argv0, ..] ? argv0 : "entrypoint";
    public const string ResultFromTerminationMessage = "termination-message";

    public static readonly GoFlag[] Flags =
    [
        new("entrypoint", GoFlagKind.String, "Original specified entrypoint to execute"),
        new("wait_file", GoFlagKind.String, "Comma-separated list of paths to wait for"),
        new("wait_file_content", GoFlagKind.Bool, "If specified, expect wait_file to have content"),
        new("post_file", GoFlagKind.String, "If specified, file to write upon completion"),
        new("termination_path", GoFlagKind.String, "If specified, file to write upon termination", TektonPaths.DefaultTerminationPath),
        new("results", GoFlagKind.String, "If specified, list of file names that might contain task results"),
        new("step_results", GoFlagKind.String, "step results if specified"),
        new("when_expressions", GoFlagKind.String, "when expressions if specified"),
        new("timeout", GoFlagKind.Duration, "If specified, sets timeout for step"),
        new("stdout_path", GoFlagKind.String, "If specified, file to copy stdout to"),
        new("stderr_path", GoFlagKind.String, "If specified, file to copy stderr to"),
        new("breakpoint_on_failure", GoFlagKind.Bool, "If specified, expect steps to not skip on failure"),
        new("debug_before_step", GoFlagKind.Bool, "If specified, wait for a debugger to attach before executing the step"),
        new("on_error", GoFlagKind.String, "Set to \"continue\" to ignore an error and continue when a container terminates with a non-zero exit code. Set to \"stopAndFail\" to declare a failure with a step error and stop executing the rest of the steps."),
        new("step_metadata_dir", GoFlagKind.String, "If specified, create directory to store the step metadata e.g. /tekton/steps/<step-name>/"),
        new("result_from", GoFlagKind.String, "The method using which to extract results from tasks. Default is using the termination message.", ResultFromTerminationMessage),
        new("compress_termination_message", GoFlagKind.Bool, "If true, compress termination messages with flate to fit more results in the 4KB Kubernetes limit."),
        new("enable_spire", GoFlagKind.Bool, "If specified by configmap, this enables spire signing and verification"),
        new("spire_socket_path", GoFlagKind.String, "Experimental: The SPIRE agent socket for SPIFFE workload API.", "unix:///spiffe-workload-api/spire-agent.sock"),
        new("basic-git", GoFlagKind.Repeated, "List of secret=url pairs."),
        new("ssh-git", GoFlagKind.Repeated, "List of secret=url pairs."),
        new("basic-docker", GoFlagKind.Repeated, "List of secret=url pairs."),
        new("docker-config", GoFlagKind.Repeated, "Docker config.json secret file."),
        new("docker-cfg", GoFlagKind.Repeated, "Docker .dockercfg secret file."),
    ];

    /// <summary>
    /// cmd/entrypoint/args.go: argv is split at the first "--" only when it is not the first
    /// argument; before it are the flags, after it the command's arguments.
    /// </summary>
    public static (string[] Flags, string[] Command) Split(string[] args)
    {
        int separator = Array.IndexOf(args, "--");
        return separator > 0 ? (args[..separator], args[(separator + 1)..]) : (args, []);
    }

    /// <summary>Turns parsed flags into the step's options.</summary>
    public static TektonStepOptions Bind(GoFlagValues values, IReadOnlyList<string> commandArgs)
    {
        GoDuration.TryParse(values.String("timeout") ?? "0", out TimeSpan timeout);
        return new TektonStepOptions
        {
            Entrypoint = values.String("entrypoint") is { Length: > 0 } ep ? ep : null,
            CommandArgs = commandArgs,
            WaitFiles = SplitList(values.String("wait_file")),
            WaitFileContent = values.Bool("wait_file_content"),
            PostFile = values.String("post_file") ?? "",
            TerminationPath = values.String("termination_path") ?? TektonPaths.DefaultTerminationPath,
            Results = SplitList(values.String("results")),
            StepResults = SplitList(values.String("step_results")),
            WhenExpressions = values.String("when_expressions") ?? "",
            Timeout = timeout,
            StdoutPath = values.String("stdout_path") is { Length: > 0 } o ? o : null,
            StderrPath = values.String("stderr_path") is { Length: > 0 } e ? e : null,
            BreakpointOnFailure = values.Bool("breakpoint_on_failure"),
            DebugBeforeStep = values.Bool("debug_before_step"),
            OnError = values.String("on_error") ?? "",
            StepMetadataDir = values.String("step_metadata_dir") ?? "",
            ResultFrom = values.String("result_from") ?? ResultFromTerminationMessage,
            CompressTerminationMessage = values.Bool("compress_termination_message"),
            EnableSpire = values.Bool("enable_spire"),
            Credentials = new TektonCredentialFlags
            {
                BasicGit = values.All("basic-git"),
                SshGit = values.All("ssh-git"),
                BasicDocker = values.All("basic-docker"),
                DockerConfig = values.All("docker-config"),
                DockerCfg = values.All("docker-cfg"),
            },
        };
    }

    /// <summary>
    /// main.go's selectCommandForPlatform: the command TEKTON_PLATFORM_COMMANDS (a JSON object of
    /// "os/arch[/variant]" → argv) names for <paramref name="platform"/>, else for the platform
    /// without its CPU variant (the controller resolves a single-platform image without one,
    /// tektoncd/pipeline#10073); null when neither is there.
    /// </summary>
    public static string[]? SelectCommandForPlatform(JsonValue commands, string platform)
    {
        string withoutVariant = platform.Count(c => c == '/') > 1 ? platform[..platform.LastIndexOf('/')] : platform;
        foreach (string key in new[] { platform, withoutVariant })
        {
            if (commands.Kind == JsonKind.Object && commands.TryGetProperty(key, out JsonValue argv)
                && argv.Kind == JsonKind.Array && argv.Items.All(a => a.Kind == JsonKind.String))
            {
                return argv.Items.Select(a => a.GetString()!).ToArray();
            }
        }
        return null;
    }

    /// <summary>strings.Split(s, ","): kept as Tekton keeps them, empty entries included (they are skipped where used).</summary>
    private static string[] SplitList(string? text) => string.IsNullOrEmpty(text) ? [] : text.Split(',');
}
