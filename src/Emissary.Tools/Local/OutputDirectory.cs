using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Tools.Local;

/// <summary>`--output-dir DIR`: each step's output into DIR/NAME.stdout and DIR/NAME.stderr instead of the terminal.</summary>
internal sealed class OutputDirectory(string directory) : IDisposable
{
    private readonly HashSet<string> _written = new(StringComparer.Ordinal);
    private readonly List<SafeFd> _open = [];

    /// <summary>Opens (truncates) the step's file for a child; returns the descriptor.</summary>
    public int Open(string step, bool toStderr)
    {
        string path = PathOf(step, toStderr);
        Directory.CreateDirectory(directory);
        _written.Add(path);
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1A4);
        if (fd < 0)
        {
            throw new UsageException($"cannot write {path}: {Libc.Describe(Libc.LastErrno)}");
        }
        _open.Add(new SafeFd(fd));
        return fd;
    }

    /// <summary>Closes this process's copy of a descriptor <see cref="Open"/> gave (the child has its own).</summary>
    public void Release(int fd)
    {
        foreach (SafeFd file in _open.Where(f => f.Fd == fd).ToArray())
        {
            file.Dispose();
            _open.Remove(file);
        }
    }

    /// <summary>Output collected after the fact (container logs): appended to what this run wrote there, else a new file.</summary>
    public void Write(string step, byte[] bytes, bool toStderr)
    {
        string path = PathOf(step, toStderr);
        Directory.CreateDirectory(directory);
        using var file = new FileStream(path, _written.Add(path) ? FileMode.Create : FileMode.Append, FileAccess.Write);
        file.Write(bytes);
    }

    private string PathOf(string step, bool toStderr) => Path.Combine(directory, step + (toStderr ? ".stderr" : ".stdout"));

    public void Dispose()
    {
        foreach (SafeFd file in _open)
        {
            file.Dispose();
        }
    }
}
