using Emissary.Interop;

namespace Emissary.Supervision.Posix;

internal static class FileProbe
{
    /// <summary>
    /// Classifies a path for <see cref="CommandResolver"/> as the kernel would judge exec: one
    /// statx(2) following links (a dangling link is missing, as execve says ENOENT), then access(2)
    /// for X_OK. Two calls for the command found, one for each PATH entry that lacks it.
    /// </summary>
    public static FileKind Probe(string path) => Libc.KindFollowing(path) switch
    {
        null => FileKind.Missing,
        FileType.Directory => FileKind.Directory,
        _ => Libc.Access(path, Libc.X_OK) == 0 ? FileKind.Executable : FileKind.NotExecutable,
    };
}
