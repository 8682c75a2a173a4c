using Emissary.Cli;
using Emissary.Tools.Cli;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary.Tools;

/// <summary>
/// emissary-tools: the developer verbs. Normally reached as `emissary rewrite ...` /
/// `emissary local ...` (emissary execs this binary with the same arguments), or run directly.
/// </summary>
internal static class ToolsProgram
{
    private static readonly Verb[] Verbs =
    [
        new("rewrite", "rewrite [FILE...] [-o FILE]", "Wire emissary into the pods of Kubernetes manifests (stdin or FILEs)", RewriteCli.Build),
        new("local", "local FILE [options]", "Run a pod's step graph as local processes, with a live view and a timeline", LocalCli.Build) { Supervises = true },
    ];

    private static int Main(string[] args) => CommandLine.Main(args, Verbs);
}
