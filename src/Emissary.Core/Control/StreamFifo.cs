using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Control;

/// <summary>
/// The FIFO through which one step's stdout becomes another step's stdin (<c>run --stdout-to</c>,
/// <c>run --stdin-from</c>): <c>DIR/PRODUCER/stdout</c>, made by the producer's emissary in its own
/// step directory, mode 0644 so that the consumer (maybe another uid, reaching it through a
/// read-only mount: opening a FIFO writes nothing to the file system) can open it for reading.
/// The kernel moves the bytes: the producer's command writes into it as its fd 1, the consumer's
/// command reads it as its fd 0.
/// </summary>
internal static class StreamFifo
{
    public const string FileName = "stdout";

    private const uint Mode = 0x1A4; // 0644

    /// <summary>Makes DIR/NAME/stdout afresh (a previous incarnation's is removed first).</summary>
    public static void Create(StepHandle handle)
    {
        int dir = handle.DirectoryFd;
        if (Libc.UnlinkAt(dir, FileName, 0) != 0 && Libc.LastErrno != Errno.ENOENT)
        {
            throw new SystemCallException($"unlink {handle.DisplayPath(FileName)}", Libc.LastErrno);
        }
        if (Libc.MkFifoAt(dir, FileName, Mode) != 0)
        {
            throw new SystemCallException($"mkfifo {handle.DisplayPath(FileName)}", Libc.LastErrno);
        }
        // The umask may have narrowed the mode; the consumer may be another uid.
        if (Libc.FchmodAt(dir, FileName, Mode, 0) != 0)
        {
            throw new SystemCallException($"chmod {handle.DisplayPath(FileName)}", Libc.LastErrno);
        }
    }

    /// <summary>
    /// The producer's open for writing: blocks until a reader opens the FIFO (the kernel's
    /// rendezvous), so it runs on a thread of its own. Returns the descriptor, or -1 with errno set.
    /// </summary>
    public static int OpenForWritingBlocking(int stepFd) =>
        Libc.OpenAtRetrying(stepFd, FileName, Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);

    /// <summary>
    /// Opens the own FIFO for reading without blocking and closes it again: the way to end a
    /// writer's blocked open (the producer giving up on its consumer).
    /// </summary>
    public static void Knock(int stepFd)
    {
        int fd = Libc.OpenAtRetrying(stepFd, FileName, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }

    /// <summary>
    /// The consumer's open of <c>DIR/STEP/stdout</c>, as untrusted: through the step directory's
    /// descriptor, without following a link, without blocking (a planted device or a FIFO nobody
    /// writes must not hang us), then checked on the descriptor: a FIFO, owned by the owner of the
    /// step directory (or, when that is root — a kubelet volume —, by the owner of the step's lock,
    /// which its emissary made). Only a same-uid process or root can plant anything there. The
    /// descriptor stays non-blocking; <see cref="ReservedFd.Fill"/> clears that for the command.
    /// </summary>
    public static (SafeFd? Fd, string? Problem) OpenForReading(ControlDirectory dir, string step)
    {
        using SafeFd? stepFd = dir.OpenStep(step);
        if (stepFd is null || Libc.StatOf(stepFd.Fd) is not { } directory)
        {
            return (null, null);
        }
        string path = dir.PathOf(step, FileName);
        int fd = Libc.OpenAtRetrying(stepFd.Fd, FileName, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Errno errno = Libc.LastErrno;
            return errno switch
            {
                Errno.ENOENT => (null, null),
                Errno.ELOOP => (null, $"{path} is a symbolic link, not the step's stream FIFO: refusing it"),
                _ => (null, $"cannot open {path}: {Libc.Describe(errno)}"),
            };
        }
        var handle = new SafeFd(fd);
        StatX? st = Libc.StatOf(fd);
        uint? lockOwner = directory.Uid == 0 ? Libc.StatAt(stepFd.Fd, ControlDirectory.LockFile)?.Uid : null;
        string? problem = st is not { } s ? $"cannot stat {path}: {Libc.Describe(Libc.LastErrno)}"
            : s.Kind != FileType.Fifo ? $"{path} is {Libc.Describe(s.Kind)}, not the step's stream FIFO: refusing it"
            : s.Uid != directory.Uid && s.Uid != lockOwner ? $"{path} belongs to uid {s.Uid}, not to step '{step}' (uid {lockOwner ?? directory.Uid}): refusing it"
            : null;
        if (problem is not null)
        {
            handle.Dispose();
            return (null, problem);
        }
        return (handle, null);
    }
}

/// <summary>
/// A descriptor number reserved before the command's launch settings are made (a pipe end that
/// nothing uses), filled later with the stream's end by dup3(2): the launch settings and the
/// output pump can name the descriptor before the other side of the stream has arrived.
/// </summary>
internal sealed class ReservedFd : IDisposable
{
    private readonly SafeFd _slot;

    public ReservedFd(bool readEnd)
    {
        (SafeFd read, SafeFd write) = SafeFd.Pipe();
        // A read end whose writer is closed reads EOF; a write end whose reader is closed gets EPIPE.
        if (readEnd)
        {
            write.Dispose();
            _slot = read;
        }
        else
        {
            read.Dispose();
            _slot = write;
        }
    }

    /// <summary>The reserved descriptor: what the child gets, or the pump writes to.</summary>
    public int Fd => _slot.Fd;

    /// <summary>Whether <see cref="Fill"/> has put the stream's end in place.</summary>
    public bool Filled { get; private set; }

    /// <summary>Puts <paramref name="end"/> into the slot (blocking mode, close-on-exec) and closes <paramref name="end"/>.</summary>
    public void Fill(SafeFd end)
    {
        using (end)
        {
            Libc.SetBlocking(end.Fd);
            if (Libc.Dup3(end.Fd, _slot.Fd, Libc.O_CLOEXEC) < 0)
            {
                throw new SystemCallException("dup3", Libc.LastErrno);
            }
        }
        Filled = true;
    }

    /// <summary>Closes emissary's copy (the command keeps its own), so EOF and EPIPE reach the other side.</summary>
    public void Dispose() => _slot.Dispose();
}
