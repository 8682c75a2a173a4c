using System.Text;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Tools.Kubectl;

/// <summary>
/// Runs kubectl as this process's children, on the reactor of <c>emissary local</c> (signalfd +
/// epoll; the shim keeps the signals blocked for it): posix_spawn, stdout and stderr through
/// pipes read as they fill, each call stopped with SIGKILL when it outlives the timeout or prints
/// more than the caller takes (a step's container answers a <c>kubectl exec</c>, and may answer
/// without end), and every child stopped and reaped before a SIGTERM, SIGINT, SIGHUP or SIGQUIT
/// ends the plugin (<see cref="PluginException"/> with 128+S). kubectl stays in the plugin's
/// process group, so a Ctrl-C on the terminal reaches it as it reaches the plugin.
/// </summary>
internal sealed unsafe class KubectlProcess : IKubectl, IDisposable
{
    /// <summary>At most this many kubectl calls run at once (one <c>kubectl exec</c> per running step of a big pod).</summary>
    public const int MaxConcurrent = 8;

    /// <summary>kubectl's stderr is kept up to this many bytes (the latest): its last line says what failed.</summary>
    private const int StderrKept = 16 * 1024;

    private readonly string _path;
    private readonly TimeSpan _timeout;
    private readonly Reactor _reactor = new();
    private readonly PosixProcessLauncher _launcher = new();

    private KubectlProcess(string path, TimeSpan timeout)
    {
        _path = path;
        _timeout = timeout;
    }

    /// <summary>The kubectl of <c>KUBECTL</c> (a path, or a name looked up on PATH), else <c>kubectl</c> on PATH.</summary>
    public static KubectlProcess Find(TimeSpan timeout)
    {
        string name = Environment.GetEnvironmentVariable("KUBECTL") is { Length: > 0 } given ? given : "kubectl";
        try
        {
            return new KubectlProcess(CommandResolver.Resolve([name], Environment.GetEnvironmentVariable("PATH"), FileProbe.Probe).Path, timeout);
        }
        catch (LaunchException e)
        {
            throw new PluginException($"cannot run kubectl: {e.Message} (install kubectl, or name it in KUBECTL)", e.ExitCode);
        }
    }

