using Emissary.Control;
using Emissary.Events;
using Emissary.Gates;
using Emissary.Interop;

namespace Emissary.Streams;

/// <summary>
/// The consumer's side of <c>run --stdin-from PRODUCER</c>: connects to the producer's socket
/// (<see cref="StreamSocket"/>), answers its nonce with a claim written into this step's own
/// directory, and receives the pipe's read end into <see cref="Stdin"/>, a descriptor reserved up
/// front, which is the command's fd 0. Nothing here blocks: the connection is non-blocking and
/// watched in the event loop the gates wait in, and <see cref="Advance"/> (called when the waiter
/// evaluates the step's <see cref="Gate.StreamFrom"/> gate) does what can be done now. The gate
/// names only the producer; this object owns the descriptor, and the waiter is given it as the
/// step's <see cref="IIncomingStream"/> (Gates cannot know Streams, which waits through them).
/// </summary>
internal sealed class StreamConsumer : IIncomingStream, IDisposable
{
    private readonly ControlDirectory _dir;
    private readonly string _producer;
    private readonly StepHandle _own;
    private readonly IEventLoop _loop;
    private readonly ReservedFd _stdin = new(readEnd: true);
    private SafeFd? _connection;
    private IDisposable? _watch;
    private bool _claimed;
    private string? _problem;

    public StreamConsumer(ControlDirectory dir, string producer, StepHandle own, IEventLoop loop)
    {
        _dir = dir;
        _producer = producer;
        _own = own;
        _loop = loop;
    }

    /// <summary>The step whose stdout this stream carries.</summary>
    public string Producer => _producer;

    /// <summary>The producer's socket, where this step claims the stream.</summary>
    public string Rendezvous => _dir.PathOf(_producer, StreamSocket.FileName);

    /// <summary>The descriptor the command reads as its stdin; the pipe's read end once <see cref="Received"/>.</summary>
    public ReservedFd Stdin => _stdin;

    /// <summary>Whether the producer has handed the pipe over.</summary>
    public bool Received => _stdin.Filled;

    /// <summary>
    /// Does what can be done without waiting: connects when the producer's socket is there and
    /// there is no connection, then handles what the producer has sent. Returns why the stream is
    /// refused (a link or a file of another uid planted as the socket, a claim the producer
    /// turned down, something else than a pipe handed over), or null.
    /// </summary>
    public string? Advance()
    {
        if (_problem is null && !Received && _connection is null)
        {
            (SafeFd? socket, string? problem) = StreamSocket.Connect(_dir, _producer);
            _problem = problem;
            if (socket is not null)
            {
                _connection = socket;
                _watch = _loop.Watch(socket.Fd, Libc.EPOLLIN, _ =>
                {
                    Handle();
                    _loop.Post(SupervisorEvent.Changed);
                });
            }
        }
        Handle();
        return _problem;
    }

    /// <summary>
    /// Reads what the producer sent, without blocking: its nonce (answered with the claim and one
    /// byte), then the pipe. A connection closed before the nonce came (the producer gave up, died,
    /// or dropped a connection that took too long) is let go: the next look connects again. One
    /// closed after the claim was turned down, or anything else than a pipe, refuses the stream.
    /// </summary>
    private unsafe void Handle()
    {
        if (_connection is not { } connection)
        {
            return;
        }
        if (!_claimed)
        {
            byte* nonce = stackalloc byte[StreamSocket.NonceLength];
            nint n = Libc.Recv(connection.Fd, nonce, StreamSocket.NonceLength, Libc.MSG_DONTWAIT);
            if (n < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
            {
                return;
            }
            if (n != StreamSocket.NonceLength)
            {
                Disconnect();
                return;
            }
            StreamSocket.WriteClaim(_own, new ReadOnlySpan<byte>(nonce, StreamSocket.NonceLength));
            byte claimed = StreamSocket.Claimed;
            if (Libc.Send(connection.Fd, &claimed, 1, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL) != 1)
            {
                Disconnect();
                return;
            }
            _claimed = true;
        }
        nint got = Libc.ReceiveDescriptor(connection.Fd, out byte tag, out int fd);
        if (got < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
        {
            return;
        }
        string path = Rendezvous;
        if (got != 1 || tag != StreamSocket.Handed || fd < 0)
        {
            if (fd >= 0)
            {
                Libc.Close(fd);
            }
            _problem = $"step '{_producer}' closed the connection to {path} after this step's claim without handing the stream over (it gave up or ended, or it is not run with --stdout-to {_own.Name})";
        }
        else if (Libc.KindOf(fd) is not FileType.Fifo)
        {
            Libc.Close(fd);
            _problem = $"step '{_producer}' handed over something else than a pipe through {path}: refusing it";
        }
        else
        {
            _stdin.Fill(new SafeFd(fd));
        }
        Disconnect();
    }

    private void Disconnect()
    {
        _watch?.Dispose();
        _watch = null;
        _connection?.Dispose();
        _connection = null;
        _claimed = false;
    }

    public void Dispose()
    {
        Disconnect();
        _stdin.Dispose();
    }
}
