using System.Runtime.InteropServices;

namespace Emissary.Interop;

[StructLayout(LayoutKind.Sequential)]
internal struct ITimerSpec
{
    public long IntervalSeconds;
    public long IntervalNanoseconds;
    public long ValueSeconds;
    public long ValueNanoseconds;
}

internal static partial class Libc
{
    internal const int MADV_DONTNEED = 4;
    internal const int CLOCK_MONOTONIC = 1;
    internal const int TFD_NONBLOCK = 0x800;
    internal const int TFD_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "timerfd_create", SetLastError = true)]
    internal static partial int TimerFdCreate(int clock, int flags);

    [LibraryImport("libc", EntryPoint = "timerfd_settime", SetLastError = true)]
    internal static unsafe partial int TimerFdSetTime(int fd, int flags, ITimerSpec* value, ITimerSpec* old);
}
