using System.Text;

namespace Emissary.Control;

/// <summary>
/// Markers are written to a temp file in the same directory and renamed into place, so a reader
/// (another container's emissary, a waiting step) never sees half a file (ARCHITECTURE.md §5).
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, string contents, UnixFileMode mode = DefaultMode) =>
        Write(path, Encoding.UTF8.GetBytes(contents), mode);

    /// <param name="flushToDisk">fsync before the rename: for files that must survive a machine crash, not for markers.</param>
    public static void Write(string path, ReadOnlySpan<byte> contents, UnixFileMode mode = DefaultMode, bool flushToDisk = false)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{Environment.ProcessId}");
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk);
            }
            // The create mode is filtered by the umask; markers must be readable by every uid of the pod.
            File.SetUnixFileMode(temp, mode);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            throw;
        }
    }

    public const UnixFileMode DefaultMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
}
