using System.Globalization;
using Emissary.Cli;
using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Results;

namespace Emissary.Tools.PodSpec;

/// <summary>The emissary settings of a container (the container-DAG fields), in the order of <see cref="StepFields.Names"/>.</summary>
internal enum StepField
{
    WaitForTermination,
    Timeout,
    Retries,
    RetryDelay,
    OnError,
    Sidecar,
    WaitForStart,
    RunOnUpstreamFailure,
    ResultFromStdout,
    StopSignal,
    Grace,
    StdinFrom,
    Observes,
    Breakpoint,
}

/// <summary>
/// The container fields (and <c>emissary.dev/CONTAINER.FIELD</c> annotation names) emissary reads,
/// how each is parsed, and the <c>emissary run</c> flag each one becomes.
/// </summary>
internal static class StepFields
{
    public const string AnnotationPrefix = "emissary.dev/";

    public static readonly string[] Names =
    [
        "waitForTermination", "timeout", "retries", "retryDelay", "onError", "sidecar", "waitForStart",
        "runOnUpstreamFailure", "resultFromStdout", "stopSignal", "grace", "stdinFrom", "observes", "breakpoint",
    ];

    public const int MaxRetries = 1000;

    public static string Name(StepField field) => Names[(int)field];

    public static StepField? Find(string name)
    {
        int index = Array.IndexOf(Names, name);
        return index >= 0 ? (StepField)index : null;
    }

    /// <summary>The field an <c>emissary run</c> option of a rewritten command stands for, or null.</summary>
    public static StepField? FromRunOption(CliOption option)
    {
        foreach ((CliOption flag, StepField field) in ByRunOption)
        {
            if (flag == option)
            {
                return field;
            }
        }
        return null;
    }

    // The flag each field becomes (EmissaryRun.ArgumentsFor writes them; a rewritten command is read back through this).
    private static readonly (CliOption Flag, StepField Field)[] ByRunOption =
    [
        (RunCli.After, StepField.WaitForTermination),
        (RunCli.Timeout, StepField.Timeout),
        (RunCli.Retries, StepField.Retries),
        (RunCli.RetryDelay, StepField.RetryDelay),
        (RunCli.OnError, StepField.OnError),
        (RunCli.SidecarOf, StepField.Sidecar),
        (RunCli.WaitStart, StepField.WaitForStart),
        (RunCli.RunOnUpstreamFailure, StepField.RunOnUpstreamFailure),
        (RunCli.ResultFromStdout, StepField.ResultFromStdout),
        (RunCli.StopSignal, StepField.StopSignal),
        (RunCli.Grace, StepField.Grace),
        (RunCli.StdinFrom, StepField.StdinFrom),
        (RunCli.Observe, StepField.Observes),
        (RunCli.Breakpoint, StepField.Breakpoint),
    ];

    /// <summary>The fields that take a list of container names (a YAML list, or a comma list in an annotation or flag).</summary>
    public static bool IsList(StepField field) => field is StepField.WaitForTermination or StepField.Observes;

    /// <summary>
    /// Parses one value of a scalar field. The value is a TimeSpan, an int, an
    /// <see cref="OnErrorPolicy"/>, a bool or a string; <paramref name="error"/> says what is wrong otherwise.
    /// </summary>
    public static bool TryParse(StepField field, string text, out object? value, out string? error)
    {
        text = text.Trim();
        value = null;
        error = null;
        switch (field)
        {
            case StepField.Timeout or StepField.RetryDelay or StepField.Grace:
                if (Duration.TryParse(text, out TimeSpan duration))
                {
                    value = duration;
                    return true;
                }
                error = $"\"{text}\" is not a duration (e.g. 30s, 1m30s, 500ms)";
                return false;
            case StepField.Retries:
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int retries) && retries <= MaxRetries)
                {
                    value = retries;
                    return true;
                }
                error = $"\"{text}\" is not a whole number from 0 to {MaxRetries}";
                return false;
            case StepField.OnError:
                if (string.Equals(text, RunCli.OnErrorContinue, StringComparison.OrdinalIgnoreCase))
                {
                    value = OnErrorPolicy.Continue;
                    return true;
                }
                if (string.Equals(text, RunCli.OnErrorStopAndFail, StringComparison.OrdinalIgnoreCase))
                {
                    value = OnErrorPolicy.StopAndFail;
                    return true;
                }
                error = $"unknown policy \"{text}\" (use continue or stopAndFail)";
                return false;
            case StepField.Sidecar or StepField.WaitForStart or StepField.RunOnUpstreamFailure:
                if (TryParseBoolean(text, out bool flag))
                {
                    value = flag;
                    return true;
                }
                error = $"\"{text}\" is not true or false";
                return false;
            case StepField.ResultFromStdout:
                if (ResultsCollector.IsValidName(text))
                {
                    value = text;
                    return true;
                }
                error = $"\"{text}\" is not a valid result name (letters, digits, '.', '_', '-'; starting with a letter or digit)";
                return false;
            case StepField.StopSignal:
                if (Signals.TryParse(text, out int signal))
                {
                    value = signal;
                    return true;
                }
                error = $"\"{text}\" is not a signal (use a name such as TERM or INT, or a number)";
                return false;
            case StepField.StdinFrom:
                if (Control.ControlDirectory.IsValidName(text))
                {
                    value = text;
                    return true;
                }
                error = $"\"{text}\" is not a container name";
                return false;
            case StepField.Breakpoint:
                if (TryParseBreakpoints(text, out PausePoint points))
                {
                    value = points;
                    return true;
                }
                error = $"\"{text}\" is not a list of breakpoints (before, after, on-failure; joined by ',' or '+')";
                return false;
            default:
                value = text;
                return true;
        }
    }

    /// <summary>
    /// The characters that join breakpoint kinds: ',' as in <c>--breakpoint before,after</c>, and '+'
    /// where ',' already separates steps (<c>emissary.dev/breakpoint: "build=before+on-failure,test=after"</c>).
    /// </summary>
    public static readonly char[] BreakpointSeparators = [',', '+'];

    /// <summary>
    /// A set of breakpoint kinds (<c>on-failure</c>, <c>before+after</c>, <c>after,on-failure</c>); at
    /// least one, each known, repeats harmless (as <c>run</c> takes a repeated <c>--breakpoint</c>).
    /// </summary>
    public static bool TryParseBreakpoints(string text, out PausePoint points)
    {
        points = PausePoint.None;
        string[] kinds = text.Split(BreakpointSeparators, StringSplitOptions.TrimEntries);
        foreach (string kind in kinds)
        {
            if (PausePoints.Parse(kind) is not { } point)
            {
                points = PausePoint.None;
                return false;
            }
            points |= point;
        }
        return points != PausePoint.None;
    }

    public static bool TryParseBoolean(string text, out bool value)
    {
        value = string.Equals(text.Trim(), "true", StringComparison.OrdinalIgnoreCase);
        return value || string.Equals(text.Trim(), "false", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The fields of a Kubernetes container (core/v1 Container), to tell a misspelt emissary field
    /// (an error, with a suggestion) from a Kubernetes field (left alone).
    /// </summary>
    public static readonly HashSet<string> KubernetesContainerFields =
    [
        "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
        "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
        "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
        "securityContext", "stdin", "stdinOnce", "tty",
    ];
}
