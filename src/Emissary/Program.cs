using Emissary.Cli;
using Emissary.Commands;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary;

/// <summary>The in-pod binary: init, run and the commandlets. rewrite and local live in emissary-tools.</summary>
internal static class Program
{
    private static readonly Verb[] Verbs =
    [
        new("init", "init DEST", "Copy this binary to DEST (mode 0555): for the pod's init container", InitCli.Build),
        new("run", "run [options] -- COMMAND [ARGS...]", "Run COMMAND as a supervised step: gates, signals, reaping, markers", RunCli.Build) { Supervises = true },
        new("signal", "signal NAME SIGNAL", "Send SIGNAL to step NAME's process group", ControlCli.Signal),
        new("start", "start NAME", "Open step NAME's --wait-start gate", ControlCli.Start),
        new("skip", "skip NAME", "Fail step NAME's --wait-start gate (recorded as skipped)", ControlCli.Skip),
        new("status", "status [--json]", "Show every step in the control directory", ControlCli.Status),
        new("debug", "debug continue|fail|rerun|pause|env NAME", "Resume, fail, rerun or pause a step; show its command", ControlCli.Debug),
        new("rewrite", "rewrite [FILE...] [-o FILE]", "Turn pod specs into pods that use Emissary (emissary-tools)", null) { Forward = ExternalTools.Exec },
        new("local", "local FILE [options]", "Run a pod's step graph as local processes, with a timeline (emissary-tools)", null) { Forward = ExternalTools.Exec },
        new("webhook", "webhook --tls-cert FILE --tls-key FILE [options]", "Serve the admission webhook that wires emissary into pods (emissary-webhook)", null) { Forward = ExternalTools.ExecWebhook },
    ];

    private static int Main(string[] args) => CommandLine.Main(args, Verbs);
}
