using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Files;

namespace Emissary.Output;

/// <summary>
/// Moves one captured output of the command (its stdout or its stderr) from the capture pipe to the
/// container's own one (the "console": emissary's fd 1 or fd 2, which <c>kubectl logs</c> reads)
/// and to the capture file, and keeps the first bytes of stdout for a result.
///
/// Overview. The command writes into the capture pipe S. When a copy is needed (a file or a
/// result) and the console is a pipe (a container runtime's log pipe: the usual case), tee(2)
/// duplicates what is at the head of S straight into the console without consuming it, then
/// exactly those bytes are read out of S and written into the file (and the result): three calls
/// per chunk, and the console's bytes are never copied by us. The file is written, not spliced
/// into: a splice into a file holds the pipe it reads for the whole write, and a write to a disk
/// waits whenever the kernel throttles dirty pages, so the command could not write into S
/// meanwhile although S had room (<see cref="ToFileAndResult"/> has the figures).
/// <code>
///   command ──▶ S ──tee──▶ console (fd 1 / fd 2)
///               └──read──▶ buffer ──write──▶ capture file   (and ──▶ result prefix)
/// </code>
/// Any other console (a terminal, a socket, a file) cannot be tee(2)'s target, so a private pipe T
/// takes the copy: tee S into T, drain T at once into the file and the result, then consume exactly
/// those bytes from S into the console. The bytes already copied but not yet taken by the console
/// are "owed" to it, so a second tee never copies them again.
/// <code>
///   command ──▶ S ──tee──▶ T ──read──▶ buffer ──write──▶ capture file   (and ──▶ result prefix)
///               └────────splice───────▶ console
/// </code>
/// Nothing is buffered in user space but one chunk on its way to the file and one console chunk in
/// the read/write fallback, so memory is bounded (two pipes of 256 KiB and two 64 KiB buffers per
/// captured output) whatever the volume.
///
/// Backpressure, never loss. All calls are non-blocking and run on the reactor's single thread. If
/// the console is a pipe to a slow reader, splice fails with EAGAIN: the pump stops watching S and
/// waits for EPOLLOUT on the console, so S fills up and the command blocks in write(2), exactly as
/// it would writing to the console directly. The console's open file description is shared with
/// other processes (a terminal: with the shell that started us), so it is never switched to
/// O_NONBLOCK: splice gets SPLICE_F_NONBLOCK, and the read/write fallback writes at most PIPE_BUF
/// bytes after poll(2) reported POLLOUT, which a pipe accepts without blocking.
///
/// Failure of a destination: a file that cannot be written (disk full) is dropped with one warning,
/// and the console keeps receiving everything; a console that rejects writes (EIO, ...) is dropped
/// with one warning and the file keeps receiving everything; with neither left, the output is read
/// and discarded so that the command never blocks on a pipe nobody empties.
///
/// A console whose reader is gone (EPIPE: <c>emissary run ... | head</c>) is different: without
/// capture the command would get SIGPIPE and stop, and with it it must too, or it runs on into the
/// file forever (<c>yes</c> fills the disk). So what is in S at that moment is moved to the file,
/// then emissary closes S: the only read end of the command's pipe is gone, and its next write
/// fails with EPIPE/SIGPIPE exactly as it would have on the console.
/// </summary>
internal sealed partial class CapturePump : IDisposable
{
    private const int Chunk = 64 * 1024;
    private const int RoundsPerWakeup = 16;
    private const long BytesPerWakeup = 4L << 20; // then back to the loop: signals stay responsive

    /// <summary>
    /// Capacity asked for the capture pipe and the copy pipe when a copy is made (the default is
    /// 64 KiB): the command blocks and wakes emissary four times less often. Not more, because the
    /// pages count against the user's node-wide pipe budget (fs.pipe-user-pages-soft); when the
    /// kernel refuses, the default size works the same, only with more wake-ups.
    /// </summary>
    private const int CopyPipeSize = 256 * 1024;
    private int _teeChunk = Chunk;

    private readonly string _output;
    private readonly WatchDescriptor _watch;
    private readonly ILogger _logger;
    private readonly SafeFd _source;
    private SafeFd? _childEnd;
    private readonly CaptureFile? _file;

