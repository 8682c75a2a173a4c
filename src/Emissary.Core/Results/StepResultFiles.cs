using System.Text;
using System.Text.Unicode;
using Emissary.Interop;
using Emissary.Control;
using Emissary.Files;

namespace Emissary.Results;

/// <summary>
/// Resolves <c>$(steps.NAME.results.KEY)</c> (parsed by <see cref="StepResultReferences"/>) against
/// the control directory: the bytes of <c>DIR/NAME/results/KEY</c>, which step NAME's command
/// wrote and which, in the per-step layout, no other container can write. Read as untrusted: the
/// step directory and its results directory opened without following links, the results
/// directory owned by the step directory's owner (or, when that is root — a kubelet volume —, by
/// the owner of the step's lock, which its emissary made), the value a regular file of at most
/// <see cref="MaxValueBytes"/>, valid UTF-8 without a NUL byte (it becomes an argument or an environment value).
/// </summary>
internal sealed class StepResultFiles(ControlDirectory dir)
{
    /// <summary>The largest termination budget: a result larger than that could not have been reported either.</summary>
    public const int MaxValueBytes = 1 << 20;

    private readonly Dictionary<string, string> _cache = new(StringComparer.Ordinal); // "STEP/KEY" → value

    /// <summary><paramref name="text"/> with every reference replaced by its value.</summary>
    /// <exception cref="StepResultMissingException">A reference that cannot be resolved, said in one line.</exception>
    public string Substitute(string text) => StepResultReferences.Substitute(text, Resolve);

    public string Resolve(StepResultReference reference)
    {
        if (reference.Selector.Length > 0)
        {
            throw new StepResultMissingException($"{reference}: array and object results are not supported (a result is one file of bytes)");
        }
        if (_cache.TryGetValue(reference.Step + "/" + reference.Key, out string? cached))
        {
            return cached;
        }
        string value = Read(reference);
        _cache[reference.Step + "/" + reference.Key] = value;
        return value;
    }

    private string Read(StepResultReference reference)
    {
        string path = dir.PathOf(reference.Step, ControlDirectory.ResultsDirectory + "/" + reference.Key);
        if (!ControlDirectory.IsValidName(reference.Step) || !ResultsCollector.IsValidName(reference.Key))
        {
            throw new StepResultMissingException($"{reference}: not a valid step or result name");
        }
        using SafeFd? step = dir.OpenStep(reference.Step);
        if (step is null || Libc.StatOf(step.Fd) is not { } owner)
        {
            throw new StepResultMissingException($"{reference}: step '{reference.Step}' has no directory in {dir.Root} (did it run before this step?)");
        }
        int fd = Libc.OpenAtRetrying(step.Fd, ControlDirectory.ResultsDirectory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new StepResultMissingException($"{reference}: step '{reference.Step}' wrote no results ({dir.PathOf(reference.Step, ControlDirectory.ResultsDirectory)}: {Libc.Describe(Libc.LastErrno)})");
        }
        using var results = new SafeFd(fd);
        uint? lockOwner = owner.Uid == 0 ? Libc.StatAt(step.Fd, ControlDirectory.LockFile)?.Uid : null;
        if (Libc.StatOf(fd) is not { } st || (st.Uid != owner.Uid && st.Uid != lockOwner))
        {
            throw new StepResultMissingException($"{reference}: {dir.PathOf(reference.Step, ControlDirectory.ResultsDirectory)} does not belong to step '{reference.Step}': refusing it");
        }
        BoundedRead read = UntrustedFile.Read(fd, reference.Key, MaxValueBytes);
        return read.Outcome switch
        {
            // A NUL would end the argument or environment value there, silently cutting the text after the reference.
            ReadOutcome.Read when read.Bytes!.AsSpan().Contains((byte)0) => throw new StepResultMissingException($"{reference}: the value holds a NUL byte, which no argument or environment value can carry"),
            ReadOutcome.Read when Utf8.IsValid(read.Bytes!) => Encoding.UTF8.GetString(read.Bytes!),
            ReadOutcome.Read => throw new StepResultMissingException($"{reference}: {path} is not valid UTF-8 text"),
            ReadOutcome.Missing => throw new StepResultMissingException($"{reference}: step '{reference.Step}' has no result '{reference.Key}' ({path} does not exist)"),
            _ => throw new StepResultMissingException($"{reference}: {path} {read.Problem}"),
        };
    }
}
