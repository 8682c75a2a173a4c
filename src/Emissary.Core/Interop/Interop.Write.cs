using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>write(2), and the loop every blocking writer needs around it.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static unsafe partial nint Write(int fd, void* buffer, nuint count);

    /// <summary>
    /// Writes all of <paramref name="data"/> to a blocking descriptor, retrying EINTR and short
    /// writes. Returns 0 on success or the errno of the failing write.
    /// </summary>
    internal static unsafe Errno WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            int offset = 0;
            while (offset < data.Length)
            {
                nint n = Write(fd, start + offset, (nuint)(data.Length - offset));
                if (n > 0)
                {
                    offset += (int)n;
                }
                else if (n < 0 && LastErrno == Errno.EINTR)
                {
                    continue;
                }
                else
                {
                    return n < 0 ? LastErrno : Errno.EIO;
                }
            }
        }
        return 0;
    }
}
