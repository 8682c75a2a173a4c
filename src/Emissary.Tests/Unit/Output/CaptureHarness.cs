using System.Runtime.InteropServices;
using Emissary.Interop;
using Emissary.Logging;

namespace Emissary.Tests.Unit.Output;

/// <summary>
/// A single-threaded epoll loop with the Reactor's handler semantics (level-triggered, handlers run
/// on the calling thread, a disposed registration is never called again). The real Reactor needs
/// the signal shim, which only the NativeAOT build links.
/// </summary>
internal sealed unsafe class EpollLoop : IDisposable
{
    private readonly int _epoll;
    private readonly Dictionary<ulong, Action<uint>> _handlers = new();
    private ulong _next;

    public EpollLoop()
    {
        _epoll = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw new SystemCallException("epoll_create1", Libc.LastErrno);
        }
    }

    public int Registrations => _handlers.Count;

    public IDisposable Watch(int fd, uint events, Action<uint> onReady)
    {
        ulong token = _next++;
        var ev = new EpollEvent { Events = events, Data = token };
        if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, fd, &ev) < 0)
        {
            throw new SystemCallException("epoll_ctl", Libc.LastErrno);
        }
        _handlers[token] = onReady;
        return new Registration(this, fd, token);
    }

    /// <summary>Runs handlers until <paramref name="done"/> or the timeout; returns whether done.</summary>
    public bool RunUntil(Func<bool> done, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        EpollEvent* ready = stackalloc EpollEvent[16];
        while (!done())
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }
            int n = Libc.EpollWait(_epoll, ready, 16, 20);
            for (int i = 0; i < n; i++)
            {
                if (_handlers.TryGetValue(ready[i].Data, out Action<uint>? handler))
                {
                    handler(ready[i].Events);
                }
            }
        }
        return true;
    }

    public void Dispose() => Libc.Close(_epoll);

    private sealed class Registration(EpollLoop loop, int fd, ulong token) : IDisposable
    {
        public void Dispose()
        {
            if (loop._handlers.Remove(token))
            {
                Libc.EpollCtl(loop._epoll, Libc.EPOLL_CTL_DEL, fd, null);
            }
        }
    }
}

/// <summary>A pipe standing in for emissary's own fd 1 or 2, with a thread reading everything from it.</summary>
internal sealed class ConsolePipe : IDisposable
{
    private readonly SafeFd _read;
    private SafeFd? _write;
    private readonly MemoryStream _received = new();
    private readonly Thread _reader;
    private readonly TimeSpan _delayPerRead;
    private volatile bool _stopReading;

    public ConsolePipe(int capacity = 0, TimeSpan delayPerRead = default, bool read = true)
    {
        (_read, _write) = SafeFd.Pipe();
        if (capacity > 0)
        {
            Libc.Fcntl(_write.Fd, Libc.F_SETPIPE_SZ, capacity).Should().BeGreaterThan(0);
        }
        _delayPerRead = delayPerRead;
        _reader = new Thread(ReadAll) { IsBackground = true };
        if (read)
        {
            _reader.Start();
        }
    }

    public int WriteEnd => _write?.Fd ?? -1;

    /// <summary>Closes the read end: writes to the console then fail with EPIPE.</summary>
    public void Break()
    {
        _stopReading = true;
        _read.Dispose();
    }

    /// <summary>Closes the write end and returns everything that was read.</summary>
    public byte[] Complete()
    {
        _write?.Dispose();
        _write = null;
        if (_reader.IsAlive)
        {
            _reader.Join(TimeSpan.FromSeconds(30)).Should().BeTrue("the console reader ends at EOF");
        }
        lock (_received)
        {
            return _received.ToArray();
        }
    }

    private unsafe void ReadAll()
    {
        byte[] buffer = new byte[16 * 1024];
        while (!_stopReading)
        {
            nint n;
            fixed (byte* start = buffer)
            {
                n = Libc.Read(_read.Fd, start, (nuint)buffer.Length);
            }
            if (n <= 0)
            {
                if (n < 0 && Libc.LastErrno == Errno.EINTR)
                {
                    continue;
                }
                return;
            }
            lock (_received)
            {
                _received.Write(buffer, 0, (int)n);
            }
            if (_delayPerRead > TimeSpan.Zero)
            {
                Thread.Sleep(_delayPerRead);
            }
        }
    }

