using System.Text;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Files;

namespace Emissary.Telemetry;

/// <summary>The kernel's accounting of reaped descendants at one moment (getrusage(RUSAGE_CHILDREN)).</summary>
internal readonly record struct ChildrenUsage(long UserMicros, long SystemMicros, long MaxRssKiB)
{
    /// <summary>
    /// Every descendant reaped so far: the command, and — because emissary is PID 1 or a child
    /// subreaper and reaps every orphan — its background processes once they are reaped too. The
    /// CPU times add up; ru_maxrss is the largest peak of any one process (not a sum), and since
    /// posix_spawn forks with CLONE_VM, a child's figure is at least emissary's own resident set at
    /// the spawn (exec records the old address space's peak).
    /// </summary>
    public static unsafe ChildrenUsage Now()
    {
        RUsage usage;
        return Libc.GetRUsage(Libc.RUSAGE_CHILDREN, &usage) == 0
            ? new ChildrenUsage(usage.UserTime.TotalMicroseconds, usage.SystemTime.TotalMicroseconds, usage.MaxRssKiB)
            : default;
    }
}

/// <summary>The container's cgroup v2 figures: memory.peak and cpu.stat's usage_usec.</summary>
internal sealed class CgroupUsage(long? memoryPeakBytes, long? cpuMicros)
{
    public long? MemoryPeakBytes { get; } = memoryPeakBytes;

    public long? CpuMicros { get; } = cpuMicros;

    private const int MaxFile = 4096;

    /// <summary>
    /// Whether emissary's cgroup is the root of its cgroup namespace ("0::/" in
    /// /proc/self/cgroup): that is a container (Kubernetes and podman give each container its own
    /// cgroup and namespace), so the figures are the step's (emissary's own ~1 MiB and its few
    /// milliseconds included). Anywhere else (a shell session, `emissary local`'s processes) the
    /// cgroup is shared with unrelated processes and nothing is reported. The files are the
    /// kernel's, read with the same bounded, no-follow reads as another step's markers. Asked once,
    /// while the command runs.
    /// </summary>
    public static bool IsContainerRoot(string procSelfCgroup = "/proc/self/cgroup") =>
        ReadText(procSelfCgroup) is { } membership && OwnsNamespaceRoot(membership);

    /// <summary>The figures of the container's cgroup, once <see cref="IsContainerRoot"/> said they are the step's.</summary>
    public static CgroupUsage? ReadFigures(string cgroupRoot = "/sys/fs/cgroup")
    {
        long? peak = ReadText(cgroupRoot + "/memory.peak") is { } p ? Decimal(p.AsSpan().Trim()) : null;
        long? cpu = ReadText(cgroupRoot + "/cpu.stat") is { } stat ? Field(stat, "usage_usec") : null;
        return peak is null && cpu is null ? null : new CgroupUsage(peak, cpu);
    }

    /// <summary>cgroup v2 only ("0::PATH"), and PATH is "/".</summary>
    internal static bool OwnsNamespaceRoot(string membership)
    {
        string[] lines = membership.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 1 && lines[0].Trim() == "0::/";
    }

    internal static long? Field(string stat, string name)
    {
        foreach (string line in stat.Split('\n'))
        {
            int space = line.IndexOf(' ');
            if (space > 0 && line.AsSpan(0, space).SequenceEqual(name))
            {
                return Decimal(line.AsSpan(space + 1).Trim());
            }
        }
        return null;
    }

    /// <summary>A non-negative decimal the kernel wrote, or null.</summary>
    private static long? Decimal(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty || text.Length > 18)
        {
            return null;
        }
        long value = 0;
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }
            value = (value * 10) + (c - '0');
        }
        return value;
    }

    private static string? ReadText(string path)
    {
        BoundedRead read = UntrustedFile.Read(Libc.AT_FDCWD, path, MaxFile);
        return read.Outcome == ReadOutcome.Read ? Encoding.ASCII.GetString(read.Bytes!) : null;
    }
}
