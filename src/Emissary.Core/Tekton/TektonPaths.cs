namespace Emissary.Tekton;

/// <summary>
/// The <c>/tekton</c> layout the controller mounts (pkg/pod/pod.go, entrypoint.go, creds_init.go)
/// and Tekton's entrypoint hard-codes. <c>EMISSARY_TEKTON_ROOT</c> moves the root elsewhere: for
/// the black-box tests only (the controller never sets it); every path the controller passes as a
/// flag is used as given.
/// </summary>
internal sealed record TektonPaths(string Root)
{
    public const string DefaultTerminationPath = "/tekton/termination";
    public const string RootVariable = "EMISSARY_TEKTON_ROOT";

    public static TektonPaths FromEnvironment() =>
        new(Environment.GetEnvironmentVariable(RootVariable) is { Length: > 0 } root ? root.TrimEnd('/') : "/tekton");

    /// <summary>Symlinks step-NAME and N to run/N/status, made by <c>init</c>/<c>step-init</c>.</summary>
    public string Steps => Root + "/steps";

    public string Run => Root + "/run";

    /// <summary>Task results: <c>$(results.NAME.path)</c>.</summary>
    public string Results => Root + "/results";

    public string Artifacts => Root + "/artifacts";

    /// <summary>The Task's scripts, placed by the init container (pipeline.ScriptDir).</summary>
    public string Scripts => Root + "/scripts";

    /// <summary>Where the credential flags' files are written before the step waits.</summary>
    public string Creds => Root + "/creds";

    /// <summary>The service account's secrets, one directory per secret.</summary>
    public string CredsSecrets => Root + "/creds-secrets";

    /// <summary>keep-pod-on-cancel: non-empty once the controller patched <c>tekton.dev/cancel</c>.</summary>
    public string CancelFile => Root + "/downward/cancel";
}
