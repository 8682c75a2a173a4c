using Emissary.Cli;
using Emissary.Tools.Cli;
using Emissary.Tools.Kubectl;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary.Tools;

/// <summary>
/// emissary-tools: the developer verbs. Normally reached as `emissary rewrite ...` /
/// `emissary local ...` (emissary execs this binary with the same arguments), or run directly;
/// started under the name `kubectl-emissary` (a link or copy, as krew installs it), it is the kubectl plugin.
/// </summary>
internal static class ToolsProgram
{
    private static readonly Verb[] Verbs =
    [
        new("rewrite", "rewrite [FILE...] [-o FILE]", "Wire emissary into the pods of Kubernetes manifests (stdin or FILEs)", RewriteCli.Build),
        new("local", "local FILE [options]", "Run a pod's step graph as local processes, with a live view and a timeline", LocalCli.Build) { Supervises = true },
    ];

    private static int Main(string[] args) =>
        KubectlPlugin.StartedAsPlugin(Environment.GetCommandLineArgs().FirstOrDefault()) ? KubectlPlugin.Execute(args) : CommandLine.Main(args, Verbs);
}
