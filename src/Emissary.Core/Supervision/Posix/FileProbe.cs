using Emissary.Interop;

namespace Emissary.Supervision.Posix;

internal static class FileProbe
{
    /// <summary>Classifies a path for <see cref="CommandResolver"/> with access(2), as the kernel would judge exec.</summary>
    public static FileKind Probe(string path)
    {
        if (Directory.Exists(path))
        {
            return FileKind.Directory;
        }
        if (!File.Exists(path))
        {
            return FileKind.Missing;
        }
        return Libc.Access(path, Libc.X_OK) == 0 ? FileKind.Executable : FileKind.NotExecutable;
    }
}
