using Emissary.Foundation;
using Emissary.Foundation.Sequences;

namespace Emissary.Supervision;

/// <summary>
/// Finds COMMAND the way execvp(3) does, but up front, so that "not found" (127) and "found but
/// not executable" (126) get a message that names the path instead of a bare errno.
/// </summary>
internal static class CommandResolver
{
    /// <summary>execvp's fallback when PATH is unset (glibc uses the same minus the sbin dirs).</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Resolves argv[0]; throws <see cref="LaunchException"/> with exit code 126 or 127.</summary>
    public static ResolvedCommand Resolve(IReadOnlyList<string> argv, string? pathVariable, Func<string, FileKind> probe)
    {
        string name = argv[0];
        if (name.Length == 0)
        {
            throw new LaunchException("command is empty", ExitCodes.NotFound);
        }

        if (name.Contains('/'))
        {
            return probe(name) switch
            {
                FileKind.Executable => new ResolvedCommand(name, argv.Skip(1).ToArray()) { Argv = argv },
                FileKind.Directory => throw new LaunchException($"{name}: is a directory", ExitCodes.CannotExecute),
                FileKind.NotExecutable => throw new LaunchException($"{name}: permission denied (not executable)", ExitCodes.CannotExecute),
                _ => throw new LaunchException($"{name}: no such file or directory", ExitCodes.NotFound),
            };
        }

        string? deniedCandidate = null;
        foreach (string dir in (pathVariable ?? DefaultPath).Split(':'))
        {
            // An empty PATH entry means the current directory, as in execvp.
            string candidate = dir.Length == 0 ? name : dir.EndsWith('/') ? dir + name : dir + "/" + name;
            switch (probe(candidate))
            {
                case FileKind.Executable:
                    return new ResolvedCommand(candidate, argv.Skip(1).ToArray()) { Argv = argv };
                case FileKind.NotExecutable:
                    deniedCandidate ??= candidate;
                    break;
            }
        }

        if (deniedCandidate is not null)
        {
            throw new LaunchException($"{deniedCandidate}: permission denied (not executable)", ExitCodes.CannotExecute);
        }
        throw new LaunchException($"{name}: command not found in PATH", ExitCodes.NotFound);
    }
}

/// <summary>What a path is, as far as running it goes.</summary>
internal enum FileKind
{
    Missing,
    Directory,
    NotExecutable,
    Executable,
}
