using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Files;
using Emissary.Foundation.Sequences;

namespace Emissary.Results;

/// <summary>What <see cref="ResultsCollector.Collect"/> found.</summary>
/// <param name="Results">The valid results, sorted by name (ordinal).</param>
/// <param name="Errors">One line per rejected entry, e.g. <c>result 'a b': invalid name ...</c>.</param>
internal sealed record ResultsCollection(IReadOnlyList<Result> Results, IReadOnlyList<string> Errors)
{
    /// <summary>
    /// True when at least one result was rejected for being larger than the per-result limit
    /// (it is also one of the <see cref="Errors"/>), so the caller can report
    /// <see cref="StepReasons.ResultsTooLarge"/> rather than a generic error.
    /// </summary>
    public bool AnyTooLarge { get; init; }

    public static readonly ResultsCollection Empty = new([], []);
}

/// <summary>
/// Reads the results directory: every regular file directly in it is a result whose name is the
/// file name and whose value is the file's bytes, exactly (no trimming of a trailing newline, no
/// decoding).
/// </summary>
internal static class ResultsCollector
{
    /// <summary>Longest result name: 253, a DNS subdomain, like Kubernetes object names.</summary>
    public const int MaxNameLength = 253;

    /// <summary>
    /// Collects the results in <paramref name="directory"/>.
    /// <list type="bullet">
    /// <item>A missing directory means no results (a step that produced none need not create it).</item>
    /// <item>Names must match <c>^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$</c>: ASCII letters, digits,
    /// '.', '_' and '-', starting with a letter or digit, at most <see cref="MaxNameLength"/> bytes.
    /// A directory entry cannot contain '/', and "." and ".." start with a dot, so no name can
    /// reach outside the directory. Any other name is an error line.</item>
    /// <item>Entries whose name starts with '.' (editor temp files, a writer's temp file before its
    /// rename) are ignored, not errors.</item>
    /// <item>Symbolic links, sub-directories, FIFOs, sockets and devices are errors: a result is a
    /// regular file. Files are opened with O_NOFOLLOW|O_NONBLOCK, so a FIFO cannot block us and a
    /// link cannot smuggle in a file from elsewhere.</item>
    /// <item>At most <paramref name="maxBytesPerResult"/> + 1 bytes of a file are read, so a huge
    /// file cannot exhaust memory; a file longer than <paramref name="maxBytesPerResult"/> is an
    /// error (and sets <see cref="ResultsCollection.AnyTooLarge"/>), never a truncated value.</item>
    /// </list>
    /// </summary>
    public static ResultsCollection Collect(string directory, int maxBytesPerResult, string limitName = BudgetLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytesPerResult);
        // A directory the user named (--results-dir), often on a shared volume: resolved without
        // following a link another container planted (WritePath), and what is in it is not trusted.
        SafeFd handle;
        try
        {
            handle = WritePath.OpenDirectory(directory, create: false);
        }
        catch (WritePathException e)
        {
            return e.Errno == Errno.ENOENT ? ResultsCollection.Empty : new ResultsCollection([], [$"results directory {directory}: {e.Message}"]);
        }
        int fd = handle.Fd;
        handle.SetHandleAsInvalid(); // the descriptor is handed on: Collect owns and closes it
        return Collect(fd, directory, maxBytesPerResult, limitName);
    }

    /// <summary>
    /// Collects the results in <paramref name="name"/> inside the directory open as
    /// <paramref name="parentFd"/> (the step's own directory): a symlink in its place is an error,
    /// never followed. <paramref name="display"/> names it in error lines.
    /// </summary>
    public static ResultsCollection Collect(int parentFd, string name, string display, int maxBytesPerResult, string limitName = BudgetLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytesPerResult);
        int fd = Libc.OpenAtRetrying(parentFd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        return Collect(fd, display, maxBytesPerResult, limitName);
    }

    /// <summary>What the per-result limit is, in the error line, when it is the termination message budget.</summary>
    public const string BudgetLimit = "the termination message budget";

    private static ResultsCollection Collect(int fd, string directory, int maxBytesPerResult, string limitName)
    {
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            return errno switch
            {
                Errno.ENOENT => ResultsCollection.Empty,
                Errno.ELOOP => new ResultsCollection([], [$"results directory {directory}: is a symbolic link, not a directory"]),
                _ => new ResultsCollection([], [$"results directory {directory}: {Libc.Describe(errno)}"]),
            };
        }
        using var handle = new SafeFd(fd);
        List<byte[]> entries;
        try
        {
            entries = Directories.List(fd);
        }
        catch (SystemCallException e)
        {
            return new ResultsCollection([], [$"results directory {directory}: {Libc.Describe(e.Errno)}"]);
        }

        // Byte order is ordinal order for the valid (ASCII) names: results and errors come out sorted.
        entries.SortInPlace((a, b) => a.AsSpan().SequenceCompareTo(b));
        var results = new List<Result>();
        var errors = new List<string>();
        bool anyTooLarge = false;
        foreach (byte[] rawName in entries)
        {
            if (rawName[0] == (byte)'.')
            {
                continue;
            }
            string name = Printable(rawName);
            if (!IsValidName(rawName))
            {
                errors.Add($"result '{name}': invalid name (allowed: letters, digits, '.', '_' and '-', starting with a letter or digit, at most {MaxNameLength} characters)");
                continue;
            }
            (byte[]? value, string? problem, bool tooLarge) = Read(fd, name, maxBytesPerResult, limitName);
            if (value is not null)
            {
                results.Add(new Result(name, value));
            }
            else
            {
                errors.Add($"result '{name}': {problem}");
                anyTooLarge |= tooLarge;
            }
        }
        return new ResultsCollection(results, errors) { AnyTooLarge = anyTooLarge };
    }

    /// <summary>Whether <paramref name="name"/> is a valid result name (see <see cref="Collect"/>).</summary>
    public static bool IsValidName(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > MaxNameLength || !IsAlphanumeric(name[0]))
        {
            return false;
        }
        foreach (byte b in name)
        {
            if (!IsAlphanumeric(b) && b is not ((byte)'.' or (byte)'_' or (byte)'-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc cref="IsValidName(ReadOnlySpan{byte})"/>
    public static bool IsValidName(string name) =>
        name.Length <= MaxNameLength && Ascii.IsValid(name) && IsValidName(Encoding.ASCII.GetBytes(name));

    private static bool IsAlphanumeric(byte b) => b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9');

    private static (byte[]? Value, string? Problem, bool TooLarge) Read(int directoryFd, string name, int maxBytes, string limitName)
    {
        BoundedRead read = UntrustedFile.Read(directoryFd, name, maxBytes);
        return read.Outcome switch
        {
            ReadOutcome.Read => (read.Bytes, null, false),
            ReadOutcome.Missing => (null, "disappeared while it was being read", false),
            // The size named is what the file holds now (st_size); reading stopped at the limit.
            ReadOutcome.TooLarge => (null, read.Size > maxBytes
                ? $"needs {read.Size} bytes, {limitName} is {maxBytes}"
                : $"is larger than {limitName} of {maxBytes} bytes", true),
            _ => (null, read.Problem, false),
        };
    }

    /// <summary>A file name for an error line: UTF-8 as is, other bytes as \xNN, control characters escaped.</summary>
    private static string Printable(byte[] raw)
    {
        var text = new StringBuilder(raw.Length);
        var span = raw.AsSpan();
        while (!span.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(span, out System.Text.Rune rune, out int consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                text.Append($"\\x{span[0]:x2}");
                span = span[1..];
                continue;
            }
            if (System.Text.Rune.IsControl(rune))
            {
                text.Append($"\\x{rune.Value:x2}");
            }
            else
            {
                text.Append(rune.ToString());
            }
            span = span[consumed..];
        }
        return text.ToString();
    }
}
