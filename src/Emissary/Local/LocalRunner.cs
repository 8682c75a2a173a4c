using System.Globalization;
using System.Text;
using System.Text.Json;
using Emissary.Cli;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Supervision;
using Emissary.Supervision.Posix;
using Microsoft.Extensions.Logging;

namespace Emissary.Local;

/// <summary>How `emissary local` runs and reports.</summary>
internal sealed record LocalOptions
{
    /// <summary>The emissary binary that supervises each step, exactly as in a pod.</summary>
    public required string EmissaryPath { get; init; }

    /// <summary>Each step's output into DIR/NAME.stdout and .stderr instead of the terminal.</summary>
    public string? OutputDirectory { get; init; }

    public string? EventsFile { get; init; }

    public string? TimelineSvg { get; init; }

    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A live, redrawn view (stdout is a terminal) instead of line-by-line progress.</summary>
    public bool Live { get; init; }

    /// <summary>Keep the temporary control directory (its path is printed).</summary>
    public bool KeepControlDirectory { get; init; }
}

/// <summary>
/// Runs a pod's steps as local processes: each one is `emissary run --name NAME ... -- COMMAND`
/// against a fresh temporary control directory, so gates, markers, results and timeouts behave
/// exactly as in a pod. Watches the control directory (inotify) for state changes, prefixes each
/// step's output with its name, and on Ctrl-C behaves like pod deletion: SIGTERM to every step,
/// SIGKILL after the grace period, nothing left running.
/// </summary>
internal sealed unsafe partial class LocalRunner(LocalOptions options, ILogger logger) : IDisposable
{
    private readonly List<StepView> _views = [];
    private readonly List<IDisposable> _registrations = [];
    private readonly List<SafeFd> _fds = [];
    private readonly Dictionary<string, int> _watches = new(StringComparer.Ordinal);
    private readonly StringBuilder _pendingOutput = new();
    private Reactor? _reactor;
    private ControlDirectory? _dir;
    private StreamWriter? _events;
    private int _inotify = -1;
    private int _openStreams;
    private int _liveLines;
    private DateTimeOffset _origin;