    public void Dispose()
    {
        _write?.Dispose();
        if (!_stopReading)
        {
            _read.Dispose();
        }
    }
}

/// <summary>Collects log lines.</summary>
internal sealed class CollectingLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _lines = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IEnumerable<string> Warnings => Lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Message);

    public bool IsEnabled(LogLevel level) => true;

    public void Write(LogLevel level, string message)
    {
        lock (_lines)
        {
            _lines.Add((level, message));
        }
    }
}

internal static unsafe class Fds
{
    /// <summary>Writes everything to a blocking descriptor (the way a child writes its stdout).</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data) => Libc.WriteAll(fd, data).Should().Be((Errno)0);

    /// <summary>A second descriptor for the same pipe end, as a background grandchild would hold.</summary>
    public static SafeFd Dup(int fd)
    {
        int copy = Libc.Fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3);
        copy.Should().BeGreaterThan(2);
        return new SafeFd(copy);
    }

    /// <summary>Deterministic pseudo-random bytes, so a reordering or a lost chunk shows.</summary>
    public static byte[] Data(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static int OpenFdCount() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>What each open descriptor refers to ("pipe:[1234]", a path): identities, unlike numbers, are not reused.</summary>
    public static HashSet<string> OpenFileIdentities()
    {
        var identities = new HashSet<string>();
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target)
                {
                    identities.Add(target);
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the readlink.
            }
        }
        return identities;
    }
}

/// <summary>Consoles that are not pipes: a socket (some runtimes) and a terminal (<c>docker run -t</c>).</summary>
internal static partial class OtherConsoles
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int O_RDWR = 2;

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int PosixOpenPt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static unsafe partial int PtsNameR(int fd, byte* buffer, nuint length);

    /// <summary>A connected stream socket pair: (the end we write as console, the end a reader reads).</summary>
    public static unsafe (SafeFd Console, SafeFd Reader) Socket()
    {
        int* fds = stackalloc int[2];
        SocketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds).Should().Be(0);
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>A pseudo-terminal in raw mode (no \n → \r\n): (the terminal as console, the master a reader reads).</summary>
    public static unsafe (SafeFd Console, SafeFd Master) Terminal()
    {
        int master = PosixOpenPt(O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        master.Should().BeGreaterThan(0);
        GrantPt(master).Should().Be(0);
        UnlockPt(master).Should().Be(0);
        byte* name = stackalloc byte[128];
        PtsNameR(master, name, 128).Should().Be(0);
        string path = Marshal.PtrToStringUTF8((IntPtr)name)!;
        int console = Libc.Open(path, Libc.O_WRONLY | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        console.Should().BeGreaterThan(0);
        using var stty = System.Diagnostics.Process.Start("stty", ["-F", path, "raw", "-echo"])!;
        stty.WaitForExit();
        stty.ExitCode.Should().Be(0);
        return (new SafeFd(console), new SafeFd(master));
    }

    /// <summary>
    /// Reads <paramref name="fd"/> on a thread until <paramref name="expected"/> bytes arrived (or
    /// EOF/error); the function returned waits for the thread and gives the bytes.
    /// </summary>
    public static Func<byte[]> StartReading(SafeFd fd, int expected, TimeSpan delayPerRead = default)
    {
        var received = new MemoryStream();
        var thread = new Thread(() =>
        {
            byte[] buffer = new byte[4096];
            while (received.Length < expected)
            {
                nint n;
                unsafe
                {
                    fixed (byte* start = buffer)
                    {
                        n = Libc.Read(fd.Fd, start, (nuint)buffer.Length);
                    }
                }
                if (n < 0 && Libc.LastErrno == Errno.EINTR)
                {
                    continue;
                }
                if (n <= 0)
                {
                    break;
                }
                received.Write(buffer, 0, (int)n);
                if (delayPerRead > TimeSpan.Zero)
                {
                    Thread.Sleep(delayPerRead);
                }
            }
        }) { IsBackground = true };
        thread.Start();
        return () =>
        {
            thread.Join(TimeSpan.FromSeconds(60)).Should().BeTrue("the reader gets all the bytes");
            return received.ToArray();
        };
    }
}
