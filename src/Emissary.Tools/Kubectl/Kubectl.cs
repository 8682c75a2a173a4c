using System.Text;

namespace Emissary.Tools.Kubectl;

/// <summary>A kubectl call that ran to its end (or was stopped): its exit code and what it printed.</summary>
internal sealed record KubectlOutput(int ExitCode, byte[] Stdout, string Stderr)
{
    /// <summary>It printed more than the caller takes on stdout: stopped, and the output cut.</summary>
    public bool TooLarge { get; init; }

    /// <summary>It had not ended by the deadline: stopped.</summary>
    public bool TimedOut { get; init; }

    public bool Succeeded => ExitCode == 0 && !TooLarge && !TimedOut;

    /// <summary>What went wrong, in one line: kubectl's last stderr line (as kubectl exec prints the command's too), else the exit code.</summary>
    public string Problem =>
        TimedOut ? "it did not answer in time (see --timeout)"
        : TooLarge ? "it printed more than the plugin reads"
        : Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() is { } line
            ? (line.StartsWith("error: ", StringComparison.Ordinal) ? line["error: ".Length..] : line)
            : $"exit code {ExitCode}";

    public string Text => Encoding.UTF8.GetString(Stdout);
}

/// <summary>How the plugin runs kubectl: the process in the binary, fakes in the unit tests.</summary>
internal interface IKubectl
{
    /// <summary>
    /// Runs every call of <paramref name="calls"/> (some at once), each with its stdout taken up to
    /// <paramref name="stdoutLimit"/> bytes; returns their outputs in the same order. Every call
    /// ends by the timeout.
    /// </summary>
    IReadOnlyList<KubectlOutput> Capture(IReadOnlyList<IReadOnlyList<string>> calls, int stdoutLimit);

    /// <summary>Runs one call with the plugin's own stdout and stderr; returns its exit code (kubectl exec: the command's).</summary>
    int PassThrough(IReadOnlyList<string> args);
}

/// <summary>The kubectl calls the plugin makes, as argv after <c>kubectl</c>: the user's kubectl flags first, then the verb.</summary>
internal static class KubectlCalls
{
    public static IReadOnlyList<string> GetPod(PluginRequest request) => [.. request.KubectlFlags, "get", "pod", request.Pod, "-o", "json"];

    /// <summary><c>kubectl exec POD -c CONTAINER -- COMMAND...</c> (no -i, no -t: nothing is read from the plugin's stdin).</summary>
    public static IReadOnlyList<string> Exec(PluginRequest request, string container, IReadOnlyList<string> command) =>
        [.. request.KubectlFlags, "exec", request.Pod, "-c", container, "--", .. command];
}
