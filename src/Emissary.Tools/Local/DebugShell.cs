namespace Emissary.Tools.Local;

/// <summary>
/// The interactive shell `emissary local --debug` opens in a paused step's context: the program
/// and its argv, the variables set over this process's environment, and where it starts.
/// </summary>
internal sealed record DebugShell(string Path, IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string? Directory)
{
    /// <summary>The user's shell: $SHELL when it is an absolute path, else /bin/sh.</summary>
    public static string UserShell(string? shell) => shell is { Length: > 0 } s && s[0] == '/' ? s : "/bin/sh";
}
