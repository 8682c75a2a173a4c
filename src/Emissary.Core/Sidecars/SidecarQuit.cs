using Emissary.Net;
using Emissary.Logging;

namespace Emissary.Sidecars;

/// <summary>
/// Sidecars we do not control (injected Istio, Linkerd, Vault agents) are told to quit over HTTP
/// when the step ends, whatever its outcome (scuttle's approach). Never changes the step's exit code.
/// </summary>
internal static partial class SidecarQuit
{
    /// <summary>Named presets for <c>--quit</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> QuitPresets = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["istio"] = "http://127.0.0.1:15020/quitquitquit",
        ["linkerd"] = "http://127.0.0.1:4191/shutdown",
    };

    /// <summary>Named presets for <c>--wait-proxy</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> ReadyPresets = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["istio"] = "http://127.0.0.1:15021/healthz/ready",
        ["linkerd"] = "http://127.0.0.1:4191/ready",
    };

    public const int Attempts = 3;
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan BetweenAttempts = TimeSpan.FromMilliseconds(200);

    /// <summary>POSTs to each URL: up to 3 attempts of 1 s each; logs the outcome.</summary>
    public static void Notify(HttpTarget[] targets, ILogger logger)
    {
        foreach (HttpTarget target in targets)
        {
            string? failure = null;
            for (int attempt = 1; attempt <= Attempts; attempt++)
            {
                try
                {
                    int status = LoopbackHttp.Request(target, "POST", AttemptTimeout);
                    if (status is >= 200 and < 300)
                    {
                        Log.Quit(logger, target.Url, status);
                        failure = null;
                        break;
                    }
                    failure = $"HTTP {status}";
                }
                catch (IOException e)
                {
                    failure = e.Message;
                }
                if (attempt < Attempts)
                {
                    Thread.Sleep(BetweenAttempts);
                }
            }
            if (failure is not null)
            {
                Log.QuitFailed(logger, target.Url, Attempts, failure);
            }
        }
    }

    private static class Log
    {
        public static void Quit(ILogger logger, string url, int status)
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                logger.Write(LogLevel.Information, $"asked {url} to quit: HTTP {status}");
            }
        }

        public static void QuitFailed(ILogger logger, string url, int attempts, string failure)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"could not ask {url} to quit after {attempts} attempts: {failure}");
            }
        }
    }
}
