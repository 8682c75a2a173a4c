namespace Emissary.Supervision;

// The seams between the run loop and the operating system (Tekton's Waiter/Runner idea).
// The loop in Supervisor.cs sees only these; Posix/ holds the real implementations and the
// unit tests hold fakes.

/// <summary>A command ready to start: an absolute or relative path that exists, plus argv.</summary>
internal sealed record ResolvedCommand(string Path, IReadOnlyList<string> Arguments)
{
    /// <summary>argv as the child sees it: argv[0] is the name the user typed.</summary>
    public required IReadOnlyList<string> Argv { get; init; }
}

/// <summary>What the child is started with besides argv.</summary>
internal sealed record LaunchSettings
{
    /// <summary>Own process group (default) or emissary's group (<c>--single-child</c>).</summary>
    public bool OwnProcessGroup { get; init; } = true;

    /// <summary>Variables added to (or replacing those of) emissary's own environment.</summary>
    public IReadOnlyDictionary<string, string> ExtraEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the child's stdout/stderr go instead of emissary's own (capture pipes), or -1.</summary>
    public int StdoutFd { get; init; } = -1;

    public int StderrFd { get; init; } = -1;

    /// <summary>Where the child's stdin comes from instead of emissary's own (a stream FIFO's read end), or -1.</summary>
    public int StdinFd { get; init; } = -1;

    /// <summary>Directory the child starts in, or null for emissary's own.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Tekton's hermetic step (<c>TEKTON_HERMETIC=1</c>): the child starts in new user, mount, PID
    /// and network namespaces, made by the shim's exec trampoline (a process with threads cannot).
    /// </summary>
    public bool Hermetic { get; init; }
}

/// <summary>Starting the command failed before it ran: the errno posix_spawn gave.</summary>
internal sealed class LaunchException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Starts and signals the supervised process.</summary>
internal interface IProcessLauncher
{
    /// <summary>Starts the command and returns its pid; throws <see cref="LaunchException"/>.</summary>
    int Start(ResolvedCommand command, LaunchSettings settings);

    /// <summary>
    /// Sends <paramref name="signal"/> to the process group led by <paramref name="pid"/>, or to the
    /// process alone. Returns false when the target is already gone (ESRCH), which is not an error.
    /// </summary>
    bool Signal(int pid, bool toGroup, int signal);
}
