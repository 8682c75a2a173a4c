using Emissary.Cli;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary.Webhook;

/// <summary>
/// emissary-webhook: the admission webhook server. Reached as <c>emissary webhook ...</c> (emissary
/// execs this binary, next to it, with the same arguments), or run directly as
/// <c>emissary-webhook webhook ...</c> (the image's entrypoint).
/// </summary>
internal static class WebhookProgram
{
    private static readonly Verb[] Verbs =
    [
        new("webhook", "webhook --tls-cert FILE --tls-key FILE [--listen ADDRESS:PORT]", "Serve the mutating admission webhook that wires emissary into pods", WebhookCli.Build),
    ];

    private static int Main(string[] args) => CommandLine.Main(args, Verbs);
}