    public IReadOnlyList<KubectlOutput> Capture(IReadOnlyList<IReadOnlyList<string>> calls, int stdoutLimit)
    {
        var results = new KubectlOutput[calls.Count];
        var running = new Dictionary<int, Call>();
        long deadline = Environment.TickCount64 + (long)_timeout.TotalMilliseconds;
        int next = 0;
        try
        {
            while (next < calls.Count || running.Count > 0)
            {
                while (next < calls.Count && running.Count < MaxConcurrent)
                {
                    var call = new Call(next, stdoutLimit);
                    call.Start(this, calls[next]);
                    running[call.Pid] = call;
                    next++;
                }
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    foreach (Call late in running.Values.Where(c => !c.TimedOut))
                    {
                        late.TimedOut = true;
                        Libc.Kill(late.Pid, Signals.KILL);
                    }
                    left = 1000; // the reaping of the killed calls
                }
                switch (_reactor.Next(TimeSpan.FromMilliseconds(left)))
                {
                    case SupervisorEvent.ChildExited exited when running.Remove(exited.Pid, out Call? done):
                        results[done.Index] = done.Finish(exited.Status.ToExitCode());
                        break;
                    case SupervisorEvent.SignalReceived { Signal: var signal } when Signals.IsTerminating(signal):
                        throw Interrupted(signal, running.Values);
                }
            }
            return results;
        }
        finally
        {
            StopAll(running.Values);
        }
    }

    public int PassThrough(IReadOnlyList<string> args)
    {
        int pid = Spawn(args, stdout: -1, stderr: -1);
        long deadline = Environment.TickCount64 + (long)_timeout.TotalMilliseconds;
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                Libc.Kill(pid, Signals.KILL);
                Reap(pid);
                throw new PluginException($"kubectl did not finish within {Duration.Format(_timeout)} (see --timeout): stopped", ExitCodes.TimedOut);
            }
            switch (_reactor.Next(TimeSpan.FromMilliseconds(left)))
            {
                case SupervisorEvent.ChildExited exited when exited.Pid == pid:
                    return exited.Status.ToExitCode();
                case SupervisorEvent.SignalReceived { Signal: var signal } when Signals.IsTerminating(signal):
                    Libc.Kill(pid, Signals.KILL);
                    Reap(pid);
                    throw new PluginException($"interrupted by SIG{Signals.Name(signal)}: kubectl stopped", ExitCodes.ForSignal(signal));
            }
        }
    }

    public void Dispose() => _reactor.Dispose();

    private int Spawn(IReadOnlyList<string> args, int stdout, int stderr)
    {
        try
        {
            return _launcher.Start(new ResolvedCommand(_path, args) { Argv = ["kubectl", .. args] }, new LaunchSettings
            {
                OwnProcessGroup = false,
                StdoutFd = stdout,
                StderrFd = stderr,
            });
        }
        catch (LaunchException e)
        {
            throw new PluginException($"cannot run kubectl: {e.Message}", e.ExitCode);
        }
    }

    private PluginException Interrupted(int signal, IEnumerable<Call> running)
    {
        StopAll(running);
        return new PluginException($"interrupted by SIG{Signals.Name(signal)}: kubectl stopped", ExitCodes.ForSignal(signal));
    }

    /// <summary>SIGKILL to every call still running, then reaps each: no kubectl outlives the plugin.</summary>
    private static void StopAll(IEnumerable<Call> running)
    {
        foreach (Call call in running.ToArray())
        {
            if (call.Pid > 0)
            {
                Libc.Kill(call.Pid, Signals.KILL);
                Reap(call.Pid);
                call.Pid = 0;
            }
            call.Close();
        }
    }

    private static void Reap(int pid)
    {
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Libc.LastErrno == Errno.EINTR)
        {
        }
    }

    /// <summary>One kubectl call: its stdout and stderr pipes, read by the reactor as they fill.</summary>
    private sealed class Call(int index, int stdoutLimit)
    {
        private Output? _stdout;
        private Output? _stderr;

        public int Index { get; } = index;

        public int Pid { get; set; }

        public bool TimedOut { get; set; }

        public void Start(KubectlProcess owner, IReadOnlyList<string> args)
        {
            (SafeFd stdoutRead, SafeFd stdoutWrite) = SafeFd.Pipe();
            (SafeFd stderrRead, SafeFd stderrWrite) = SafeFd.Pipe();
            using (stdoutWrite)
            using (stderrWrite)
            {
                // Too much on stdout stops the call; stderr keeps its latest bytes (the last line says what failed).
                _stdout = new Output(owner._reactor, stdoutRead, stdoutLimit, () => { if (Pid > 0) Libc.Kill(Pid, Signals.KILL); });
                _stderr = new Output(owner._reactor, stderrRead, StderrKept, overflow: null);
                Pid = owner.Spawn(args, stdoutWrite.Fd, stderrWrite.Fd);
            }
        }

        /// <summary>
        /// Its output once it has exited: what is still in the pipes is read now, at most a pipe's
        /// worth (a grandchild that kept a write end open does not hold the plugin up).
        /// </summary>
        public KubectlOutput Finish(int exitCode)
        {
            Pid = 0;
            _stdout!.Drain();
            _stderr!.Drain();
            Close();
            return new KubectlOutput(exitCode, [.. _stdout.Bytes], Encoding.UTF8.GetString([.. _stderr.Bytes])) { TooLarge = _stdout.Overflowed, TimedOut = TimedOut };
        }

        public void Close()
        {
            _stdout?.Dispose();
            _stderr?.Dispose();
        }
    }

    /// <summary>
    /// The read end of a child's stdout or stderr. Up to <c>limit</c> bytes are kept: past it,
    /// <c>overflow</c> is called once and what came first is kept; without one, the latest bytes.
    /// </summary>
    private sealed class Output : IDisposable
    {
        private const int PipeCapacity = 1024 * 1024;

        private readonly SafeFd _fd;
        private readonly int _limit;
        private readonly Action? _overflow;
        private readonly IDisposable _watch;

        public Output(Reactor reactor, SafeFd fd, int limit, Action? overflow)
        {
            _fd = fd;
            _limit = limit;
            _overflow = overflow;
            Libc.SetNonBlocking(fd.Fd);
            _watch = reactor.Watch(fd.Fd, Libc.EPOLLIN, _ => ReadOnce());
        }

        public List<byte> Bytes { get; } = [];

        public bool Overflowed { get; private set; }

        public void Drain()
        {
            for (int read = 0; read < PipeCapacity && !Overflowed && !_fd.IsClosed; )
            {
                int n = ReadOnce();
                if (n <= 0)
                {
                    return;
                }
                read += n;
            }
        }

        public void Dispose()
        {
            _watch.Dispose();
            _fd.Dispose();
        }

        /// <summary>One read(2): the bytes read, 0 at EOF, -1 when nothing is there (EAGAIN).</summary>
        private unsafe int ReadOnce()
        {
            if (_fd.IsClosed)
            {
                return 0;
            }
            byte* buffer = stackalloc byte[8192];
            nint n = Libc.Read(_fd.Fd, buffer, 8192);
            if (n <= 0)
            {
                if (n == 0)
                {
                    _watch?.Dispose(); // EOF stays readable: stop watching, or epoll reports it forever
                }
                return (int)n;
            }
            if (Overflowed)
            {
                return (int)n; // read and dropped, so that the writer is not blocked while it is being stopped
            }
            Bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
            if (Bytes.Count > _limit)
            {
                if (_overflow is null)
                {
                    Bytes.RemoveRange(0, Bytes.Count - _limit);
                }
                else
                {
                    Overflowed = true;
                    Bytes.RemoveRange(_limit, Bytes.Count - _limit);
                    _overflow();
                }
            }
            return (int)n;
        }
    }
}
