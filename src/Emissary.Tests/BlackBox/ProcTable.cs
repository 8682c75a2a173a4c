using System.Runtime.Versioning;
using System.Text;

namespace Emissary.Tests.BlackBox;

/// <summary>Reads /proc: which processes carry a test's token, process states and parents.</summary>
[SupportedOSPlatform("linux")]
internal static class ProcTable
{
    public const string TokenVariable = "EMISSARY_TEST_TOKEN";

    public readonly record struct ProcInfo(int Pid, int ParentPid, char State, string Command);

    /// <summary>Every live process whose initial environment holds <c>EMISSARY_TEST_TOKEN=token</c>.</summary>
    public static List<ProcInfo> WithToken(string token, bool includeZombies = false)
    {
        byte[] needle = Encoding.ASCII.GetBytes($"{TokenVariable}={token}\0");
        var found = new List<ProcInfo>();
        foreach (int pid in AllPids())
        {
            byte[] environ;
            try
            {
                environ = File.ReadAllBytes($"/proc/{pid}/environ");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone, or a kernel thread
            }
            if (environ.AsSpan().IndexOf(needle) < 0)
                continue;
            if (Stat(pid) is not { } info)
                continue;
            if (info.State == 'Z' && !includeZombies)
                continue;
            found.Add(info);
        }
        return found;
    }

    /// <summary>The live children of <paramref name="parentPid"/>.</summary>
    public static List<ProcInfo> ChildrenOf(int parentPid)
    {
        var children = new List<ProcInfo>();
        foreach (int pid in AllPids())
        {
            if (Stat(pid) is { } info && info.ParentPid == parentPid)
                children.Add(info);
        }
        return children;
    }

    /// <summary>Parses /proc/PID/stat; null when the process is gone.</summary>
    public static ProcInfo? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) S ppid ..." — comm may itself contain spaces and parentheses.
        int open = text.IndexOf('(');
        int close = text.LastIndexOf(')');
        if (open < 0 || close < open || close + 4 > text.Length)
            return null;
        string comm = text[(open + 1)..close];
        string[] rest = text[(close + 2)..].Split(' ');
        if (rest.Length < 2 || !int.TryParse(rest[1], out int ppid))
            return null;
        return new ProcInfo(pid, ppid, rest[0][0], comm);
    }

    /// <summary>
    /// A "Field: N kB" line of /proc/PID/status (VmHWM, VmSize, ...), in KiB; null when the
    /// process is gone or has no such line.
    /// </summary>
    public static long? StatusKiB(int pid, string field)
    {
        string prefix = field + ":";
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                    return long.Parse(line[prefix.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static IEnumerable<int> AllPids()
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out int pid))
                yield return pid;
        }
    }
}
