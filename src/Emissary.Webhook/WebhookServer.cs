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
using Microsoft.AspNetCore.Server.Kestrel.Core;
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
/// are answered before it exits (up to --shutdown-timeout; each review ends by its own
/// --review-timeout anyway). What a connection and a review may cost: <see cref="ReviewLimits"/>.
/// </summary>
internal static class WebhookServer
{
    public const string NamespacePath = "/mutate";
    public const string AnnotationPath = "/mutate-annotated";

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
            LimitConnections(kestrel.Limits);
            kestrel.Listen(options.Listen, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificateSelector = (_, _) => certificates.Current(),
                // A connection that never finishes its handshake holds a socket and OpenSSL's state.
                HandshakeTimeout = HandshakeTimeout,
            }));
        });

        WebApplication app = builder.Build();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var reviews = new ReviewEndpoint(options.Rewrite, options.ReviewTimeout, loggerProvider.CreateLogger("emissary.webhook"));
        app.Run(context => context.Request.Path.Value switch
        {
            NamespacePath => reviews.Review(context, OptIn.Namespace),
            AnnotationPath => reviews.Review(context, OptIn.Annotation),
            "/healthz" => Text(context, StatusCodes.Status200OK, "ok"),
            "/readyz" => certificates.Loaded && !lifetime.ApplicationStopping.IsCancellationRequested
                ? Text(context, StatusCodes.Status200OK, "ok")
                : Text(context, StatusCodes.Status503ServiceUnavailable, "stopping"),
            _ => Text(context, StatusCodes.Status404NotFound, $"not found: POST {NamespacePath} or {AnnotationPath}, GET /healthz or /readyz"),
        });
        return app;
    }

    /// <summary>A TLS handshake takes milliseconds; the API server's own timeout is seconds.</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Kestrel's limits for a server whose only clients are API servers, set so that no number of
    /// connections, slow senders or non-readers can hold more memory than the pod's limit
    /// (<see cref="ReviewLimits"/>, docs/webhook.md "Limits").
    /// </summary>
    private static void LimitConnections(KestrelServerLimits limits)
    {
        limits.MaxConcurrentConnections = ReviewLimits.MaxConnections;
        limits.MaxConcurrentUpgradedConnections = 0;
        limits.MaxRequestBodySize = ReviewLimits.MaxReviewBytes;
        // What Kestrel reads from a connection before the handler takes it (default 1 MiB per
        // connection, so 1 GiB over 1,000 connections that pipeline bytes the handler is not reading).
        limits.MaxRequestBufferSize = 64 * 1024;
        limits.MaxResponseBufferSize = 64 * 1024;
        // The API server's headers are a few hundred bytes.
        limits.MaxRequestHeadersTotalSize = 16 * 1024;
        limits.MaxRequestHeaderCount = 32;
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
        // Above client-go's idle-connection timeout (90 s): the API server, not the webhook, closes an
        // idle connection, so a review is never sent on a connection the server is closing.
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(100);
        // Kestrel's rate (an average since the body began) with a shorter grace than its 5 s: a
        // sender slow from the start is cut after 2 s. It cannot cut one that sends all but the last
        // byte (the average stays high for hours), nor should a higher rate cut a small review
        // paused for a second; --review-timeout is what bounds every body and every answer.
        limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(2));
        limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(2));
        // HTTP/2 (offered by ALPN): few streams per connection (a busy API server opens more
        // connections, which the connection limit bounds), small flow-control windows (bytes a
        // client may send before the handler reads them), the default 4 KiB header table and 16 KiB frames.
        limits.Http2.MaxStreamsPerConnection = 16;
        limits.Http2.InitialConnectionWindowSize = 128 * 1024;
        limits.Http2.InitialStreamWindowSize = 96 * 1024;
        limits.Http2.HeaderTableSize = 4096;
        limits.Http2.MaxFrameSize = 16 * 1024;
        limits.Http2.MaxRequestHeaderFieldSize = 16 * 1024;
    }

    internal static Task BadRequest(HttpContext context, ILogger logger, string message, int status = StatusCodes.Status400BadRequest)
    {
        logger.LogWarning("Bad request from {Remote}: HTTP {Status}: {Problem}", context.Connection.RemoteIpAddress, status, message);
        return Text(context, status, message);
    }

    internal static Task Text(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text + "\n");
    }
}