    /// <summary>Runs every step to its end; returns the pod's outcome as an exit code.</summary>
    public int Run(IReadOnlyList<LocalStep> steps)
    {
        string root = Directory.CreateTempSubdirectory("emissary-local-").FullName;
        _dir = new ControlDirectory(root);
        _reactor = new Reactor();
        _origin = DateTimeOffset.UtcNow;
        if (options.EventsFile is { } eventsPath)
        {
            _events = new StreamWriter(eventsPath, append: false, new UTF8Encoding(false)) { AutoFlush = true };
        }
        if (Libc.GetPid() != 1)
        {
            // Orphans of the steps (their commands, if an emissary is killed) come back to us.
            Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        StartWatching(root);

        var launcher = new PosixProcessLauncher();
        foreach (LocalStep step in steps)
        {
            var view = new StepView(step.Name, step.IsSidecar);
            _views.Add(view);
            view.Pid = Launch(launcher, step, root);
        }
        Print($"control directory: {root}", toStderr: true);

        int? interruptedBy = null;
        TimeSpan? killAt = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long drainUntil = long.MaxValue;
        while (_views.Any(v => v.Pid != 0) || (_openStreams > 0 && Environment.TickCount64 < drainUntil))
        {
            if (_views.All(v => v.Pid == 0) && drainUntil == long.MaxValue)
            {
                // Every step is over; a background grandchild may still hold an output pipe: give
                // it a moment, not forever (the same rule as `emissary run`).
                drainUntil = Environment.TickCount64 + 500;
            }
            TimeSpan? wait = options.Live ? TimeSpan.FromMilliseconds(100) : null;
            if (killAt is { } k)
            {
                TimeSpan left = k - clock.Elapsed;
                wait = wait is { } w && w < left ? w : left < TimeSpan.Zero ? TimeSpan.Zero : left;
            }
            if (drainUntil != long.MaxValue)
            {
                wait = TimeSpan.FromMilliseconds(Math.Max(0, drainUntil - Environment.TickCount64));
            }

            switch (_reactor.Next(wait))
            {
                case SupervisorEvent.SignalReceived { Signal: Signals.INT or Signals.TERM or Signals.HUP } s when interruptedBy is null:
                    interruptedBy = s.Signal;
                    Print($"{Signals.Name(s.Signal)}: stopping every step (SIGTERM, SIGKILL after {Duration.Format(options.Grace)})", toStderr: true);
                    foreach (StepView view in _views.Where(v => v.Pid != 0))
                    {
                        Libc.Kill(view.Pid, Signals.TERM);
                    }
                    killAt = clock.Elapsed + options.Grace;
                    break;
                case SupervisorEvent.ChildExited exited:
                    if (_views.FirstOrDefault(v => v.Pid == exited.Pid) is { } done)
                    {
                        done.Pid = 0;
                        done.ProcessExitCode = exited.Status.ToExitCode();
                    }
                    break;
            }
            if (killAt is { } deadline && clock.Elapsed >= deadline)
            {
                KillEverything();
                killAt = null;
            }
            Refresh();
            if (options.Live)
            {
                DrawLive();
            }
        }
        FlushOutput();
        Refresh();
        if (options.Live)
        {
            EraseLive();
        }

        DateTimeOffset end = DateTimeOffset.UtcNow;
        StderrWriter.Write(1, "\n" + Timeline.Text(_views, _origin, end) + Results());
        if (options.TimelineSvg is { } svg)
        {
            File.WriteAllText(svg, Timeline.Svg(_views, _origin, end));
        }
        if (options.KeepControlDirectory)
        {
            Print($"kept control directory {root}", toStderr: true);
        }
        else
        {
            TryDelete(root);
        }
        return Outcome(interruptedBy);
    }

    private int Launch(PosixProcessLauncher launcher, LocalStep step, string root)
    {
        int stdout, stderr;
        if (options.OutputDirectory is { } outputDir)
        {
            Directory.CreateDirectory(outputDir);
            stdout = OpenFile(Path.Combine(outputDir, step.Name + ".stdout"));
            stderr = OpenFile(Path.Combine(outputDir, step.Name + ".stderr"));
        }
        else
        {
            stdout = PrefixedPipe(step.Name, toStderr: false);
            stderr = PrefixedPipe(step.Name, toStderr: true);
        }
        string[] argv = [options.EmissaryPath, "run", "--control-dir", root, "--name", step.Name, .. step.RunArguments, "--", .. step.Command];
        var env = step.Environment.GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        int pid = launcher.Start(new ResolvedCommand(options.EmissaryPath, argv[1..]) { Argv = argv }, new LaunchSettings
        {
            OwnProcessGroup = true,
            ExtraEnvironment = env,
            StdoutFd = stdout,
            StderrFd = stderr,
            WorkingDirectory = step.WorkingDirectory,
        });
        // The child has its copies; ours would keep the pipes open for ever.
        foreach (SafeFd fd in _fds.Where(f => f.Fd == stdout || f.Fd == stderr).ToArray())
        {
            fd.Dispose();
            _fds.Remove(fd);
        }
        return pid;
    }

    private int OpenFile(string path)
    {
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1A4);
        if (fd < 0)
        {
            throw new UsageException($"cannot write {path}: {Libc.Describe(Libc.LastErrno)}");
        }
        var safe = new SafeFd(fd);
        _fds.Add(safe);
        return fd;
    }

