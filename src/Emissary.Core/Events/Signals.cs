namespace Emissary.Events;

/// <summary>Linux signal numbers (x86-64/arm64) and their names, without the SIG prefix.</summary>
internal static class Signals
{
    public const int HUP = 1, INT = 2, QUIT = 3, ILL = 4, TRAP = 5, ABRT = 6, BUS = 7, FPE = 8, KILL = 9,
        USR1 = 10, SEGV = 11, USR2 = 12, PIPE = 13, ALRM = 14, TERM = 15, STKFLT = 16, CHLD = 17,
        CONT = 18, STOP = 19, TSTP = 20, TTIN = 21, TTOU = 22, URG = 23, XCPU = 24, XFSZ = 25,
        VTALRM = 26, PROF = 27, WINCH = 28, IO = 29, PWR = 30, SYS = 31;

    private static readonly string[] s_names =
    [
        "0", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU",
        "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>
    /// The signals that mean "the pod is going away" (kubelet's TERM, a terminal's INT, HUP and
    /// QUIT, and the container's own stop signal): forwarded, they end waiting and retrying
    /// instead of being ignored.
    /// </summary>
    public static bool IsTerminating(int signal) => signal is TERM or INT or HUP or QUIT || signal == s_containerStop;

    private static int s_containerStop = TERM;

    /// <summary>
    /// The signal the runtime stops this container with (<c>lifecycle.stopSignal</c>, KEP-4960,
    /// which <c>rewrite</c> passes on as <c>--stop-signal</c>): from now on it counts as
    /// terminating, as TERM does. Set once, by the command that runs the step, before any wait.
    /// </summary>
    public static void UseContainerStopSignal(int signal) => s_containerStop = signal;

    public static string Name(int signal) =>
        signal > 0 && signal < s_names.Length ? "SIG" + s_names[signal] : $"signal {signal}";

    /// <summary>Parses TERM, SIGTERM, sigterm or 15. Real-time signals are not accepted by name.</summary>
    public static bool TryParse(string text, out int signal)
    {
        signal = 0;
        text = text.Trim();
        if (int.TryParse(text, out int number))
        {
            signal = number;
            return number is > 0 and < 65;
        }
        string upper = text.ToUpperInvariant();
        if (upper.StartsWith("SIG", StringComparison.Ordinal))
        {
            upper = upper[3..];
        }
        if (upper == "IOT") upper = "ABRT";
        if (upper == "POLL") upper = "IO";
        if (upper == "CLD") upper = "CHLD";
        int index = Array.IndexOf(s_names, upper);
        if (index > 0)
        {
            signal = index;
            return true;
        }
        return false;
    }
}
