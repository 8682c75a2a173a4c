using Emissary.Interop;

namespace Emissary.Foundation;

/// <summary>
/// Readable reasons for I/O failures. The static build uses resource keys instead of messages
/// (UseSystemResourceKeys, to stay small), so exception messages are never shown as they are.
/// </summary>
internal static class ErrorText
{
    public static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "path too long",
        SystemCallException s => s.Message,
        // On Unix, IOException.HResult carries the raw errno.
        IOException { HResult: > 0 and < 4096 } io => Libc.Describe((Errno)io.HResult).ToLowerInvariant(),
        _ => e.GetType().Name,
    };
}
