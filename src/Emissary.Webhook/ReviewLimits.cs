namespace Emissary.Webhook;

/// <summary>
/// What one review, and all reviews together, may cost the webhook: anyone who may create a pod
/// (or reach the port) chooses the input, and the replicas run in 128 MiB with failurePolicy Fail
/// for labelled namespaces, so an input that is too costly is refused at once with the limit and
/// the reason, not worked on. docs/webhook.md "Limits" and docs/threat-model.md "The admission webhook"
/// state each of these with the measurement behind it.
/// </summary>
internal static class ReviewLimits
{
    /// <summary>The API server's own limit on a request body (3 MiB): no pod it sends is larger.</summary>
    public const long MaxReviewBytes = 3 * 1024 * 1024;

    /// <summary>
    /// Containers of one pod (initContainers + containers + ephemeralContainers), counted on the
    /// parsed review before the pod is read for the rewriter. Wiring adds about 0.5 KB per wrapped
    /// container (its command prefix, four volume mounts, its record's emptyDir), and etcd stores at
    /// most 1.5 MiB per object: 1,000 containers of even a minimal 250 B each come to ~750 KB
    /// wired; at 2,000 the smallest containers would already pass 1.5 MiB. Kept at or above the
    /// rewriter's own limit, so that a pod the webhook reads is one the rewriter accepts.
    /// </summary>
    public const int MaxContainers = 1000;

    /// <summary>
    /// The JSON Patch of one answer. The API server applies it and stores the result in etcd (1.5
    /// MiB per object); the patch carries the rewritten container lists whole, so a larger patch
    /// means a pod that cannot be stored: refused with that reason, rather than sent and refused by
    /// etcd with "request is too large". Also bounds the answer's memory while it is computed.
    /// </summary>
    public const int MaxPatchBytes = 1536 * 1024;

    /// <summary>
    /// Bytes of review bodies and answers held at once, all connections together: received bodies
    /// (from their first byte until their review is decided) and answers not yet sent. A sender
    /// that dribbles (or a reader that does not read) holds its share only until --review-timeout;
    /// beyond this budget a review is refused with 503 instead of buffered. 16 MiB: five reviews
    /// of the 3 MiB maximum, or thousands of typical 5–50 KB pods.
    /// </summary>
    public const long MaxBytesInFlight = 16 * 1024 * 1024;

    /// <summary>
    /// Reviews decided at once (reading the pod, rewriting, diffing: all CPU, and the memory of the
    /// rewriter's node model, ~68 KB for a 5 KB pod). More than the cores gains no throughput
    /// and multiplies that memory; the others wait, within their deadline.
    /// </summary>
    public static readonly int ConcurrentDecisions = Math.Clamp(Environment.ProcessorCount, 1, 2);

    /// <summary>
    /// TLS connections at once. An idle TLS connection costs Kestrel and OpenSSL about 46 KB (1,000
    /// held measured: RSS 25 -> 71 MiB); the API servers keep a few per replica. Beyond this Kestrel
    /// closes new connections at once instead of growing.
    /// </summary>
    public const int MaxConnections = 1000;

    /// <summary>Default of --review-timeout: below the API server's default webhook timeout (10 s).</summary>
    public static readonly TimeSpan DefaultReviewTimeout = TimeSpan.FromSeconds(8);

    /// <summary>The most --review-timeout may be: the API server's own maximum timeoutSeconds (30).</summary>
    public static readonly TimeSpan MaxReviewTimeout = TimeSpan.FromSeconds(30);
}
