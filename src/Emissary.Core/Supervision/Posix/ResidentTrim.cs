using System.Globalization;
using Emissary.Interop;

namespace Emissary.Supervision.Posix;

/// <summary>
/// Once the command has run for a while, emissary's own start-up code is dead weight in its
/// resident set: the kernel maps whole 64 KiB neighbourhoods of the binary around every page
/// touched while starting (fault-around), so nearly all of the 2 MB of code counts as resident.
/// After a second of supervision this unmaps the binary's read-only, never-written mappings with
/// MADV_DONTNEED; the few pages the idle loop needs fault straight back in from the page cache.
/// Mappings holding private copies (relocated data: "Anonymous" above 0) are never touched.
/// </summary>
internal static unsafe class ResidentTrim
{
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>Arms a one-shot timer on the reactor; the trim runs on the reactor's thread.</summary>
    public static IDisposable? Schedule(Reactor reactor)
    {
        int fd = Libc.TimerFdCreate(Libc.CLOCK_MONOTONIC, Libc.TFD_NONBLOCK | Libc.TFD_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }
        var spec = new ITimerSpec { ValueSeconds = (long)Delay.TotalSeconds };
        Libc.TimerFdSetTime(fd, 0, &spec, null);
        var timer = new SafeFd(fd);
        IDisposable? registration = null;
        registration = reactor.Watch(fd, Libc.EPOLLIN, _ =>
        {
            registration?.Dispose();
            timer.Dispose();
            Trim();
        });
        return new Cancel(() =>
        {
            registration.Dispose();
            timer.Dispose();
        });
    }

    public static void Trim()
    {
        string self;
        string[] lines;
        try
        {
            self = Path.GetFullPath(new FileInfo("/proc/self/exe").LinkTarget ?? "");
            lines = File.ReadAllLines("/proc/self/smaps");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // no /proc: nothing to trim, nothing lost
        }
        for (int i = 0; i < lines.Length; i++)
        {
            if (!IsMappingHeader(lines[i]))
            {
                continue;
            }
            string[] header = lines[i].Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (header.Length < 6 || header[5] != self || header[1].Contains('w'))
            {
                continue;
            }
            long anonymous = -1;
            for (int j = i + 1; j < lines.Length && !IsMappingHeader(lines[j]); j++)
            {
                if (lines[j].StartsWith("Anonymous:", StringComparison.Ordinal))
                {
                    anonymous = long.Parse(lines[j].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    break;
                }
            }
            if (anonymous != 0)
            {
                continue;
            }
            string[] range = header[0].Split('-');
            nint start = (nint)long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            nint end = (nint)long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Libc.Madvise(start, (nuint)(end - start), Libc.MADV_DONTNEED);
        }
    }

    /// <summary>"7f77720fe000-7f7772313000 r-xp ..." starts a mapping; "Rss: 12 kB" lines describe it.</summary>
    private static bool IsMappingHeader(string line)
    {
        int dash = line.IndexOf('-');
        int space = line.IndexOf(' ');
        return dash > 0 && space > dash && Uri.IsHexDigit(line[0]);
    }

    private sealed class Cancel(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
