[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Emissary.TektonEntrypoint;

/// <summary>The entrypoint image's binary (/ko-app/entrypoint): Tekton's command line, Emissary's supervision.</summary>
internal static class Program
{
    private static int Main(string[] args) => Emissary.Tekton.EntrypointProgram.Main(args);
}
