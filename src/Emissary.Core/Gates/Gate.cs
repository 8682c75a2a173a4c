using Emissary.Net;

namespace Emissary.Gates;

/// <summary>A condition that must hold before the command starts. All gates of a step must open.</summary>
internal abstract record Gate
{
    /// <summary><c>--after NAME</c>: step NAME finished successfully (or failed with --on-error continue).</summary>
    public sealed record AfterStep(string Step) : Gate
    {
        public override string ToString() => $"step '{Step}'";
    }

    /// <summary><c>--wait-file PATH</c>: PATH exists (and, with --wait-content, is not empty); PATH.err means upstream failed.</summary>
    public sealed record FileExists(string Path, bool NonEmpty) : Gate
    {
        public override string ToString() => NonEmpty ? $"non-empty file {Path}" : $"file {Path}";
    }

    /// <summary><c>--wait-fifo PATH</c>: something writes to the FIFO.</summary>
    public sealed record Fifo(string Path) : Gate
    {
        public override string ToString() => $"a write to FIFO {Path}";
    }

    /// <summary><c>--wait-http URL</c>: a GET answers 2xx (an injected proxy's readiness endpoint).</summary>
    public sealed record HttpReady(HttpTarget Target) : Gate
    {
        public override string ToString() => $"{Target.Url} to answer 2xx";
    }

    /// <summary><c>--wait-tcp HOST:PORT</c>: a TCP connection succeeds.</summary>
    public sealed record TcpReady(NetEndpoint Endpoint) : Gate
    {
        public override string ToString() => $"TCP {Endpoint.Display} to accept connections";
    }

    /// <summary>
    /// <c>--stdin-from NAME</c>: step NAME has handed its stream over to this step (which is what
    /// lets the producer start) and has started its command, so a writer holds the pipe and the
    /// consumer's command cannot read a premature EOF. The gate names the producer only: the
    /// stream that connects, claims and receives the pipe's read end is the waiter's
    /// <see cref="IIncomingStream"/>, which owns that descriptor.
    /// </summary>
    public sealed record StreamFrom(string Step) : Gate
    {
        public override string ToString() => $"step '{Step}' to start streaming";
    }

    /// <summary><c>--wait-start</c>: `emissary start NAME` (or `skip`).</summary>
    public sealed record ManualStart(string Step) : Gate
    {
        public override string ToString() => $"'emissary start {Step}'";
    }
}

/// <summary>How waiting for the gates ended.</summary>
internal abstract record GateOutcome
{
    /// <summary>Every gate opened; <paramref name="UpstreamFailures"/> lists failures let through by --run-on-upstream-failure.</summary>
    public sealed record Open(string[] UpstreamFailures) : GateOutcome;

    /// <summary>An upstream step failed, was skipped, or died: this step must not run.</summary>
    public sealed record UpstreamFailed(string Message) : GateOutcome;

    /// <summary>`emissary skip NAME` was used on a step held by --wait-start.</summary>
    public sealed record SkippedByRequest : GateOutcome;

    /// <summary><c>--wait-timeout</c> passed with gates still closed.</summary>
    public sealed record TimedOut(string Pending) : GateOutcome;

    /// <summary>A terminating signal (pod deletion) arrived while waiting.</summary>
    public sealed record Interrupted(int Signal) : GateOutcome;
}

internal interface IGateWaiter
{
    GateOutcome Wait(IReadOnlyList<Gate> gates, TimeSpan? timeout, bool upstreamFailureOpens);
}
