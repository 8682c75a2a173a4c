namespace Emissary.Tools.Local;

/// <summary>
/// One step to run on this machine: `emissary run RunArguments RestartArguments -- Command`, with Environment.
/// RestartArguments (the step's restart policy and rules) are left out of the last run <see cref="LocalRestarts"/> allows.
/// </summary>
internal sealed record LocalStep(
    string Name,
    IReadOnlyList<string> RunArguments,
    IReadOnlyList<string> Command,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    string? WorkingDirectory,
    bool IsSidecar)
{
    public IReadOnlyList<string> RestartArguments { get; init; } = [];
}
