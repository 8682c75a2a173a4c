using System.Text;
using Emissary.Foundation;
using Emissary.Interop;
using Microsoft.Extensions.Logging;
using Emissary.Json;

namespace Emissary.Logging;

internal enum LogFormat
{
    Text,
    Json,
}

/// <summary>
/// Emissary's own log: Microsoft.Extensions.Logging's ILogger, written synchronously to fd 2 with
/// one write(2) per line (stdout belongs to the child). No background queue: a supervisor that is
/// about to exit, or is PID 1 being torn down, must not lose its last line.
/// </summary>
internal sealed class StderrLoggerProvider(LogLevel minimum, LogFormat format, string? step) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger(minimum, format, step);

    public void Dispose()
    {
    }
}

internal sealed class StderrLogger(LogLevel minimum, LogFormat format, string? step) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        string message = formatter(state, exception);
        if (exception is not null && exception.Message.Length > 0 && !message.Contains(exception.Message, StringComparison.Ordinal))
        {
            message += ": " + exception.Message;
        }
        StderrWriter.WriteLine(format == LogFormat.Json ? FormatJson(logLevel, message) : FormatText(logLevel, message));
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
