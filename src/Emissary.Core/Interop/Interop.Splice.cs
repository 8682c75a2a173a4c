using System.Runtime.InteropServices;

namespace Emissary.Interop;

internal static partial class Libc
{
    /// <summary>Hint to move pages instead of copying them (ignored by current kernels, harmless).</summary>
    internal const uint SPLICE_F_MOVE = 0x01;

    /// <summary>
    /// Do not block on the pipe ends of the operation. For tee(2) both ends are pipes, so the call
    /// never blocks; for splice(2) a non-pipe end (a file, a socket) still blocks unless it is O_NONBLOCK.
    /// </summary>
    internal const uint SPLICE_F_NONBLOCK = 0x02;

    /// <summary>
    /// splice(2): moves up to <paramref name="length"/> bytes between two descriptors, one of which
    /// must be a pipe, without copying them through user space. Returns 0 at end of input (the pipe
    /// is empty and has no writer left); EAGAIN with SPLICE_F_NONBLOCK when the input pipe is empty
    /// or the output pipe is full; EINVAL when an end does not support splicing (a tty, a file opened
    /// with O_APPEND) — callers then fall back to read/write.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
    internal static unsafe partial nint Splice(int fdIn, long* offsetIn, int fdOut, long* offsetOut, nuint length, uint flags);

    /// <summary>
    /// tee(2): copies up to <paramref name="length"/> bytes from one pipe into another without
    /// consuming them from the first. Returns 0 at end of input, like splice.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "tee", SetLastError = true)]
    internal static partial nint Tee(int fdIn, int fdOut, nuint length, uint flags);
}
