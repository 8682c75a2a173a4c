using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// One epoll event as the program sees it. The kernel's struct epoll_event is packed on x86-64
/// only (12 bytes, data at offset 4); arm64 lays it out naturally (16 bytes, data at offset 8),
/// which is this struct. <see cref="Libc.EpollCtl"/> and <see cref="Libc.EpollWait"/> translate
/// on x86-64, so that a table of ready events is never read with the other architecture's stride.
/// </summary>
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

internal static partial class Libc
{
    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;
    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    /// <summary>epoll_ctl(2); <paramref name="ev"/> may be null (EPOLL_CTL_DEL).</summary>
    internal static unsafe int EpollCtl(int epfd, int op, int fd, EpollEvent* ev)
    {
        if (!EpollEventIsPacked)
            return EpollCtlNatural(epfd, op, fd, ev);
        PackedEpollEvent packed = ev is null ? default : new PackedEpollEvent { Events = ev->Events, Data = ev->Data };
        return EpollCtlPacked(epfd, op, fd, ev is null ? null : &packed);
    }

    /// <summary>epoll_wait(2) into <paramref name="events"/> (at most <see cref="EpollWaitCapacity"/>).</summary>
    internal static unsafe int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs)
    {
        if (!EpollEventIsPacked)
            return EpollWaitNatural(epfd, events, maxEvents, timeoutMs);
        maxEvents = Math.Min(maxEvents, EpollWaitCapacity);
        PackedEpollEvent* packed = stackalloc PackedEpollEvent[maxEvents];
        int n = EpollWaitPacked(epfd, packed, maxEvents, timeoutMs);
        for (int i = 0; i < n; i++)
            events[i] = new EpollEvent { Events = packed[i].Events, Data = packed[i].Data };
        return n;
    }

    internal const int EpollWaitCapacity = 64;

    private static bool EpollEventIsPacked => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>x86-64's struct epoll_event (__EPOLL_PACKED).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct PackedEpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static unsafe partial int EpollCtlNatural(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static unsafe partial int EpollCtlPacked(int epfd, int op, int fd, PackedEpollEvent* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWaitNatural(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWaitPacked(int epfd, PackedEpollEvent* events, int maxEvents, int timeoutMs);

}
