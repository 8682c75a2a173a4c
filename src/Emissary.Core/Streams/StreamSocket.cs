using System.Text;
using Emissary.Control;
using Emissary.Files;
using Emissary.Interop;

namespace Emissary.Streams;

/// <summary>
/// The rendezvous of a stream (<c>run --stdout-to</c>, <c>run --stdin-from</c>): the producer P
/// listens on the unix socket <c>DIR/P/stdout</c>, in its own step directory; the consumer C
/// connects, and P hands C the read end of a pipe (SCM_RIGHTS) whose write end becomes its
/// command's fd 1. The kernel moves the bytes; the socket only decides who gets the pipe.
/// <para>
/// Anyone who can reach the control directory can connect, so a connection proves nothing: P
/// sends each one a fresh nonce, and the real consumer proves it is C's container by writing that
/// nonce into <c>DIR/C/stream-claim</c> — in the per-step layout only C's container can write
/// <c>DIR/C</c> — and then sending one byte; P reads the claim as an untrusted marker and hands
/// the pipe over only when it holds that connection's nonce.
/// </para>
/// <para>
/// Both ends reach the socket through a descriptor (<c>/proc/self/fd/N</c>): P binds in the step
/// directory it holds open, C connects to the inode it opened with O_PATH|O_NOFOLLOW and checked;
/// no link is followed, and a control directory of any length fits in sockaddr_un.
/// </para>
/// </summary>
internal static class StreamSocket
{
    /// <summary>The producer's listening socket, in its step directory.</summary>
    public const string FileName = "stdout";

    /// <summary>The consumer's claim, in its step directory: the nonce of the connection it made.</summary>
    public const string ClaimFile = "stream-claim";

    /// <summary>Bytes of a nonce on the wire and in the claim: 128 random bits as lowercase hex.</summary>
    public const int NonceLength = 32;

    /// <summary>The consumer's byte: "the nonce you sent me is in my claim file".</summary>
    public const byte Claimed = (byte)'c';

    /// <summary>The producer's byte that carries the pipe's read end.</summary>
    public const byte Handed = (byte)'p';

    // 0666: connect(2) needs write permission on the socket, and the consumer may be another uid
    // (through a read-only mount too: connecting writes nothing to the file system).
    private const uint Mode = 0x1B6;

    // Connections the kernel queues before the producer accepts them (it accepts a bounded number at once).
    private const int Backlog = 64;

    /// <summary>A fresh nonce: 128 bits of getrandom(2), as hex.</summary>
    public static byte[] NewNonce() => Encoding.ASCII.GetBytes(TempNames.RandomHex() + TempNames.RandomHex());