    private readonly int _console;
    private bool _consoleActive;
    private bool _consoleSplice;
    private bool _consolePoll;
    private bool _consoleTee;
    private readonly byte[] _consoleBuffer = new byte[Chunk];
    private int _pendingOffset;
    private int _pendingCount;

    private SafeFd? _copyRead;
    private SafeFd? _copyWrite;
    private bool _copyBroken;
    private int _owed;
    private readonly byte[] _scratch = new byte[Chunk];

    private byte[]? _result;
    private int _resultLength;
    private readonly int _resultWant;

    private IDisposable? _sourceWatch;
    private IDisposable? _consoleWatch;
    private bool _finished;
    private bool _hangUpPending;

    private CapturePump(string output, int console, CaptureFile? file, int resultLimit, WatchDescriptor watch, ILogger logger)
    {
        _output = output;
        _watch = watch;
        _logger = logger;
        _file = file;
        (_source, _childEnd) = SafeFd.Pipe();
        if (!Libc.SetNonBlocking(_source.Fd))
        {
            throw new SystemCallException("fcntl(O_NONBLOCK)", Libc.LastErrno);
        }

        _console = console;
        FileType? kind = console >= 0 ? Libc.KindOf(console) : null;
        bool tty = kind == FileType.CharacterDevice && Libc.IsATty(console) == 1;
        // Closed, or taken by one of emissary's own anonymous descriptors (a signalfd, an epoll set:
        // no file type) because emissary was started with it closed: never write there.
        _consoleActive = kind is not null and not FileType.Unknown;
        if (!_consoleActive)
        {
            Log.NoConsole(_logger, output);
        }
        // splice into pipes, files and devices such as /dev/null; a tty rejects it (EINVAL, handled),
        // and a blocking socket would block, so sockets and ttys go straight to read/write.
        _consoleSplice = kind is not null and not FileType.Socket && !tty;
        _consolePoll = kind is FileType.Fifo or FileType.Socket || tty;
        _consoleTee = kind == FileType.Fifo;

        if (resultLimit >= 0)
        {
            _resultWant = (int)Math.Min((long)resultLimit + 1, Array.MaxLength);
            _result = new byte[Math.Min(_resultWant, Chunk)];
        }
        if (file is not null || _result is not null)
        {
            (_copyRead, _copyWrite) = SafeFd.Pipe(Libc.O_NONBLOCK);
            int sourceSize = Descriptors.GrowPipe(_source.Fd, CopyPipeSize);
            int copySize = Descriptors.GrowPipe(_copyWrite.Fd, CopyPipeSize);
            // T must take all a tee copies (it is drained after every copy): copy at most its size.
            _teeChunk = Math.Max(Math.Min(sourceSize, copySize), Libc.PIPE_BUF);
        }
        _sourceWatch = _watch(_source.Fd, Libc.EPOLLIN, OnSourceReady);
    }

    /// <summary>
    /// Creates the capture pipe for one output and starts watching it. <paramref name="resultLimit"/>
    /// is -1 when no result is wanted, else the limit (limit + 1 bytes are kept).
    /// </summary>
    public static CapturePump Start(string output, int console, CaptureFile? file, int resultLimit, WatchDescriptor watch, ILogger logger) =>
        new(output, console, file, resultLimit, watch, logger);

    /// <summary>The write end the command gets as its fd 1 or 2; -1 after <see cref="CloseChildEnd"/>.</summary>
    public int ChildEnd => _childEnd?.Fd ?? -1;

    /// <summary>The first bytes of the output (at most the limit + 1), or null when no result was asked for.</summary>
    public byte[]? ResultPrefix => _result?.AsSpan(0, _resultLength).ToArray();

    private bool FileActive => _file is { Active: true };

    private bool ResultWanted => _result is not null && _resultLength < _resultWant;

    private bool CopyNeeded => !_copyBroken && _copyRead is not null && (FileActive || ResultWanted);

    /// <summary>Closes emissary's copy of the write end, so the pipe can reach end-of-file.</summary>
    public void CloseChildEnd()
    {
        _childEnd?.Dispose();
        _childEnd = null;
    }

