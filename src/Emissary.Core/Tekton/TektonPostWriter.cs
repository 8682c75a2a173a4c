using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>The real <see cref="ITektonPostWriter"/> (Tekton's PostWriter plus exitCode and the termination message).</summary>
internal sealed class TektonPostWriter(TektonStepOptions options) : ITektonPostWriter
{
    public void Write(string file, string content) => AtomicFile.Write(file, content, createParents: true);

    public void AppendMessage(IReadOnlyList<TektonEntry> entries) =>
        TektonTerminationMessage.Append(options.TerminationPath, entries, options.CompressTerminationMessage);
}
