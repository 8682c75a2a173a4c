using Emissary.Interop;

namespace Emissary.Tekton;

/// <summary>
/// How Go words a syscall error (syscall.Errno.Error(), its Linux table): the C library's message
/// in lower case, and for a few errnos other words. Tekton's users read these in the
/// entrypoint's log (<c>cp error: open PATH: no such file or directory</c>) and grep for them.
/// </summary>
internal static class GoErrors
{
    public static string Text(Errno errno) => errno switch
    {
        Errno.ENOENT => "no such file or directory",
        Errno.EACCES => "permission denied",
        Errno.EPERM => "operation not permitted",
        Errno.EEXIST => "file exists",
        Errno.ENOTDIR => "not a directory",
        Errno.EISDIR => "is a directory",
        Errno.ELOOP => "too many levels of symbolic links",
        Errno.ENOSPC => "no space left on device",
        Errno.EROFS => "read-only file system",
        Errno.ETXTBSY => "text file busy",
        Errno.ENAMETOOLONG => "file name too long",
        Errno.EIO => "input/output error",
        Errno.ENXIO => "no such device or address",
        Errno.EINVAL => "invalid argument",
        Errno.EMFILE => "too many open files",
        _ => LowerFirst(Libc.Describe(errno)),
    };

    private static string LowerFirst(string text) => text.Length == 0 ? text : char.ToLowerInvariant(text[0]) + text[1..];
}
