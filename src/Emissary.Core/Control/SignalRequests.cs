using System.Globalization;
using System.Text;
using Emissary.Interop;
using Emissary.Events;

namespace Emissary.Control;

/// <summary>
/// The receiving end of `emissary signal NAME SIG`: a FIFO in the step's directory that the
/// running step keeps open read-write (so it never sees EOF and a writer never blocks while the
/// step lives). A writer gets ENXIO when no step holds it open, which is how `emissary signal`
/// knows the step is not running. Requests become ordinary signal events for the run loop.
/// </summary>
internal sealed unsafe class SignalRequests : IDisposable
{
    private readonly int _fd;
    private readonly IDisposable _registration;
    private readonly StringBuilder _partial = new();
    private readonly IEventLoop _reactor;

    private SignalRequests(int fd, IEventLoop reactor)
    {
        _fd = fd;
        _reactor = reactor;
        _registration = reactor.Watch(fd, Libc.EPOLLIN, _ => Drain());
    }

    public static SignalRequests Listen(string fifoPath, IEventLoop reactor)
    {
        if (Libc.MkFifo(fifoPath, 0x1B6) != 0 && Libc.LastErrno != Errno.EEXIST)
        {
            throw new SystemCallException($"mkfifo {fifoPath}", Libc.LastErrno);
        }
        Libc.Chmod(fifoPath, 0x1B6); // 0666: any uid of the pod may ask for a signal
        int fd = Libc.Open(fifoPath, Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException($"open {fifoPath}", Libc.LastErrno);
        }
        return new SignalRequests(fd, reactor);
    }

    private void Drain()
    {
        byte* buffer = stackalloc byte[256];
        nint n;
        while ((n = Libc.Read(_fd, buffer, 256)) > 0)
        {
            _partial.Append(Encoding.ASCII.GetString(buffer, (int)n));
        }
        string text = _partial.ToString();
        int end = text.LastIndexOf('\n');
        if (end < 0)
        {
            return;
        }
        _partial.Remove(0, end + 1);
        foreach (string line in text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out int signal) && signal is > 0 and < 65)
            {
                _reactor.Post(new SupervisorEvent.SignalReceived(signal, SupervisorEvent.SignalReceived.ViaControlDirectory));
            }
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        Libc.Close(_fd);
    }
}
