using System.Globalization;
using System.Text.Json;
using Emissary.Foundation;
using Emissary.Json;
using Emissary.Logging;
using Microsoft.Extensions.Logging;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Emissary.Webhook;

/// <summary>
/// The webhook's JSON log lines: the fields of <see cref="StderrLogger"/>'s JSON (time, level,
/// message) plus the message template's named values as fields of their own (uid, namespace,
/// outcome, milliseconds...), so a log collector can filter and aggregate reviews without parsing
/// the message. One synchronous write(2) per line to stderr, like every emissary log.
/// </summary>
internal sealed class StructuredJsonLoggerProvider(LogLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StructuredJsonLogger(minimum, categoryName);

    public void Dispose()
    {
    }

    private sealed class StructuredJsonLogger(LogLevel minimum, string category) : ILogger
    {
        private static readonly HashSet<string> Reserved = ["time", "level", "message", "category", "{OriginalFormat}"];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            string message = formatter(state, exception);
            if (exception is not null)
            {
                message += ": " + exception.GetType().Name + ": " + ErrorText.Reason(exception);
            }
            StderrWriter.WriteLine(JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("time", Rfc3339.Format(DateTimeOffset.UtcNow));
                json.WriteString("level", StderrLogger.LevelName((Emissary.Logging.LogLevel)(int)logLevel));
                json.WriteString("category", category);
                json.WriteString("message", message);
                if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
                {
                    foreach ((string key, object? value) in values)
                    {
                        string name = key.Length > 0 ? char.ToLowerInvariant(key[0]) + key[1..] : key;
                        if (name.Length > 0 && !Reserved.Contains(name))
                        {
                            WriteField(json, name, value);
                        }
                    }
                }
                json.WriteEndObject();
            }));
        }

        private static void WriteField(JsonWriter json, string name, object? value)
        {
            switch (value)
            {
                case null:
                    json.WriteNull(name);
                    break;
                case bool b:
                    json.WriteBoolean(name, b);
                    break;
                case int or long or short or byte or uint or ulong:
                    json.WriteNumber(name, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    break;
                case double d when double.IsFinite(d):
                    json.WriteNumber(name, Math.Round(d, 3));
                    break;
                default:
                    json.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
            }
        }
    }
}

/// <summary>
/// ASP.NET Core's logging in Emissary's text format (<c>--log-format text</c>): each line goes through
/// the same <see cref="StderrLogger"/> the other binaries use. Microsoft.Extensions.Logging's levels
/// and Emissary's have the same names and order.
/// </summary>
internal sealed class StderrTextLoggerProvider(LogLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new TextLogger(new StderrLogger((Emissary.Logging.LogLevel)(int)minimum, LogFormat.Text, step: null));

    public void Dispose()
    {
    }

    private sealed class TextLogger(StderrLogger stderr) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => stderr.IsEnabled((Emissary.Logging.LogLevel)(int)logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                string message = formatter(state, exception);
                stderr.Write((Emissary.Logging.LogLevel)(int)logLevel, exception is null ? message : message + ": " + ErrorText.Reason(exception));
            }
        }
    }
}
