namespace Emissary.Gates;

/// <summary>
/// What a <see cref="Gate.StreamFrom"/> gate asks of the consumer's side of a stream. The gate
/// carries only the producer's name; the pipe it brings in is owned by the stream (in Streams,
/// which waits through the gates and so cannot be known to them), and the waiter is given it.
/// </summary>
internal interface IIncomingStream
{
    /// <summary>The step whose stdout this stream carries.</summary>
    string Producer { get; }

    /// <summary>Whether the producer has handed the pipe over.</summary>
    bool Received { get; }

    /// <summary>Where the producer takes the consumer's claim (its socket), for messages.</summary>
    string Rendezvous { get; }

    /// <summary>
    /// Does what can be done now without blocking (connect, claim, take the pipe); returns why the
    /// stream is refused, or null.
    /// </summary>
    string? Advance();
}
