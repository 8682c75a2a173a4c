namespace Emissary.Tools.Local;

/// <summary>One step to run on this machine: `emissary run RunArguments -- Command`, with Environment.</summary>
internal sealed record LocalStep(
    string Name,
    IReadOnlyList<string> RunArguments,
    IReadOnlyList<string> Command,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    string? WorkingDirectory,
    bool IsSidecar);
