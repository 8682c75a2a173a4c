using System.Text;
using Emissary.Interop;
using Emissary.Supervision.Posix;

namespace Emissary.Tools.Local;

/// <summary>
/// Pipes for the steps' stdout and stderr whose read ends, watched by the runner's reactor,
/// print each line as "name | line".
/// </summary>
internal sealed unsafe class PrefixedPipes(Reactor reactor, LocalConsole console) : IDisposable
{
    private readonly List<IDisposable> _registrations = [];
    private readonly List<SafeFd> _writeEnds = [];

    /// <summary>Pipes whose write end some process may still hold: the runner drains them before it ends.</summary>
    public int Open { get; private set; }

    /// <summary>A new pipe; returns its write end, for a child.</summary>
    public int Create(string name, bool toStderr)
    {
        (SafeFd read, SafeFd write) = SafeFd.Pipe();
        _writeEnds.Add(write);
        var partial = new List<byte>();
        string prefix = name + " | ";
        Open++;
        IDisposable? registration = null;
        registration = reactor.Watch(read.Fd, Libc.EPOLLIN, _ =>
        {
            byte* buffer = stackalloc byte[8192];
            nint n = Libc.Read(read.Fd, buffer, 8192);
            if (n > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        console.Print(prefix + Encoding.UTF8.GetString(partial.ToArray()), toStderr);
                        partial.Clear();
                    }
                    else
                    {
                        partial.Add(buffer[i]);
                    }
                }
                return;
            }
            if (n < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
            {
                return;
            }
            if (partial.Count > 0)
            {
                console.Print(prefix + Encoding.UTF8.GetString(partial.ToArray()), toStderr);
            }
            registration?.Dispose();
            read.Dispose();
            Open--;
        });
        _registrations.Add(registration);
        return write.Fd;
    }

    /// <summary>Closes this process's copy of a write end <see cref="Create"/> gave (the child has its own).</summary>
    public void Release(int fd)
    {
        foreach (SafeFd end in _writeEnds.Where(f => f.Fd == fd).ToArray())
        {
            end.Dispose();
            _writeEnds.Remove(end);
        }
    }

    /// <summary>Output collected after the fact (container logs), printed the same way.</summary>
    public void Print(string name, byte[] bytes, bool toStderr)
    {
        string text = Encoding.UTF8.GetString(bytes);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }
        if (text.Length == 0)
        {
            return;
        }
        foreach (string line in text.Split('\n'))
        {
            console.Print(name + " | " + line, toStderr);
        }
    }

    public void Dispose()
    {
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (SafeFd end in _writeEnds)
        {
            end.Dispose();
        }
    }
}
