namespace Emissary.Tools.PodSpec;

/// <summary>
/// One problem with one manifest, printed on its own line:
/// <c>[FILE: ]DOCUMENT: PATH: MESSAGE</c>, e.g.
/// <c>pod/build: spec.containers[2].waitForTermination[0]: unknown container "biuld" (did you mean "build"?)</c>.
/// The file is named unless the manifests came from stdin.
/// </summary>
internal sealed record ManifestError(string SourceName, string Document, string Path, string Message)
{
    public override string ToString() =>
        (SourceName == ManifestSet.StandardInput ? "" : SourceName + ": ") + Document + ": " + (Path.Length > 0 ? Path + ": " : "") + Message;
}
