using System.Globalization;
using Emissary.Control;
using Emissary.Events;

namespace Emissary.Cli;

/// <summary>
/// The <c>emissary run</c> flags a pod rewrite writes, as typed values, and their one written form:
/// <see cref="Format"/> turns them into arguments with <see cref="RunCli"/>'s own options, in a fixed
/// order, every value in one canonical form (durations the Go way, signals by name), so that
/// rewriting a rewritten pod changes nothing. Null, false or empty means "not given": run's
/// default applies. Only the developer tools write arguments; the pod binary trims this away.
/// </summary>
internal sealed class RunArguments
{
    public string? Name { get; init; }

    /// <summary><c>--after</c>, once per step, in this order.</summary>
    public IReadOnlyList<string> After { get; init; } = [];

    /// <summary><c>--observe</c>, once per step, in this order.</summary>
    public IReadOnlyList<string> Observe { get; init; } = [];

    public bool WaitStart { get; init; }

    public bool RunOnUpstreamFailure { get; init; }

    /// <summary>A <c>--wait-proxy</c> preset (istio, linkerd).</summary>
    public string? WaitProxy { get; init; }

    /// <summary><c>--sidecar-of</c>, written as one comma-separated value.</summary>
    public IReadOnlyList<string> SidecarOf { get; init; } = [];

    public int? StopSignal { get; init; }

    public TimeSpan? Grace { get; init; }

    public TimeSpan? Timeout { get; init; }

    public int? Retries { get; init; }

    public TimeSpan? RetryDelay { get; init; }

    /// <summary><c>--on-error continue</c> (true) or <c>stopAndFail</c> (false).</summary>
    public bool? ContinueOnError { get; init; }

    public string? ResultFromStdout { get; init; }

    /// <summary><c>--breakpoint</c>, written as one comma-separated value (before, after, on-failure, in this order).</summary>
    public Control.PausePoint Breakpoints { get; init; }

    /// <summary><c>--stdin-from</c>: the producer step.</summary>
    public string? StdinFrom { get; init; }

    /// <summary><c>--stdout-to</c>: the consumer step.</summary>
    public string? StdoutTo { get; init; }

    /// <summary>Arguments passed through as they are (flags of a rewritten command that nothing above describes).</summary>
    public IReadOnlyList<string> Extra { get; init; } = [];

    /// <summary>A <c>--quit</c> preset (istio, linkerd).</summary>
    public string? Quit { get; init; }

    public string? TerminationLog { get; init; }

    public int? TerminationBudget { get; init; }

    /// <summary><c>--restart-policy</c>: Never, OnFailure or Always, as the pod spec spells it.</summary>
    public string? RestartPolicy { get; init; }

    /// <summary><c>--restart-rules</c>: the container's restartPolicyRules as JSON.</summary>
    public string? RestartRules { get; init; }

    /// <summary>The arguments, without the <c>--</c> and the command.</summary>
    public IReadOnlyList<string> Format()
    {
        var args = new List<string>();
        Value(args, RunCli.Name, Name);
        foreach (string step in After)
        {
            Value(args, RunCli.After, step);
        }
        foreach (string step in Observe)
        {
            Value(args, RunCli.Observe, step);
        }
        Flag(args, RunCli.WaitStart, WaitStart);
        Flag(args, RunCli.RunOnUpstreamFailure, RunOnUpstreamFailure);
        Value(args, RunCli.WaitProxy, WaitProxy);
        Value(args, RunCli.SidecarOf, SidecarOf.Count > 0 ? string.Join(',', SidecarOf) : null);
        Value(args, RunCli.StopSignal, StopSignal is { } signal ? FormatSignal(signal) : null);
        Value(args, RunCli.Grace, FormatDuration(Grace));
        Value(args, RunCli.Timeout, FormatDuration(Timeout));
        Value(args, RunCli.Retries, Retries?.ToString(CultureInfo.InvariantCulture));
        Value(args, RunCli.RetryDelay, FormatDuration(RetryDelay));
        Value(args, RunCli.OnError, ContinueOnError switch
        {
            true => RunCli.OnErrorContinue,
            false => RunCli.OnErrorStopAndFail,
            null => null,
        });
        Value(args, RunCli.ResultFromStdout, ResultFromStdout);
        Value(args, RunCli.Breakpoint, FormatBreakpoints(Breakpoints));
        Value(args, RunCli.StdinFrom, StdinFrom);
        Value(args, RunCli.StdoutTo, StdoutTo);
        args.AddRange(Extra);
        Value(args, RunCli.Quit, Quit);
        Value(args, RunCli.TerminationLog, TerminationLog);
        Value(args, RunCli.TerminationBudget, TerminationBudget?.ToString(CultureInfo.InvariantCulture));
        Value(args, RunCli.RestartPolicy, RestartPolicy);
        Value(args, RunCli.RestartRules, RestartRules);
        return args;
    }

    /// <summary>Go-style and canonical: 1h30m, 1m30s, 1.5s, 500ms, 0s.</summary>
    public static string? FormatDuration(TimeSpan? value)
    {
        if (value is not { } duration)
        {
            return null;
        }
        if (duration < TimeSpan.FromSeconds(1))
        {
            return duration == TimeSpan.Zero ? "0s" : duration.TotalMilliseconds.ToString("0.######", CultureInfo.InvariantCulture) + "ms";
        }
        long hours = (long)duration.TotalHours;
        int minutes = duration.Minutes;
        double seconds = (duration - TimeSpan.FromHours(hours) - TimeSpan.FromMinutes(minutes)).TotalSeconds;
        string text = "";
        if (hours > 0)
        {
            text += hours.ToString(CultureInfo.InvariantCulture) + "h";
        }
        if (minutes > 0)
        {
            text += minutes.ToString(CultureInfo.InvariantCulture) + "m";
        }
        if (seconds > 0)
        {
            text += seconds.ToString("0.#######", CultureInfo.InvariantCulture) + "s";
        }
        return text;
    }

    /// <summary>The kinds of <paramref name="points"/> as <c>--breakpoint</c> takes them (before,after,on-failure); null for none.</summary>
    public static string? FormatBreakpoints(Control.PausePoint points)
    {
        var names = new List<string>(3);
        foreach (Control.PausePoint kind in (ReadOnlySpan<Control.PausePoint>)[Control.PausePoint.Before, Control.PausePoint.After, Control.PausePoint.OnFailure])
        {
            if ((points & kind) != 0)
            {
                names.Add(kind.Name());
            }
        }
        return names.Count > 0 ? string.Join(',', names) : null;
    }

    /// <summary>TERM, USR1, ... (run accepts them with or without SIG); real-time signals as numbers.</summary>
    public static string FormatSignal(int signal)
    {
        string name = Signals.Name(signal);
        return name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : signal.ToString(CultureInfo.InvariantCulture);
    }

    private static void Value(List<string> args, CliOption option, string? value)
    {
        if (value is not null)
        {
            args.Add(option.Name);
            args.Add(value);
        }
    }

    private static void Flag(List<string> args, CliOption option, bool given)
    {
        if (given)
        {
            args.Add(option.Name);
        }
    }
}
