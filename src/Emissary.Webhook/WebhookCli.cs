using System.Net;
using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Logging;
using Emissary.Tools.Cli;
using Emissary.Tools.PodSpec;
using Microsoft.Extensions.Logging;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Emissary.Webhook;

/// <summary>What <c>emissary webhook</c> was asked to do.</summary>
internal sealed record WebhookOptions
{
    public required string CertificateFile { get; init; }
    public required string KeyFile { get; init; }
    public required IPEndPoint Listen { get; init; }
    public required RewriteSettings Rewrite { get; init; }
    public TimeSpan ShutdownTimeout { get; init; } = WebhookCli.DefaultShutdownTimeout;
    public TimeSpan ReviewTimeout { get; init; } = ReviewLimits.DefaultReviewTimeout;
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public LogFormat LogFormat { get; init; } = LogFormat.Json;
}

/// <summary>The options of <c>emissary webhook</c> (in emissary-webhook).</summary>
internal static class WebhookCli
{
    public const string DefaultListen = "0.0.0.0:8443";

    /// <summary>Below the pod's default terminationGracePeriodSeconds (30 s), so the kubelet never has to kill a draining replica.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(20);

    private static readonly CliOption TlsCert = CliOption.Value("--tls-cert", "FILE", "PEM certificate (chain) to serve; re-read when it changes (cert-manager's tls.crt)");
    private static readonly CliOption TlsKey = CliOption.Value("--tls-key", "FILE", "PEM private key of --tls-cert (tls.key)");
    private static readonly CliOption Listen = CliOption.Value("--listen", "ADDRESS:PORT", $"Where to serve HTTPS (default {DefaultListen}; [::]:PORT for IPv6)");
    private static readonly CliOption Image = CliOption.Value("--image", "IMAGE", $"The Emissary image, of the emissary-init container or the image volume, as for rewrite (default {RewriteSettings.DefaultImage})");
    private static readonly CliOption Entrypoints = CliOption.Value("--entrypoints", "FILE", "Images' entrypoints, for containers without a command (as for rewrite)");
    private static readonly CliOption NativeSidecars = CliOption.Flag("--native-sidecars", "Run sidecars as native sidecars unless a pod's emissary.dev/native-sidecars says otherwise (as for rewrite)");
    private static readonly CliOption ReviewTimeout = CliOption.Value("--review-timeout", "DURATION",
        $"Each review's deadline, from its headers to its answer: keep it below the webhook's timeoutSeconds (default {(int)ReviewLimits.DefaultReviewTimeout.TotalSeconds}s, below the API server's default 10s; at most {(int)ReviewLimits.MaxReviewTimeout.TotalSeconds}s)");
    private static readonly CliOption ShutdownTimeout = CliOption.Value("--shutdown-timeout", "DURATION", $"On SIGTERM: how long in-flight reviews may take to finish (default {(int)DefaultShutdownTimeout.TotalSeconds}s)");

    public static CliCommand Build() => new("webhook",
        "Serve the Kubernetes mutating admission webhook: AdmissionReviews for Pods on POST /mutate (namespace opt-in) and POST /mutate-annotated (pod annotation opt-in), answered with the JSON Patch of `emissary rewrite`; /healthz and /readyz. Logs JSON lines on stderr (--log-format text for text).",
        "webhook --tls-cert FILE --tls-key FILE [--listen ADDRESS:PORT] [options]")
    {
        Options = { TlsCert, TlsKey, Listen, Image, ToolOptions.Delivery, ToolOptions.ImagePullPolicy, Entrypoints, NativeSidecars, ReviewTimeout, ShutdownTimeout },
        Action = parsed => WebhookServer.Run(Bind(new OptionValues(parsed, Environment.GetEnvironmentVariable))),
    };

    internal static WebhookOptions Bind(OptionValues values)
    {
        string image = values.String(Image) ?? RewriteSettings.DefaultImage;
        ToolOptions.RequireImage(image);
        return new WebhookOptions
        {
            CertificateFile = values.String(TlsCert) ?? throw new UsageException("webhook: --tls-cert FILE is required"),
            KeyFile = values.String(TlsKey) ?? throw new UsageException("webhook: --tls-key FILE is required"),
            Listen = ParseEndPoint(values.String(Listen) ?? DefaultListen),
            Rewrite = new RewriteSettings
            {
                Image = image,
                // Not given: init, unless the pod's emissary.dev/delivery says (a pod the webhook
                // sees was never wired: a wired one is let through before it is rewritten).
                Delivery = ToolOptions.DeliveryOf(values),
                ImagePullPolicy = ToolOptions.ImagePullPolicyOf(values),
                Entrypoints = ToolOptions.LoadEntrypoints(values.String(Entrypoints)),
                NativeSidecars = values.Flag(NativeSidecars),
            },
            ShutdownTimeout = values.Duration(ShutdownTimeout) ?? DefaultShutdownTimeout,
            ReviewTimeout = ReviewTimeoutOf(values.Duration(ReviewTimeout)),
            // A server's log is read by a collector: JSON and info unless asked otherwise.
            LogLevel = values.String(OptionValues.LogLevelOption) is null ? LogLevel.Information : (LogLevel)(int)values.LogLevel(),
            LogFormat = values.String(OptionValues.LogFormatOption) is null ? LogFormat.Json : values.LogFormat(),
        };
    }

    private static TimeSpan ReviewTimeoutOf(TimeSpan? value) => value switch
    {
        null => ReviewLimits.DefaultReviewTimeout,
        { } t when t > TimeSpan.Zero && t <= ReviewLimits.MaxReviewTimeout => t,
        { } t => throw new UsageException($"--review-timeout: {Duration.Format(t)} is not between 0s and {(int)ReviewLimits.MaxReviewTimeout.TotalSeconds}s (the API server waits at most 30s for a webhook)"),
    };

    /// <summary>"0.0.0.0:8443", "127.0.0.1:9443", "[::]:8443", ":8443" (every IPv4 address).</summary>
    internal static IPEndPoint ParseEndPoint(string text)
    {
        string candidate = text.StartsWith(':') ? "0.0.0.0" + text : text;
        if (IPEndPoint.TryParse(candidate, out IPEndPoint? endPoint) && endPoint.Port > 0)
        {
            return endPoint;
        }
        throw new UsageException($"--listen: '{text}' is not ADDRESS:PORT (an IP address and a port from 1 to 65535, e.g. 0.0.0.0:8443 or [::]:8443)");
    }
}
