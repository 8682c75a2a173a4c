using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>The errno values Emissary handles by name (Linux x86-64/arm64 numbering).</summary>
internal enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EEXIST = 17,
    EXDEV = 18,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    EMFILE = 24,
    ETXTBSY = 26,
    ENOSPC = 28,
    EPIPE = 32,
    EINPROGRESS = 115,
    ECONNREFUSED = 111,
    ETIMEDOUT = 110,
    EROFS = 30,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ELOOP = 40,
    EWOULDBLOCK = EAGAIN,
}

internal static partial class Libc
{
    internal static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial IntPtr StrErrorRaw(int errnum);

    /// <summary>The C library's message for an errno ("No such file or directory").</summary>
    internal static string Describe(Errno errno) =>
        Marshal.PtrToStringUTF8(StrErrorRaw((int)errno)) ?? errno.ToString();
}