    /// <summary>
    /// Makes DIR/NAME/stdout afresh (a previous incarnation's is removed first) and listens on it,
    /// non-blocking. Bound through the step directory's descriptor, so it lands in the directory
    /// this step holds open, whatever DIR/NAME is now.
    /// </summary>
    public static SafeFd Listen(StepHandle handle)
    {
        int dir = handle.DirectoryFd;
        string path = handle.DisplayPath(FileName);
        if (Libc.UnlinkAt(dir, FileName, 0) != 0 && Libc.LastErrno != Errno.ENOENT)
        {
            throw new SystemCallException($"unlink {path}", Libc.LastErrno);
        }
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SystemCallException("socket(AF_UNIX)", Libc.LastErrno);
        }
        var socket = new SafeFd(fd);
        // Bound, opened up and listening under a temporary name, then renamed into place: a
        // consumer of another uid that found it between bind(2) and the chmod got EACCES (the
        // umask's mode) and gave up on the stream; now it never sees it before it can connect.
        string temp = $".{FileName}.tmp-{TempNames.RandomHex()}";
        try
        {
            if (Libc.BindUnix(fd, $"{ThroughDescriptor(dir)}/{temp}") != 0)
            {
                throw new SystemCallException($"bind {path}{WithoutProc(Libc.LastErrno)}", Libc.LastErrno);
            }
            // The umask may have narrowed the mode; the consumer may be another uid.
            if (Libc.FchmodAt(dir, temp, Mode, 0) != 0)
            {
                throw new SystemCallException($"chmod {path}", Libc.LastErrno);
            }
            if (Libc.Listen(fd, Backlog) != 0)
            {
                throw new SystemCallException($"listen {path}", Libc.LastErrno);
            }
            if (Libc.RenameAt(dir, temp, dir, FileName) != 0)
            {
                throw new SystemCallException($"rename into {path}", Libc.LastErrno);
            }
            return socket;
        }
        catch
        {
            Libc.UnlinkAt(dir, temp, 0);
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Removes DIR/NAME/stdout once nobody listens on it any more (a missing one is fine).</summary>
    public static void Remove(StepHandle handle) => Libc.UnlinkAt(handle.DirectoryFd, FileName, 0);

    /// <summary>
    /// The consumer's connection to <c>DIR/STEP/stdout</c>, as untrusted: the entry opened with
    /// O_PATH|O_NOFOLLOW through the step directory's descriptor (a link is refused, nothing is
    /// opened for reading, so a planted device or FIFO does nothing), checked on the descriptor — a
    /// socket owned by the owner of the step directory (or, when that is root — a kubelet volume —,
    /// by the owner of the step's lock, which its emissary made) — and connected through that very
    /// inode, non-blocking. Returns the connected socket, or null with no problem when there is
    /// nothing to connect to yet (no socket, nobody listening, the queue full: look again later),
    /// or a problem that refuses the stream.
    /// </summary>
    public static (SafeFd? Socket, string? Problem) Connect(ControlDirectory dir, string step)
    {
        using SafeFd? stepFd = dir.OpenStep(step);
        if (stepFd is null || Libc.StatOf(stepFd.Fd) is not { } directory)
        {
            return (null, null);
        }
        string path = dir.PathOf(step, FileName);
        int entry = Libc.OpenAtRetrying(stepFd.Fd, FileName, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (entry < 0)
        {
            Errno errno = Libc.LastErrno;
            return errno == Errno.ENOENT ? (null, null) : (null, $"cannot open {path}: {Libc.Describe(errno)}");
        }
        using var inode = new SafeFd(entry);
        if (Libc.StatOf(entry) is not { } st)
        {
            return (null, $"cannot stat {path}: {Libc.Describe(Libc.LastErrno)}");
        }
        if (Problem(stepFd.Fd, directory, st, FileType.Socket, path, step, "the step's stream socket") is { } problem)
        {
            return (null, problem);
        }
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            return (null, $"cannot make a socket to connect to {path}: {Libc.Describe(Libc.LastErrno)}");
        }
        var socket = new SafeFd(fd);
        if (Libc.ConnectUnix(fd, ThroughDescriptor(entry)) == 0)
        {
            return (socket, null);
        }
        Errno failure = Libc.LastErrno;
        socket.Dispose();
        // Nobody listening (a producer gone, or not yet made afresh) or its queue full: not yet.
        return failure is Errno.ECONNREFUSED or Errno.EAGAIN or Errno.EINTR ? (null, null)
            : (null, $"cannot connect to {path}: {Libc.Describe(failure)}{WithoutProc(failure)}");
    }

    /// <summary>The consumer's claim: <paramref name="nonce"/> written atomically into its own DIR/NAME/stream-claim.</summary>
    public static void WriteClaim(StepHandle handle, ReadOnlySpan<byte> nonce) =>
        AtomicFile.WriteAt(handle.DirectoryFd, ClaimFile, nonce);

    /// <summary>
    /// The producer's check of a connection's claim: <c>DIR/CONSUMER/stream-claim</c> read with the
    /// rules of every marker (the step directory and the file opened without links, a regular file
    /// owned as <see cref="Connect"/> says, at most a few bytes) must hold exactly
    /// <paramref name="nonce"/>. Null when it does; otherwise why not, in a few words.
    /// </summary>
    public static unsafe string? ClaimProblem(ControlDirectory dir, string consumer, ReadOnlySpan<byte> nonce)
    {
        using SafeFd? stepFd = dir.OpenStep(consumer);
        if (stepFd is null || Libc.StatOf(stepFd.Fd) is not { } directory)
        {
            return $"{dir.StepDirectory(consumer)} is missing";
        }
        string path = dir.PathOf(consumer, ClaimFile);
        using SafeFd? file = Descriptors.OpenKindAt(stepFd.Fd, ClaimFile, FileType.Regular, Libc.O_RDONLY);
        if (file is null || Libc.StatOf(file.Fd) is not { } st)
        {
            return $"{path} is missing or not a regular file";
        }
        if (Problem(stepFd.Fd, directory, st, FileType.Regular, path, consumer, "the step's claim") is { } problem)
        {
            return problem;
        }
        byte* buffer = stackalloc byte[NonceLength + 1];
        int length = 0;
        nint n;
        while (length <= NonceLength && (n = Libc.Read(file.Fd, buffer + length, (nuint)(NonceLength + 1 - length))) > 0)
        {
            length += (int)n;
        }
        return length == nonce.Length && FixedTimeEquals(new ReadOnlySpan<byte>(buffer, length), nonce) ? null
            : $"{path} holds another connection's nonce";
    }

    /// <summary>Whether the two are equal, in a time that does not depend on where they differ.</summary>
    private static bool FixedTimeEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int difference = a.Length ^ b.Length;
        for (int i = 0; i < a.Length && i < b.Length; i++)
        {
            difference |= a[i] ^ b[i];
        }
        return difference == 0;
    }

    /// <summary>
    /// What is wrong with <paramref name="st"/>, a file of another step that must be of kind
    /// <paramref name="expected"/> and made by that step: owned by its directory's owner, or, for a
    /// root-owned directory (a kubelet volume), by the owner of its lock. Null when nothing is.
    /// </summary>
    private static string? Problem(int stepFd, StatX directory, StatX st, FileType expected, string path, string step, string what)
    {
        if (st.Kind != expected)
        {
            return $"{path} is {Libc.Describe(st.Kind)}, not {what}: refusing it";
        }
        uint? lockOwner = directory.Uid == 0 ? Libc.StatAt(stepFd, ControlDirectory.LockFile)?.Uid : null;
        return st.Uid != directory.Uid && st.Uid != lockOwner
            ? $"{path} belongs to uid {st.Uid}, not to step '{step}' (uid {lockOwner ?? directory.Uid}): refusing it"
            : null;
    }

    /// <summary>The path that reaches what descriptor <paramref name="fd"/> names, whatever it is called now.</summary>
    private static string ThroughDescriptor(int fd) => $"/proc/self/fd/{fd}";

    /// <summary>What to add when a path through /proc/self/fd was not found: /proc is missing.</summary>
    private static string WithoutProc(Errno errno) =>
        errno == Errno.ENOENT && !Directory.Exists("/proc/self/fd") ? " (streams reach their socket through /proc/self/fd: mount /proc)" : "";
}

/// <summary>
/// A descriptor number reserved before the command's launch settings are made (a pipe end that
/// nothing uses), filled later with the stream's end by dup3(2): the launch settings and the
/// capture pump can name the descriptor before the other side of the stream has arrived.
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

    /// <summary>The reserved descriptor: what the child gets, or the capture pump writes to.</summary>
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
