using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using Emissary.Foundation;
using Emissary.Tools.PodSpec;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Emissary.Webhook;

/// <summary>
/// POST /mutate and /mutate-annotated: one review from its first byte to its answer, within what
/// <see cref="ReviewLimits"/> allows. Each review has a deadline (--review-timeout, from the moment
/// its headers arrived) that, with the client going away, cancels the reading of its body, its
/// wait for a turn and its decision; a review cut off is answered 503 (the API server's
/// failurePolicy decides) or not at all when the client has gone, with one log line.
/// </summary>
internal sealed class ReviewEndpoint(RewriteSettings settings, TimeSpan timeout, ILogger logger)
{
    /// <summary>Bodies being received and answers being sent, all connections together.</summary>
    private readonly ByteBudget _bytes = new(ReviewLimits.MaxBytesInFlight);

    /// <summary>Turns to decide a review (the CPU- and memory-heavy part).</summary>
    private readonly SemaphoreSlim _turns = new(ReviewLimits.ConcurrentDecisions);

    public async Task Review(HttpContext context, OptIn optIn)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await WebhookServer.Text(context, StatusCodes.Status405MethodNotAllowed, "an AdmissionReview is POSTed");
            return;
        }
        long started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(timeout);

        ReceivedReview? received = await Receive(context, started, deadline.Token);
        if (received is null)
        {
            return; // answered (4xx, 503), or the connection closed
        }
        if (received.Review is not { ApiVersion: AdmissionReview.Version, Kind: AdmissionReview.ReviewKind, Request: { Uid: { Length: > 0 } uid } request })
        {
            received.Dispose();
            await WebhookServer.BadRequest(context, logger, $"not an {AdmissionReview.Version} {AdmissionReview.ReviewKind} with a request.uid");
            return;
        }
        string podName = request.Name ?? PodName(request); // read now: the pod's bytes go with the decision

        AdmissionDecision decision;
        try
        {
            // The decision owns the body from here: a review cut off is answered at its deadline,
            // while the decision (until the rewriter can be cancelled mid-way) ends on its own, and
            // gives its turn and the body back only then, so stray work cannot pile up.
            decision = await Decide(received, request, optIn, deadline.Token).WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            await CutOff(context, "Review " + uid, started);
            return;
        }
        await Answer(context, decision, uid, request, podName, started, deadline.Token);
    }

    /// <summary>The body parsed, or null when the request has been answered (4xx, 503) or dropped instead.</summary>
    private async Task<ReceivedReview?> Receive(HttpContext context, long started, CancellationToken cancellation)
    {
        try
        {
            return await ReceivedReview.Read(context, _bytes, cancellation);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $"line {line + 1}" : e.Message; // a syntax error, or a field of the wrong type
            await WebhookServer.BadRequest(context, logger, $"malformed AdmissionReview ({where}): a JSON admission.k8s.io/v1 AdmissionReview is expected");
        }
        catch (BadHttpRequestException e)
        {
            // Larger than MaxReviewBytes (413), sent too slowly (408), or a body cut short.
            await WebhookServer.BadRequest(context, logger, e.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => $"the review is larger than {ReviewLimits.MaxReviewBytes / (1024 * 1024)} MiB (the API server's own limit on a request)",
                StatusCodes.Status408RequestTimeout => "the review's body came slower than the minimum data rate",
                _ => $"cannot read the review: HTTP {e.StatusCode} (the body was cut short or badly framed)",
            }, e.StatusCode);
        }
        catch (BudgetExhaustedException e)
        {
            logger.LogWarning("Refused a review from {Remote}: HTTP 503: {Problem}", context.Connection.RemoteIpAddress, e.Message);
            // Its body is not read: the connection is closed once the answer is out, rather than
            // drained (which a dribbling sender would drag out).
            context.Response.Headers.Connection = "close";
            await Unavailable(context, e.Message);
            await context.Response.CompleteAsync();
            context.Abort();
        }
        catch (OperationCanceledException)
        {
            // The rest of the body never came within the deadline (or the client left): nothing to
            // answer on a connection whose request is half read, so it is closed.
            logger.LogWarning("A review's body from {Remote} was cut off after {Seconds:F1} s: {Problem}", context.Connection.RemoteIpAddress,
                Stopwatch.GetElapsedTime(started).TotalSeconds, context.RequestAborted.IsCancellationRequested ? "the client went away" : $"it did not arrive within --review-timeout ({timeout.TotalSeconds:0.###} s)");
            context.Abort();
        }
        return null;
    }

    /// <summary>The decision on the thread pool, one of <see cref="ReviewLimits.ConcurrentDecisions"/> at a time; disposes <paramref name="received"/> when it ends, however it ends.</summary>
    private Task<AdmissionDecision> Decide(ReceivedReview received, AdmissionRequest request, OptIn optIn, CancellationToken cancellation) => Task.Run(async () =>
    {
        try
        {
            await _turns.WaitAsync(cancellation);
            try
            {
                return PodAdmission.Decide(request, optIn, settings, cancellation);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug (or running out of memory) must cost one review, not the server: refuse it
                // (failurePolicy decides the rest) and say why.
                logger.LogError("Review {Uid} failed: {Error}: {Reason}", request.Uid, e.GetType().Name, ErrorText.Reason(e));
                return new AdmissionDecision(AdmissionOutcome.Refused, Allowed: false, Message: "emissary webhook: internal error: " + e.GetType().Name) { Code = 500 };
            }
            finally
            {
                _turns.Release();
            }
        }
        finally
        {
            received.Dispose();
        }
    }, CancellationToken.None);

    /// <summary>
    /// The AdmissionReview answer, with its Content-Length, handed to Kestrel whole (one TLS record,
    /// one send) and flushed within the deadline; its bytes count against the budget until Kestrel
    /// has passed them on, so answers that a client does not read cannot pile up.
    /// </summary>
    private async Task Answer(HttpContext context, AdmissionDecision decision, string uid, AdmissionRequest request, string podName, long started, CancellationToken cancellation)
    {
        var response = new AdmissionReview
        {
            ApiVersion = AdmissionReview.Version,
            Kind = AdmissionReview.ReviewKind,
            Response = new AdmissionResponse
            {
                Uid = uid,
                Allowed = decision.Allowed,
                Patch = decision.Patch,
                PatchType = decision.Patch is null ? null : "JSONPatch",
                Status = decision.Allowed ? null : new AdmissionStatus { Code = decision.Code, Message = decision.Message },
                Warnings = decision.Warnings,
            },
        };
        long held = WriteReview(context, response);
        if (held < 0)
        {
            string problem = $"answers of {ReviewLimits.MaxBytesInFlight / (1024 * 1024)} MiB are waiting to be sent or read";
            logger.LogWarning("Review {Uid}: HTTP 503: {Problem}", uid, problem);
            await Unavailable(context, problem);
            return;
        }
        try
        {
            await context.Response.BodyWriter.FlushAsync(cancellation);
        }
        catch (OperationCanceledException)
        {
            await CutOff(context, "The answer to review " + uid, started);
            context.Abort();
            return;
        }
        finally
        {
            _bytes.Give(held);
        }

        LogLevel level = decision.Outcome is AdmissionOutcome.Patched or AdmissionOutcome.Refused ? LogLevel.Information : LogLevel.Debug;
        if (logger.IsEnabled(level))
        {
            logger.Log(level, "Review {Uid} {Operation} pod {Namespace}/{Name}: {Outcome} in {Milliseconds:F2} ms{Refusal}",
                uid, request.Operation, request.Namespace, podName, decision.Outcome,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, decision.Message is null ? "" : ": " + decision.Message);
        }
    }

    /// <summary>Writes the answer (the bytes it holds, taken from the budget); -1 and nothing written when the budget is full.</summary>
    private long WriteReview(HttpContext context, AdmissionReview response)
    {
        Utf8JsonWriter writer = ScratchJson.Start();
        JsonSerializer.Serialize(writer, response, AdmissionJson.Default.AdmissionReview);
        ReadOnlySpan<byte> json = ScratchJson.Written(writer);
        if (!_bytes.TryTake(json.Length))
        {
            return -1;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        context.Response.BodyWriter.Write(json);
        return json.Length;
    }

    /// <summary>One line for a review that ran out of time or lost its client; a 503 when the client is still there and the response not started.</summary>
    private Task CutOff(HttpContext context, string what, long started)
    {
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (context.RequestAborted.IsCancellationRequested)
        {
            logger.LogWarning("{What} was dropped: the client went away after {Seconds:F1} s", what, seconds);
            return Task.CompletedTask;
        }
        string problem = $"the review took longer than --review-timeout ({timeout.TotalSeconds:0.###} s)";
        logger.LogWarning("{What} cut off after {Seconds:F1} s: {Problem}", what, seconds, problem);
        return context.Response.HasStarted ? Task.CompletedTask : Unavailable(context, problem);
    }

    private static Task Unavailable(HttpContext context, string problem)
    {
        context.Response.Headers.RetryAfter = "1";
        return WebhookServer.Text(context, StatusCodes.Status503ServiceUnavailable, "emissary webhook: " + problem);
    }

    /// <summary>A pod created by a controller has no name yet at admission: its generateName says whose it is.</summary>
    private static string PodName(AdmissionRequest request) =>
        request.Object is { ValueKind: JsonValueKind.Object } pod && pod.TryGetProperty("metadata", out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty("generateName", out JsonElement generateName) && generateName.ValueKind == JsonValueKind.String
            ? generateName.GetString() + "*"
            : "";

    /// <summary>
    /// A review's body, taken from the request pipe as it arrives (Kestrel's buffers are let go
    /// segment by segment) into one buffer whose bytes count against the budget, then parsed once
    /// into a document over that buffer: the review's fields, the pod the rewriter reads and the
    /// pod the JSON Patch is computed from are all that one parse.
    /// </summary>
    private sealed class ReceivedReview : IDisposable
    {
        /// <summary>Bodies up to this size (nearly every pod) come from the shared pool; larger ones are allocated, so that the pool does not keep megabytes after a burst of large pods.</summary>
        private const int PooledBodyBytes = 64 * 1024;

        private readonly BodyBuffer body;
        private readonly JsonDocument document;

        private ReceivedReview(BodyBuffer body, JsonDocument document, AdmissionReview? review)
        {
            this.body = body;
            this.document = document;
            Review = review;
        }

        public AdmissionReview? Review { get; }

        public static async Task<ReceivedReview> Read(HttpContext context, ByteBudget budget, CancellationToken cancellation)
        {
            var body = new BodyBuffer(budget);
            JsonDocument? document = null;
            try
            {
                // A declared length is taken whole at once: a full budget refuses before the first byte is read.
                body.Reserve(Math.Min(context.Request.ContentLength ?? 0, ReviewLimits.MaxReviewBytes));
                PipeReader reader = context.Request.BodyReader;
                while (true)
                {
                    ReadResult read = await reader.ReadAsync(cancellation);
                    foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                    {
                        body.Append(segment.Span);
                    }
                    reader.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
                document = AdmissionReview.ParseBody(body.Written);
                return new ReceivedReview(body, document, AdmissionReview.Read(document.RootElement));
            }
            catch
            {
                document?.Dispose();
                body.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            document.Dispose();
            body.Dispose();
        }

        /// <summary>The bytes received so far, in one array whose length is held in the budget.</summary>
        private sealed class BodyBuffer(ByteBudget budget) : IDisposable
        {
            private byte[] _array = [];
            private int _length;
            private long _budgeted;

            public ReadOnlyMemory<byte> Written => _array.AsMemory(0, _length);

            /// <summary>Room for <paramref name="capacity"/> bytes in all; throws <see cref="BudgetExhaustedException"/> when the budget has not that much left.</summary>
            public void Reserve(long capacity)
            {
                if (capacity <= _array.Length)
                {
                    return;
                }
                int size = (int)Math.Min(capacity, ReviewLimits.MaxReviewBytes);
                if (!budget.TryTake(size))
                {
                    throw new BudgetExhaustedException($"reviews of {budget.Capacity / (1024 * 1024)} MiB are being received or decided already");
                }
                // The pool may round a small size up; the budget counts what was asked for.
                byte[] larger = size <= PooledBodyBytes ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
                _array.AsSpan(0, _length).CopyTo(larger);
                Release();
                _array = larger;
                _budgeted = size;
            }

            public void Append(ReadOnlySpan<byte> bytes)
            {
                if (_length + (long)bytes.Length > ReviewLimits.MaxReviewBytes)
                {
                    // Kestrel's MaxRequestBodySize refuses first; this keeps the buffer's bound its own.
                    throw new BadHttpRequestException("request body too large", StatusCodes.Status413PayloadTooLarge);
                }
                if (_length + bytes.Length > _array.Length)
                {
                    // Doubling, up to the body limit (Kestrel refuses more with 413 before this is asked for it).
                    Reserve(Math.Max(_length + (long)bytes.Length, Math.Max(16 * 1024, 2L * _array.Length)));
                }
                bytes.CopyTo(_array.AsSpan(_length));
                _length += bytes.Length;
            }

            private void Release()
            {
                if (_array.Length > 0 && _array.Length <= PooledBodyBytes)
                {
                    ArrayPool<byte>.Shared.Return(_array);
                }
                budget.Give(_budgeted);
                _budgeted = 0;
                _array = [];
            }

            public void Dispose() => Release();
        }
    }
}
