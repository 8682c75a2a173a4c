using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Tools.PodSpec;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Emissary.Webhook;

/// <summary>
/// The HTTPS server: Kestrel (ASP.NET Core's slim builder, NativeAOT-compatible) with the
/// certificate from <see cref="CertificateFiles"/>, the two review paths, and the probes. On
/// SIGTERM the host stops accepting connections, /readyz turns 503, and reviews already received
/// are answered before it exits (up to --shutdown-timeout).
/// </summary>
internal static class WebhookServer
{
    public const string NamespacePath = "/mutate";
    public const string AnnotationPath = "/mutate-annotated";

    /// <summary>The API server's own limit on a request body (3 MiB): no real pod is larger.</summary>
    public const long MaxReviewBytes = 3 * 1024 * 1024;

    public static int Run(WebhookOptions options)
    {
        ILoggerProvider loggerProvider = options.LogFormat == LogFormat.Json
            ? new StructuredJsonLoggerProvider(options.LogLevel)
            : new StderrTextLoggerProvider(options.LogLevel);
        ILogger logger = loggerProvider.CreateLogger("emissary.webhook");
        var certificates = new CertificateFiles(options.CertificateFile, options.KeyFile, logger, TimeProvider.System);
        try
        {
            certificates.LoadInitial();
        }
        catch (CertificateLoadException e)
        {
            throw new UsageException("webhook: " + e.Message);
        }

        WebApplication app = Build(options, certificates, loggerProvider);
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(() => logger.LogInformation("Stopping: no new connections, finishing the reviews in flight"));
        try
        {
            app.Start();
        }
        catch (IOException e)
        {
            throw new UsageException($"webhook: cannot listen on {options.Listen}: {ErrorText.Reason(e.InnerException ?? e)}");
        }
        logger.LogInformation("Serving admission reviews on https://{Listen}{Path} and {AnnotationPath} (rewrite image {Image})",
            options.Listen, NamespacePath, AnnotationPath, options.Rewrite.Image);
        app.WaitForShutdown();
        logger.LogInformation("Stopped");
        return ExitCodes.Success;
    }

