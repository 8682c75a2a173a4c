using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>The real <see cref="ITektonPostWriter"/> (Tekton's PostWriter plus exitCode and the termination message).</summary>
internal sealed class TektonPostWriter(TektonStepOptions options) : ITektonPostWriter
{
    /// <summary>The post file or POST.err, empty, creating its directory.</summary>
    public void WritePostFile(bool failed)
    {
        if (options.PostFile.Length == 0)
        {
            return;
        }
        AtomicFile.Write(failed ? options.PostFile + ".err" : options.PostFile, "", createParents: true);
    }

    public void WriteExitCode(string code) =>
        AtomicFile.Write(Path.Combine(options.StepMetadataDir, "exitCode"), code, createParents: true);

    public void AppendMessage(IReadOnlyList<TektonEntry> entries) =>
        TektonTerminationMessage.Append(options.TerminationPath, entries, options.CompressTerminationMessage);
}
