using System.Runtime.InteropServices;

namespace Emissary.Interop;

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}

internal static partial class Libc
{
    internal const short POLLIN = 0x001;
    internal const short POLLOUT = 0x004;

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    internal static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (0: just asks) for <paramref name="fd"/> to report one
    /// of <paramref name="events"/>, an error or a hang-up. EINTR counts as "not yet".
    /// </summary>
    internal static unsafe bool PollOne(int fd, short events, int timeoutMs)
    {
        var p = new PollFd { Fd = fd, Events = events };
        return Poll(&p, 1, timeoutMs) > 0 && p.ReturnedEvents != 0;
    }
}