    /// <summary>A pipe whose read end prints each line as "name | line".</summary>
    private int PrefixedPipe(string name, bool toStderr)
    {
        (SafeFd read, SafeFd write) = SafeFd.Pipe();
        _fds.Add(write);
        var partial = new List<byte>();
        string prefix = name + " | ";
        _openStreams++;
        IDisposable? registration = null;
        registration = _reactor!.Watch(read.Fd, Libc.EPOLLIN, _ =>
        {
            byte* buffer = stackalloc byte[8192];
            nint n = Libc.Read(read.Fd, buffer, 8192);
            if (n > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        Print(prefix + Encoding.UTF8.GetString(partial.ToArray()), toStderr);
                        partial.Clear();
                    }
                    else
                    {
                        partial.Add(buffer[i]);
                    }
                }
                return;
            }
            if (n < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
            {
                return;
            }
            if (partial.Count > 0)
            {
                Print(prefix + Encoding.UTF8.GetString(partial.ToArray()), toStderr);
            }
            registration?.Dispose();
            read.Dispose();
            _openStreams--;
        });
        _registrations.Add(registration);
        return write.Fd;
    }

    private void StartWatching(string root)
    {
        _inotify = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (_inotify < 0)
        {
            Log.NoInotify(logger, Libc.Describe(Libc.LastErrno));
            return;
        }
        _fds.Add(new SafeFd(_inotify));
        Libc.InotifyAddWatch(_inotify, root, Libc.IN_CREATE | Libc.IN_MOVED_TO | Libc.IN_ONLYDIR);
        _registrations.Add(_reactor!.Watch(_inotify, Libc.EPOLLIN, _ =>
        {
            byte* buffer = stackalloc byte[4096];
            while (Libc.Read(_inotify, buffer, 4096) > 0)
            {
            }
            _reactor.Post(SupervisorEvent.Changed);
        }));
    }

    /// <summary>Reads every step's status; records and prints the state changes.</summary>
    private void Refresh()
    {
        foreach (StepView view in _views)
        {
            if (_inotify >= 0 && !_watches.ContainsKey(view.Name) && _dir!.StepExists(view.Name))
            {
                _watches[view.Name] = Libc.InotifyAddWatch(_inotify, _dir.StepDirectory(view.Name), Libc.IN_MOVED_TO | Libc.IN_ONLYDIR);
            }
            StepStatus? status = _dir!.ReadStatus(view.Name);
            if (status is null || status.State == view.State && status.ExitCode == view.Status?.ExitCode)
            {
                continue;
            }
            // Fast steps go through several states between two looks: report each state once, in
            // order, at the time the step recorded for it.
            string previous = view.State;
            view.Status = status;
            view.State = status.State;
            if (previous == "pending" && status.WaitingSince is { } waiting && status.State != StepStates.Waiting)
            {
                Transition(view, status with { State = StepStates.Waiting, ExitCode = null, Reason = null, Message = null }, waiting);
            }
            if (previous != StepStates.Running && status.StartedAt is { } started && StepStates.IsFinal(status.State))
            {
                Transition(view, status with { State = StepStates.Running, ExitCode = null, Reason = null, Message = null }, started);
            }
            if (StepStates.IsFinal(status.State))
            {
                view.Results = ReadResults(view.Name);
            }
            Transition(view, status, status.State switch
            {
                StepStates.Waiting => status.WaitingSince,
                StepStates.Running => status.StartedAt,
                _ => status.FinishedAt,
            } ?? DateTimeOffset.UtcNow);
        }
    }

    private void Transition(StepView view, StepStatus status, DateTimeOffset now)
    {
        var e = new StepEvent(now, view.Name, status.State, status.ExitCode, status.Reason, status.Message);
        if (_events is not null)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                json.WriteStartObject();
                json.WriteString("time", StepStatus.FormatTime(e.Time));
                json.WriteString("step", e.Step);
                json.WriteString("state", e.State);
                if (e.ExitCode is { } code) json.WriteNumber("exitCode", code);
                if (e.Reason is not null) json.WriteString("reason", e.Reason);
                if (e.Message is not null) json.WriteString("message", e.Message);
                json.WriteEndObject();
            }
            _events.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }
        if (!options.Live)
        {
            string detail = status.ExitCode is { } c ? $" (exit {c}, {status.Reason})" : status.WaitingFor is { Count: > 0 } w ? $" for {string.Join(", ", w)}" : "";
            Print($"[{(now - _origin).TotalSeconds,7:0.000}s] {view.Name}: {status.State}{detail}", toStderr: true);
        }
    }

    private IReadOnlyList<KeyValuePair<string, string>> ReadResults(string step)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(_dir!.PathOf(step, ControlDirectory.TerminationFile)));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("results", out JsonElement results))
            {
                return results.EnumerateObject()
                    .Select(p => new KeyValuePair<string, string>(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()))
                    .ToArray();
            }
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
        }
        return [];
    }

    private string Results()
    {
        var text = new StringBuilder();
        foreach (StepView view in _views.Where(v => v.Results.Count > 0))
        {
            foreach ((string key, string value) in view.Results)
            {
                text.Append(CultureInfo.InvariantCulture, $"  result {view.Name}.{key} = {value}\n");
            }
        }
        return text.ToString();
    }

    /// <summary>0 when every step succeeded; else the exit code of the first step that failed; 123 if steps were only skipped.</summary>
    private int Outcome(int? interruptedBy)
    {
        if (interruptedBy is { } signal)
        {
            return ExitCodes.ForSignal(signal);
        }
        StepView? failed = _views
            .Where(v => v.Status is null ? v.ProcessExitCode is not 0 : v.Status.State == StepStates.Failed && !v.Status.ContinueOnError)
            .OrderBy(v => v.Status?.FinishedAt ?? DateTimeOffset.MaxValue)
            .FirstOrDefault();
        if (failed is not null)
        {
            return failed.Status?.ExitCode ?? failed.ProcessExitCode ?? ExitCodes.EmissaryFailure;
        }
        return _views.Any(v => v.State == StepStates.Skipped) ? ExitCodes.Skipped : ExitCodes.Success;
    }

    /// <summary>After the grace period: the steps' emissaries and their commands' groups.</summary>
    private void KillEverything()
    {
        foreach (StepView view in _views.Where(v => v.Pid != 0))
        {
            if (_dir!.ReadStatus(view.Name) is { State: StepStates.Running, Pid: { } child })
            {
                Libc.Kill(-child, Signals.KILL);
            }
            Libc.Kill(-view.Pid, Signals.KILL);
            Libc.Kill(view.Pid, Signals.KILL);
        }
    }

    private void Print(string line, bool toStderr)
    {
        if (options.Live)
        {
            EraseLive();
        }
        StderrWriter.Write(toStderr ? 2 : 1, line + "\n");
        if (options.Live)
        {
            DrawLive();
        }
    }

    private void FlushOutput() => _pendingOutput.Clear();

    private void DrawLive()
    {
        EraseLive();
        var block = new StringBuilder();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (StepView view in _views)
        {
            StepStatus? s = view.Status;
            string elapsed = s?.StartedAt is { } st ? Duration.Format((s.FinishedAt ?? now) - st)
                : s?.WaitingSince is { } ws ? Duration.Format(now - ws) : "";
            string mark = view.State switch
            {
                StepStates.Succeeded => "\u001b[32m✔\u001b[0m",
                StepStates.Failed => "\u001b[31m✘\u001b[0m",
                StepStates.Skipped => "\u001b[33m–\u001b[0m",
                StepStates.Running => "\u001b[34m▶\u001b[0m",
                _ => "…",
            };
            block.Append(CultureInfo.InvariantCulture, $" {mark} {view.Name,-20} {view.State,-10} {elapsed}\n");
        }
        StderrWriter.Write(2, block.ToString());
        _liveLines = _views.Count;
    }

    private void EraseLive()
    {
        if (_liveLines > 0)
        {
            StderrWriter.Write(2, $"\u001b[{_liveLines}F\u001b[J");
            _liveLines = 0;
        }
    }

    private static void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        foreach (IDisposable registration in _registrations)
        {
            registration.Dispose();
        }
        foreach (SafeFd fd in _fds)
        {
            fd.Dispose();
        }
        _events?.Dispose();
        _reactor?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "inotify unavailable ({Reason}): step states are read when steps exit")]
        public static partial void NoInotify(ILogger logger, string reason);
    }
}
