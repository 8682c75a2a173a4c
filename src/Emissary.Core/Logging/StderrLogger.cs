using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;

namespace Emissary.Logging;

internal enum LogFormat
{
    Text,
    Json,
}

/// <summary>How important a log line is; the names and order of Microsoft.Extensions.Logging's levels.</summary>
internal enum LogLevel
{
    Trace,
    Debug,
    Information,
    Warning,
    Error,
    Critical,
    None,
}

/// <summary>
/// Where Emissary's own log lines go. Each message is a method of a <c>Log</c> class beside the
/// code that logs it (the text in one place, formatted only when its level is enabled).
/// </summary>
/// <remarks>
/// Not Microsoft.Extensions.Logging: its <c>ILogger.Log&lt;TState&gt;</c> is a generic virtual
/// method, and NativeAOT resolves those through the runtime type loader, which alone cost the
/// pod binary ~95 KB (plus 19 KB of the library) for what is, here, one synchronous line to fd 2.
/// </remarks>
internal interface ILogger
{
    bool IsEnabled(LogLevel level);

    void Write(LogLevel level, string message);
}

/// <summary>A logger that drops everything (tests, and code paths that must stay silent).</summary>
internal sealed class NullLogger : ILogger
{
    public static readonly NullLogger Instance = new();

    public bool IsEnabled(LogLevel level) => false;

    public void Write(LogLevel level, string message)
    {
    }
}

/// <summary>
/// Emissary's own log, written synchronously to fd 2 with one write(2) per line (stdout belongs
/// to the child). No background queue: a supervisor that is about to exit, or is PID 1 being torn
/// down, must not lose its last line.
/// </summary>
internal sealed class StderrLogger(LogLevel minimum, LogFormat format, string? step) : ILogger
{
    public bool IsEnabled(LogLevel level) => level != LogLevel.None && level >= minimum;

    public void Write(LogLevel level, string message)
    {
        if (IsEnabled(level))
        {
            StderrWriter.WriteLine(format == LogFormat.Json ? FormatJson(level, message) : FormatText(level, message));
        }
    }

    private string FormatText(LogLevel level, string message)
    {
        string prefix = step is null ? "emissary: " : $"emissary: [{step}] ";
        return level switch
        {
            LogLevel.Error or LogLevel.Critical => prefix + message,
            LogLevel.Warning => prefix + "warning: " + message,
            LogLevel.Information => prefix + message,
            _ => prefix + LevelName(level) + ": " + message,
        };
    }

    private string FormatJson(LogLevel level, string message)
    {
        return JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("time", Rfc3339.Format(DateTimeOffset.UtcNow));
            json.WriteString("level", LevelName(level));
            if (step is not null)
            {
                json.WriteString("step", step);
            }
            json.WriteString("message", message);
            json.WriteEndObject();
        });
    }

    internal static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };
}

/// <summary>Writes whole lines to fd 2 with write(2), retrying EINTR and short writes, dropping on EPIPE.</summary>
internal static class StderrWriter
{
    /// <summary>
    /// Writes one line: control characters in it (a newline in a step name, an escape sequence in
    /// a path) are escaped, so that every message is exactly one line whatever the user gave.
    /// </summary>
    public static void WriteLine(string line) => Write(2, Foundation.ErrorText.Printable(line) + "\n");

    /// <summary>Writes text to a descriptor (fd 1 for --help and --version; System.Console is not linked in).</summary>
    public static void Write(int fd, string text)
    {
        // A closed or broken stderr is ignored: there is nothing better to do with a log line.
        Libc.WriteAll(fd, Encoding.UTF8.GetBytes(text));
    }
}
