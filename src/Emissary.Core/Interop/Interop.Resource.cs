using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>struct timeval (x86-64/arm64: two longs).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeVal
{
    public long Seconds;
    public long Microseconds;

    public readonly long TotalMicroseconds => (Seconds * 1_000_000) + Microseconds;
}

/// <summary>struct rusage (144 bytes on 64-bit Linux): the two CPU times, then 14 longs.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RUsage
{
    public TimeVal UserTime;
    public TimeVal SystemTime;

    /// <summary>ru_maxrss, in KiB. For RUSAGE_CHILDREN: the largest peak of any one reaped descendant.</summary>
    public long MaxRssKiB;
    public long IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
}

internal static partial class Libc
{
    /// <summary>getrusage(2) who: every descendant that has been waited for (by us or by its own parent, which we then waited for).</summary>
    internal const int RUSAGE_CHILDREN = -1;

    internal const int SOCK_DGRAM = 2;

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    internal static unsafe partial int GetRUsage(int who, RUsage* usage);
}