    internal static WebApplication Build(WebhookOptions options, CertificateFiles certificates, ILoggerProvider loggerProvider)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(loggerProvider);
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // The framework's per-request and start-up lines would drown the reviews' own lines.
        builder.Logging.AddFilter("Microsoft", level => level >= LogLevel.Warning && level >= options.LogLevel);
        // Hosting writes only per-request lines (request starting/finished, below Warning); while its
        // logger counts as enabled it also starts an Activity and a log scope for every request.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(c => c.SuppressStatusMessages = true);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxReviewBytes;
            kestrel.Listen(options.Listen, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificateSelector = (_, _) => certificates.Current(),
            }));
        });

        WebApplication app = builder.Build();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        ILogger reviews = loggerProvider.CreateLogger("emissary.webhook");
        app.Run(context => context.Request.Path.Value switch
        {
            NamespacePath => Review(context, OptIn.Namespace, options.Rewrite, reviews),
            AnnotationPath => Review(context, OptIn.Annotation, options.Rewrite, reviews),
            "/healthz" => Text(context, StatusCodes.Status200OK, "ok"),
            "/readyz" => certificates.Loaded && !lifetime.ApplicationStopping.IsCancellationRequested
                ? Text(context, StatusCodes.Status200OK, "ok")
                : Text(context, StatusCodes.Status503ServiceUnavailable, "stopping"),
            _ => Text(context, StatusCodes.Status404NotFound, $"not found: POST {NamespacePath} or {AnnotationPath}, GET /healthz or /readyz"),
        });
        return app;
    }

    private static async Task Review(HttpContext context, OptIn optIn, RewriteSettings settings, ILogger logger)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await Text(context, StatusCodes.Status405MethodNotAllowed, "an AdmissionReview is POSTed");
            return;
        }
        long started = Stopwatch.GetTimestamp();
        using ReceivedReview? received = await Receive(context, logger);
        if (received is not null)
        {
            await Answer(context, received, optIn, settings, logger, started);
        }
    }

    /// <summary>The body parsed, or null when a 4xx has been answered instead.</summary>
    private static async Task<ReceivedReview?> Receive(HttpContext context, ILogger logger)
    {
        try
        {
            return await ReceivedReview.Read(context);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $"line {line + 1}" : e.Message; // a syntax error, or a field of the wrong type
            await BadRequest(context, logger, $"malformed AdmissionReview ({where}): a JSON admission.k8s.io/v1 AdmissionReview is expected");
            return null;
        }
        catch (BadHttpRequestException e)
        {
            // Larger than MaxReviewBytes (413), or a body cut short.
            await BadRequest(context, logger, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"the review is larger than {MaxReviewBytes / (1024 * 1024)} MiB (the API server's own limit on a request)"
                : $"cannot read the review: HTTP {e.StatusCode} (the body was cut short or badly framed)", e.StatusCode);
            return null;
        }
    }

    /// <summary>The answer to a parsed review, written synchronously (but for a refusal of the review itself): the pod is an element of <paramref name="received"/>'s document, which lives until the answer is written and logged.</summary>
    private static Task Answer(HttpContext context, ReceivedReview received, OptIn optIn, RewriteSettings settings, ILogger logger, long started)
    {
        if (received.Review is not { ApiVersion: AdmissionReview.Version, Kind: AdmissionReview.ReviewKind, Request: { Uid: { Length: > 0 } uid } request })
        {
            return BadRequest(context, logger, $"not an {AdmissionReview.Version} {AdmissionReview.ReviewKind} with a request.uid");
        }

        AdmissionDecision decision;
        try
        {
            decision = PodAdmission.Decide(request, optIn, settings);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug must cost one review, not the server: refuse it (failurePolicy decides the rest) and say why.
            logger.LogError("Review {Uid} failed: {Error}: {Reason}", uid, e.GetType().Name, ErrorText.Reason(e));
            decision = new AdmissionDecision(AdmissionOutcome.Refused, Allowed: false, Message: "emissary webhook: internal error: " + e.GetType().Name) { Code = 500 };
        }

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
        WriteReview(context, response);

        LogLevel level = decision.Outcome is AdmissionOutcome.Patched or AdmissionOutcome.Refused ? LogLevel.Information : LogLevel.Debug;
        if (logger.IsEnabled(level))
        {
            logger.Log(level, "Review {Uid} {Operation} pod {Namespace}/{Name}: {Outcome} in {Milliseconds:F2} ms{Refusal}",
                uid, request.Operation, request.Namespace, request.Name ?? PodName(request), decision.Outcome,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds, decision.Message is null ? "" : ": " + decision.Message);
        }
        return Task.CompletedTask; // Kestrel sends the written answer when the request ends
    }

    /// <summary>
    /// A review's body, whole in a pooled buffer (Kestrel enforces <see cref="MaxReviewBytes"/> while
    /// it is read), parsed once into a document over that buffer: the review's fields, the pod the
    /// rewriter reads and the pod the JSON Patch is computed from are all that one parse.
    /// </summary>
    private sealed class ReceivedReview : IDisposable
    {
        private readonly byte[] body;
        private readonly JsonDocument document;

        private ReceivedReview(byte[] body, JsonDocument document, AdmissionReview? review)
        {
            this.body = body;
            this.document = document;
            Review = review;
        }

        public AdmissionReview? Review { get; }

        public static async Task<ReceivedReview> Read(HttpContext context)
        {
            PipeReader reader = context.Request.BodyReader;
            while (true)
            {
                ReadResult read = await reader.ReadAsync(context.RequestAborted);
                if (!read.IsCompleted)
                {
                    reader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // all seen, none consumed: wait for the rest
                    continue;
                }
                int length = checked((int)read.Buffer.Length);
                byte[] body = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                read.Buffer.CopyTo(body);
                reader.AdvanceTo(read.Buffer.End);
                JsonDocument? document = null;
                try
                {
                    document = JsonDocument.Parse(body.AsMemory(0, length), new JsonDocumentOptions { MaxDepth = 256 });
                    return new ReceivedReview(body, document, AdmissionReview.Read(document.RootElement));
                }
                catch
                {
                    document?.Dispose();
                    ArrayPool<byte>.Shared.Return(body);
                    throw;
                }
            }
        }

        public void Dispose()
        {
            document.Dispose();
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>
    /// The answer with its Content-Length, handed to Kestrel whole: it goes out with the headers in
    /// one TLS record and one send, where a streamed (chunked) body took a second for its last chunk.
    /// </summary>
    private static void WriteReview(HttpContext context, AdmissionReview response)
    {
        Utf8JsonWriter writer = ScratchJson.Start();
        JsonSerializer.Serialize(writer, response, AdmissionJson.Default.AdmissionReview);
        ReadOnlySpan<byte> json = ScratchJson.Written(writer);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        context.Response.BodyWriter.Write(json);
    }

    /// <summary>A pod created by a controller has no name yet at admission: its generateName says whose it is.</summary>
    private static string PodName(AdmissionRequest request) =>
        request.Object is { ValueKind: JsonValueKind.Object } pod && pod.TryGetProperty("metadata", out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty("generateName", out JsonElement generateName) && generateName.ValueKind == JsonValueKind.String
            ? generateName.GetString() + "*"
            : "";

    private static Task BadRequest(HttpContext context, ILogger logger, string message, int status = StatusCodes.Status400BadRequest)
    {
        logger.LogWarning("Bad request from {Remote}: HTTP {Status}: {Problem}", context.Connection.RemoteIpAddress, status, message);
        return Text(context, status, message);
    }

    private static Task Text(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text + "\n");
    }
}