    /// <summary>
    /// Moves what is in the capture pipe now — not what a background process of the command writes
    /// later: it may hold the pipe open forever (Argo #6375) — then stops watching. Waits at most
    /// <paramref name="consoleTimeout"/> in total for a console that applies backpressure; what the
    /// console does not take by then still goes to the file.
    /// </summary>
    public void Finish(TimeSpan consoleTimeout)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        StopWatching();
        long allowance = Math.Max(Descriptors.BytesReadable(_source.Fd), 0);
        long deadline = Environment.TickCount64 + (long)consoleTimeout.TotalMilliseconds;
        while (true)
        {
            Outcome outcome = Step(ref allowance);
            if (outcome == Outcome.Progress)
            {
                continue;
            }
            if (outcome == Outcome.Idle)
            {
                return;
            }
            long wait = deadline - Environment.TickCount64;
            if (wait <= 0 || !Libc.PollOne(_console, Libc.POLLOUT, (int)Math.Min(wait, int.MaxValue)))
            {
                Log.ConsoleTimedOut(_logger, _output, Duration.Format(consoleTimeout), _file is { Active: true } f ? $"they are only in {f.Path}" : "they are lost");
                DropConsole();
            }
        }
    }

    private void OnSourceReady(uint events)
    {
        Pump();
        if ((events & (Libc.EPOLLHUP | Libc.EPOLLERR)) != 0 && _consoleWatch is null && _pendingCount == 0 && Descriptors.BytesReadable(_source.Fd) == 0)
        {
            // Every writer is gone and everything was moved: a level-triggered hang-up would
            // otherwise wake the loop forever.
            StopWatching();
        }
    }

    private void OnConsoleWritable(uint events)
    {
        _consoleWatch?.Dispose();
        _consoleWatch = null;
        if (_finished || _source.IsClosed)
        {
            return;
        }
        _sourceWatch ??= _watch(_source.Fd, Libc.EPOLLIN, OnSourceReady);
        Pump();
    }

    private void Pump()
    {
        long allowance = BytesPerWakeup;
        for (int round = 0; round < RoundsPerWakeup; round++)
        {
            switch (Step(ref allowance))
            {
                case Outcome.Idle:
                    return;
                case Outcome.Blocked:
                    WaitForConsole();
                    return;
            }
        }
    }

    /// <summary>The console is full: stop taking from the capture pipe (the command blocks) until it drains.</summary>
    private void WaitForConsole()
    {
        _sourceWatch?.Dispose();
        _sourceWatch = null;
        try
        {
            _consoleWatch = _watch(_console, Libc.EPOLLOUT, OnConsoleWritable);
        }
        catch (SystemCallException)
        {
            // Not pollable (cannot happen for a descriptor that reported EAGAIN, but never spin):
            // plain blocking writes are still correct, only not concurrent with signals.
            _consoleSplice = false;
            _consolePoll = false;
            _sourceWatch = _watch(_source.Fd, Libc.EPOLLIN, OnSourceReady);
        }
    }

    private enum Outcome
    {
        /// <summary>Bytes moved; call again.</summary>
        Progress,

        /// <summary>The capture pipe is empty (or the allowance is used up).</summary>
        Idle,

        /// <summary>The console cannot take more now.</summary>
        Blocked,
    }

    /// <summary>One bounded, non-blocking move. <paramref name="allowance"/>: bytes still allowed out of S.</summary>
    private Outcome Step(ref long allowance)
    {
        if (_hangUpPending)
        {
            HangUp();
            return Outcome.Idle;
        }
        if (_pendingCount > 0 && !FlushPending())
        {
            return Outcome.Blocked;
        }
        if (_owed == 0 && _consoleActive && CopyNeeded)
        {
            return _consoleTee ? TeeToConsole(ref allowance) : CopyThenConsole(ref allowance);
        }
        int available = Descriptors.BytesReadable(_source.Fd);
        int chunk = (int)Math.Min(Math.Min(Math.Max(available, 0), allowance), Chunk);
        if (chunk <= 0)
        {
            return Outcome.Idle;
        }

        if (_owed > 0 && !_consoleActive)
        {
            // The console dropped out while owed bytes that are already in the file: consume them from S.
            allowance -= Discard(_owed);
            _owed = 0;
            return Outcome.Progress;
        }

        if (_owed == 0 && CopyNeeded)
        {
            // No console any more (with one, the copy went through the first branch): the bytes
            // are moved (spliced) through T into the copies, and are gone from S.
            nint moved = SpliceRetrying(_source.Fd, _copyWrite!.Fd, chunk, Libc.SPLICE_F_NONBLOCK | Libc.SPLICE_F_MOVE);
            if (moved <= 0)
            {
                // T is emptied after every copy and S holds `chunk` bytes, so this is a kernel
                // surprise: give up on the copies.
                BreakCopy(moved < 0 ? Libc.Describe(Libc.LastErrno) : "unexpected end of input");
                return Outcome.Progress;
            }
            DrainCopy((int)moved);
            allowance -= moved;
            return Outcome.Progress;
        }

        if (_consoleActive)
        {
            int moved = ToConsole(_owed > 0 ? _owed : chunk);
            if (moved == 0)
            {
                return Outcome.Blocked;
            }
            if (moved > 0)
            {
                _owed = Math.Max(_owed - moved, 0);
                allowance -= moved;
                return Outcome.Progress;
            }
            return Outcome.Progress; // the console just failed; the next step settles what it was owed
        }

        // Nobody wants these bytes any more: consume them so the command never blocks.
        allowance -= Discard(chunk);
        return Outcome.Progress;
    }

    /// <summary>
    /// The common case (a console and a copy): tee(2) itself says how much S holds, so the step
    /// costs four calls (tee, read and write into the file, splice into the console) and no FIONREAD.
    /// </summary>
    private Outcome CopyThenConsole(ref long allowance)
    {
        int want = (int)Math.Min(allowance, _teeChunk);
        if (want <= 0)
        {
            return Outcome.Idle;
        }
        nint copied = TeeRetrying(_source.Fd, _copyWrite!.Fd, want);
        if (copied <= 0)
        {
            if (copied == 0 || Libc.LastErrno == Errno.EAGAIN)
            {
                return Outcome.Idle; // S is empty (T always is here: it is drained after every copy)
            }
            BreakCopy(Libc.Describe(Libc.LastErrno));
            return Outcome.Progress;
        }
        DrainCopy((int)copied);
        _owed = (int)copied;
        int moved = ToConsole(_owed);
        if (moved == 0)
        {
            return Outcome.Blocked;
        }
        if (moved > 0)
        {
            _owed -= moved;
            allowance -= moved;
        }
        return Outcome.Progress;
    }

    /// <summary>
    /// The usual case in a pod (the console is the runtime's log pipe): tee(2) from S straight into
    /// the console, then the same bytes out of S into the file. Two calls a step instead of three and
    /// no copy pipe; T stays for the other consoles and for when the console drops out.
    /// </summary>
    private Outcome TeeToConsole(ref long allowance)
    {
        int want = (int)Math.Min(allowance, _teeChunk);
        if (want <= 0)
        {
            return Outcome.Idle;
        }
        nint copied = TeeRetrying(_source.Fd, _console, want);
        if (copied <= 0)
        {
            if (copied == 0)
            {
                return Outcome.Idle; // S is empty and has no writer left
            }
            Errno errno = Libc.LastErrno;
            if (errno == Errno.EAGAIN)
            {
                // Either side: S is empty, or the console is full.
                return Descriptors.BytesReadable(_source.Fd) > 0 ? Outcome.Blocked : Outcome.Idle;
            }
            if (errno == Errno.EINVAL)
            {
                _consoleTee = false; // not a pipe after all (tee needs two): the copy pipe from now on
                return Outcome.Progress;
            }
            ConsoleFailed(errno);
            return Outcome.Progress;
        }
        int left = ToFileAndResult(_source.Fd, (int)copied, out string? problem);
        if (left > 0)
        {
            // The copies miss these bytes: said once and given up, as DrainCopy does. They are
            // already on the console, so they must still leave S, or the console would get them twice.
            BreakCopy(problem!);
            Discard(left);
        }
        allowance -= copied;
        return Outcome.Progress;
    }

    /// <summary>Moves up to <paramref name="want"/> bytes from S to the console: the count, 0 when full, -1 when the console failed.</summary>
    private int ToConsole(int want)
    {
        if (_consoleSplice)
        {
            nint n = SpliceRetrying(_source.Fd, _console, want, Libc.SPLICE_F_NONBLOCK | Libc.SPLICE_F_MOVE);
            if (n > 0)
            {
                return (int)n;
            }
            Errno errno = n < 0 ? Libc.LastErrno : Errno.EIO;
            if (errno == Errno.EAGAIN)
            {
                return 0;
            }
            if (errno != Errno.EINVAL)
            {
                ConsoleFailed(errno);
                return -1;
            }
            _consoleSplice = false; // a tty, a file opened O_APPEND, ...: read/write from now on
        }

        if (_consolePoll && !Libc.PollOne(_console, Libc.POLLOUT, 0))
        {
            return 0;
        }
        int max = _consolePoll ? Libc.PIPE_BUF : _consoleBuffer.Length;
        int read = ReadInto(_source.Fd, _consoleBuffer, Math.Min(want, max));
        if (read <= 0)
        {
            return 0;
        }
        _pendingOffset = 0;
        _pendingCount = read;
        FlushPending();
        return read;
    }

    /// <summary>Writes the console chunk read in the fallback path; false while it cannot take it all.</summary>
    private unsafe bool FlushPending()
    {
        while (_pendingCount > 0)
        {
            if (!_consoleActive)
            {
                _pendingCount = 0;
                break;
            }
            nint n;
            fixed (byte* start = _consoleBuffer)
            {
                n = Libc.Write(_console, start + _pendingOffset, (nuint)_pendingCount);
            }
            if (n > 0)
            {
                _pendingOffset += (int)n;
                _pendingCount -= (int)n;
                continue;
            }
            Errno errno = n < 0 ? Libc.LastErrno : Errno.EIO;
            if (errno == Errno.EINTR)
            {
                continue;
            }
            if (errno == Errno.EAGAIN)
            {
                return false; // someone else made the description non-blocking: wait for EPOLLOUT
            }
            ConsoleFailed(errno);
        }
        return true;
    }

    /// <summary>Empties T, which holds exactly <paramref name="count"/> bytes, into the file and the result.</summary>
    private void DrainCopy(int count)
    {
        if (ToFileAndResult(_copyRead!.Fd, count, out string? problem) > 0)
        {
            BreakCopy(problem!);
        }
    }

    /// <summary>
    /// Takes exactly <paramref name="count"/> bytes, which the pipe <paramref name="from"/> holds,
    /// into the file and the result; returns how many could not be read (0 unless the kernel surprises us).
    /// </summary>
    private int ToFileAndResult(int from, int count, out string? problem)
    {
        problem = null;
        // Read out and written, not spliced: a splice into a file holds the pipe it reads for the
        // whole write, which on a disk can wait for the kernel's dirty-page throttling, and the
        // command cannot write into its pipe meanwhile although it has room. Measured (1 GiB on
        // ext4, medians of 5 rotating rounds, docs/benchmarks.md): 8 KiB writes 1.01 s read and
        // written, 1.45 s spliced through a private pipe, 1.60 s spliced straight from the command's
        // pipe, tee(1) 1.11 s; 64 KiB 0.95 s, 1.15 s, 1.44 s, tee 1.03 s; on tmpfs the same as
        // spliced (0.75, 0.78 s; tee 1.03, 1.05 s). One copy through a buffer that stays in the
        // cache is cheaper than holding the command back.
        while (count > 0)
        {
            int read = ReadInto(from, _scratch, Math.Min(count, _scratch.Length));
            if (read <= 0)
            {
                problem = read < 0 ? Libc.Describe(Libc.LastErrno) : "unexpected end of input";
                return count;
            }
            Keep(_scratch.AsSpan(0, read));
            if (FileActive)
            {
                _file!.Write(_scratch.AsSpan(0, read), _output);
            }
            count -= read;
        }
        return 0;
    }

    /// <summary>Appends to the result prefix, up to the limit + 1 bytes.</summary>
    private void Keep(ReadOnlySpan<byte> data)
    {
        if (!ResultWanted)
        {
            return;
        }
        int take = Math.Min(data.Length, _resultWant - _resultLength);
        if (_resultLength + take > _result!.Length)
        {
            Array.Resize(ref _result, (int)Math.Min(Math.Max((long)_result.Length * 2, _resultLength + take), _resultWant));
        }
        data[..take].CopyTo(_result.AsSpan(_resultLength));
        _resultLength += take;
    }

    /// <summary>Reads and drops up to <paramref name="count"/> bytes from S; returns how many.</summary>
    private int Discard(int count)
    {
        int total = 0;
        while (total < count)
        {
            int n = ReadInto(_source.Fd, _scratch, Math.Min(count - total, _scratch.Length));
            if (n <= 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private void ConsoleFailed(Errno errno)
    {
        if (!_consoleActive)
        {
            return;
        }
        _consoleActive = false;
        _pendingCount = 0;
        if (errno == Errno.EPIPE)
        {
            // Settled by the next Step, outside the write path that found it.
            _hangUpPending = true;
            Log.ConsoleClosed(_logger, _output, FileActive ? $"; what it wrote until now is in {_file!.Path}" : "");
            return;
        }
        Log.ConsoleFailed(_logger, _output, Libc.Describe(errno), FileActive ? $"goes only to {_file!.Path}" : "is discarded");
    }

    /// <summary>
    /// The console's reader is gone: moves what the command has written into S so far to the file
    /// (and the result), then closes S, so that the command's next write gets EPIPE/SIGPIPE as it
    /// would on the console itself. What it writes between the two is lost, as on a closed pipe.
    /// </summary>
    private void HangUp()
    {
        _hangUpPending = false;
        long allowance = Math.Max(Descriptors.BytesReadable(_source.Fd), 0);
        while (allowance > 0 && Step(ref allowance) == Outcome.Progress)
        {
        }
        StopWatching();
        _source.Dispose();
    }

    private void DropConsole()
    {
        _consoleActive = false;
        _pendingCount = 0;
    }

    private void BreakCopy(string reason)
    {
        if (_copyBroken)
        {
            return;
        }
        _copyBroken = true;
        Log.CopyFailed(_logger, _output, reason);
    }

    private void StopWatching()
    {
        _sourceWatch?.Dispose();
        _sourceWatch = null;
        _consoleWatch?.Dispose();
        _consoleWatch = null;
    }

    private static unsafe nint SpliceRetrying(int from, int to, int count, uint flags)
    {
        while (true)
        {
            nint n = Libc.Splice(from, null, to, null, (nuint)count, flags);
            if (n >= 0 || Libc.LastErrno != Errno.EINTR)
            {
                return n;
            }
        }
    }

    private static nint TeeRetrying(int from, int to, int count)
    {
        while (true)
        {
            nint n = Libc.Tee(from, to, (nuint)count, Libc.SPLICE_F_NONBLOCK);
            if (n >= 0 || Libc.LastErrno != Errno.EINTR)
            {
                return n;
            }
        }
    }

    /// <summary>read(2) retrying EINTR: the count, 0 at end of file, -1 on error (EAGAIN included).</summary>
    private static unsafe int ReadInto(int fd, byte[] buffer, int count)
    {
        fixed (byte* start = buffer)
        {
            while (true)
            {
                nint n = Libc.Read(fd, start, (nuint)count);
                if (n >= 0 || Libc.LastErrno != Errno.EINTR)
                {
                    return (int)n;
                }
            }
        }
    }

    public void Dispose()
    {
        StopWatching();
        _source.Dispose();
        _childEnd?.Dispose();
        _copyRead?.Dispose();
        _copyWrite?.Dispose();
    }

    private static class Log
    {
        public static void ConsoleFailed(ILogger logger, string output, string reason, string fate)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"the container's {output} cannot be written ({reason}): from now on the command's output on it {fate}");
            }
        }

        public static void ConsoleClosed(ILogger logger, string output, string kept)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"the container's {output} is closed (broken pipe): the command gets a broken pipe on its next write to it, as without capture{kept}");
            }
        }

        public static void ConsoleTimedOut(ILogger logger, string output, string timeout, string fate)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"the container's {output} did not take the last bytes of the command's output within {timeout}: {fate}");
            }
        }

        public static void NoConsole(ILogger logger, string output)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.Write(LogLevel.Debug, $"emissary's {output} is not open: the command's output on it goes only to the capture");
            }
        }

        public static void CopyFailed(ILogger logger, string output, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"copying the command's {output} failed ({reason}): it still goes to the container's log, but no longer to the capture file or result");
            }
        }
    }
}
