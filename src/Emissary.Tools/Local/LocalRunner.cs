using System.Globalization;
using System.Text;
using System.Text.Json;
using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Logging;
using Emissary.Supervision.Posix;
using Microsoft.Extensions.Logging;

namespace Emissary.Tools.Local;

/// <summary>How `emissary local` reports, whatever runs the steps.</summary>
internal sealed record LocalOptions
{
    /// <summary>Each step's output into DIR/NAME.stdout and .stderr instead of the terminal.</summary>
    public string? OutputDirectory { get; init; }

    public string? EventsFile { get; init; }

    public string? TimelineSvg { get; init; }

    /// <summary>A live, redrawn view (stdout is a terminal) instead of line-by-line progress.</summary>
    public bool Live { get; init; }

    /// <summary>Keep what the run leaves behind: the temporary control directory, or the podman pod and its volumes.</summary>
    public bool KeepControlDirectory { get; init; }
}

/// <summary>
/// What runs the steps of `emissary local`: local processes (<see cref="ProcessEngine"/>) or a
/// podman pod (<see cref="PodmanEngine"/>). Either way the steps are `emissary run` processes
/// writing a control directory; <see cref="LocalRunner"/> watches it and does all the reporting.
/// Everything here is called from the runner's single thread.
/// </summary>
internal interface ILocalEngine : IDisposable
{
    /// <summary>The steps, in the pod's order: what the runner shows and reports.</summary>
    IReadOnlyList<StepView> Views { get; }

    /// <summary>Gets everything ready; returns the control directory the steps write, which exists on return.</summary>
    string Prepare(IStepOutput output);

    /// <summary>Starts the steps (the runner is watching the control directory by then).</summary>
    void Start(IStepOutput output);

    /// <summary>Whether something the engine waits for is still running.</summary>
    bool Running { get; }

    /// <summary>A child process of this process has been reaped (the runner reaps every child).</summary>
    void ChildExited(int pid, ExitStatus status);

    /// <summary>Ctrl-C (SIGINT, SIGTERM or SIGHUP): stop every step the way a pod deletion would.</summary>
    void Stop(int signal, IStepOutput output);

    /// <summary>When (<see cref="Environment.TickCount64"/>) <see cref="Kill"/> is due after <see cref="Stop"/>, or null.</summary>
    long? KillAt { get; }

    /// <summary>The grace is over (or a second Ctrl-C came): end everything now.</summary>
    void Kill();

    /// <summary>After the last look at the control directory: hand over any output not shown yet, then clean up (unless <paramref name="keep"/>).</summary>
    void Finish(IStepOutput output, bool keep);
}

/// <summary>Where the steps' output goes (the runner's side of <see cref="ILocalEngine"/>).</summary>
internal interface IStepOutput
{
    /// <summary>Descriptors for a child's stdout and stderr: prefixed pipes, or the --output-dir files. Call <see cref="ChildStarted"/> once the child has them.</summary>
    (int Stdout, int Stderr) OpenStreams(string step);

    /// <summary>Closes this process's copies of the descriptors <see cref="OpenStreams"/> gave.</summary>
    void ChildStarted(int stdout, int stderr);

    /// <summary>Output collected after the fact (container logs): printed prefixed, or written to the --output-dir file.</summary>
    void Write(string step, byte[] bytes, bool toStderr);

    /// <summary>A line of emissary local's own (stderr).</summary>
    void Note(string line);
}

/// <summary>
/// Runs a pod's steps through an <see cref="ILocalEngine"/> and reports them: watches the
/// control directory (inotify) for state changes, prints progress (a live view on a terminal,
/// plain lines otherwise) and each step's output prefixed with its name, writes --events, and at
/// the end the text timeline, results, --timeline SVG and the pod's outcome as the exit code.
/// SIGINT, SIGTERM and SIGHUP behave like pod deletion (the engine stops every step; a second
/// one kills at once).
/// </summary>
internal sealed unsafe partial class LocalRunner(LocalOptions options, ILocalEngine engine, ILogger logger) : IStepOutput, IDisposable
{
    private readonly List<IDisposable> _registrations = [];
    private readonly List<SafeFd> _fds = [];
    private readonly Dictionary<string, int> _watches = new(StringComparer.Ordinal);
    private readonly HashSet<string> _writtenFiles = new(StringComparer.Ordinal);
    private IReadOnlyList<StepView> _views = [];
    private Reactor? _reactor;
    private ControlDirectory? _dir;
    private StreamWriter? _events;
    private int _inotify = -1;
    private int _openStreams;
    private int _liveLines;
    private DateTimeOffset _origin;

    /// <summary>Runs every step to its end; returns the pod's outcome as an exit code.</summary>
    public int Run()
    {
        _views = engine.Views;
        // Created first: from here on Ctrl-C is queued for the loop below, even while the engine prepares.
        _reactor = new Reactor();
        _origin = DateTimeOffset.UtcNow;
        DetachStandardInput();
        if (options.EventsFile is { } eventsPath)
        {
            _events = new StreamWriter(eventsPath, append: false, new UTF8Encoding(false)) { AutoFlush = true };
        }

        string root = engine.Prepare(this);
        _dir = new ControlDirectory(root);
        StartWatching(root);
        engine.Start(this);
        Refresh();

        int? interruptedBy = null;
        long drainUntil = long.MaxValue;
        while (engine.Running || (_openStreams > 0 && Environment.TickCount64 < drainUntil))
        {
            if (!engine.Running && drainUntil == long.MaxValue)
            {
                // Every step is over; a background grandchild may still hold an output pipe: give
                // it a moment, not forever (the same rule as `emissary run`).
                drainUntil = Environment.TickCount64 + 500;
            }
            long? until = drainUntil != long.MaxValue ? drainUntil : engine.KillAt;
            TimeSpan? wait = options.Live ? TimeSpan.FromMilliseconds(100) : null;
            if (until is { } u)
            {
                var left = TimeSpan.FromMilliseconds(Math.Max(0, u - Environment.TickCount64));
                wait = wait is { } w && w < left ? w : left;
            }

            switch (_reactor.Next(wait))
            {
                case SupervisorEvent.SignalReceived { Signal: Signals.INT or Signals.TERM or Signals.HUP } s:
                    if (interruptedBy is null)
                    {
                        interruptedBy = s.Signal;
                        engine.Stop(s.Signal, this);
                    }
                    else
                    {
                        Note($"{Signals.Name(s.Signal)} again: killing every step now");
                        engine.Kill();
                    }
                    break;
                case SupervisorEvent.ChildExited exited:
                    engine.ChildExited(exited.Pid, exited.Status);
                    break;
            }
            if (engine.KillAt is { } killAt && Environment.TickCount64 >= killAt)
            {
                engine.Kill();
            }
            Refresh();
            if (options.Live)
            {
                DrawLive();
            }
        }
        Refresh();
        if (options.Live)
        {
            EraseLive();
        }

        DateTimeOffset end = DateTimeOffset.UtcNow;
        engine.Finish(this, options.KeepControlDirectory);
        StderrWriter.Write(1, "\n" + Timeline.Text(_views, _origin, end) + Results());
        if (options.TimelineSvg is { } svg)
        {
            File.WriteAllText(svg, Timeline.Svg(_views, _origin, end));
        }
        return Outcome(interruptedBy);
    }

    /// <summary>
    /// Steps never read the terminal (a container has no stdin unless it asks): fd 0 becomes
    /// /dev/null, which every child inherits. This also keeps the launcher from handing the
    /// terminal's foreground to a step's process group, which would send Ctrl-C to that step
    /// alone instead of to emissary local.
    /// </summary>
    private static void DetachStandardInput()
    {
        Libc.Close(0);
        int fd = Libc.Open("/dev/null", Libc.O_RDONLY, 0);
        if (fd > 0)
        {
            Libc.Close(fd); // fd 0 was taken meanwhile: leave it, the child gets what it is
        }
    }

    public (int Stdout, int Stderr) OpenStreams(string step)
    {
        if (options.OutputDirectory is { } outputDir)
        {
            Directory.CreateDirectory(outputDir);
            _writtenFiles.Add(Path.Combine(outputDir, step + ".stdout"));
            _writtenFiles.Add(Path.Combine(outputDir, step + ".stderr"));
            return (OpenFile(Path.Combine(outputDir, step + ".stdout")), OpenFile(Path.Combine(outputDir, step + ".stderr")));
        }
        return (PrefixedPipe(step, toStderr: false), PrefixedPipe(step, toStderr: true));
    }

    public void ChildStarted(int stdout, int stderr)
    {
        // The child has its copies; ours would keep the pipes open for ever.
        foreach (SafeFd fd in _fds.Where(f => f.Fd == stdout || f.Fd == stderr).ToArray())
        {
            fd.Dispose();
            _fds.Remove(fd);
        }
    }

    public void Write(string step, byte[] bytes, bool toStderr)
    {
        if (options.OutputDirectory is { } outputDir)
        {
            Directory.CreateDirectory(outputDir);
            string path = Path.Combine(outputDir, step + (toStderr ? ".stderr" : ".stdout"));
            using var file = new FileStream(path, _writtenFiles.Add(path) ? FileMode.Create : FileMode.Append, FileAccess.Write);
            file.Write(bytes);
            return;
        }
        string text = Encoding.UTF8.GetString(bytes);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }
        if (text.Length == 0)
        {
            return;
        }
        foreach (string line in text.Split('\n'))
        {
            Print(step + " | " + line, toStderr);
        }
    }

    public void Note(string line) => Print(line, toStderr: true);

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
            Libc.Drain(_inotify);
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
            StepState? previous = view.State;
            view.Status = status;
            view.State = status.State;
            if (previous is null && status.WaitingSince is { } waiting && status.State != StepState.Waiting)
            {
                Transition(view, status with { State = StepState.Waiting, ExitCode = null, Reason = null, Message = null }, waiting);
            }
            if (previous != StepState.Running && status.StartedAt is { } started && status.State.IsFinal())
            {
                Transition(view, status with { State = StepState.Running, ExitCode = null, Reason = null, Message = null }, started);
            }
            if (status.State.IsFinal())
            {
                view.Results = ReadResults(view.Name);
            }
            Transition(view, status, status.State switch
            {
                StepState.Waiting => status.WaitingSince,
                StepState.Running => status.StartedAt,
                _ => status.FinishedAt,
            } ?? DateTimeOffset.UtcNow);
        }
    }

    private void Transition(StepView view, StepStatus status, DateTimeOffset now)
    {
        var e = new StepEvent(now, view.Name, status.State, status.ExitCode, status.Reason, status.Message);
        if (_events is not null)
        {
            _events.WriteLine(JsonText.Write(json =>
            {
                json.WriteStartObject();
                json.WriteString("time", Rfc3339.Format(e.Time));
                json.WriteString("step", e.Step);
                json.WriteString("state", e.State.JsonName());
                if (e.ExitCode is { } code) json.WriteNumber("exitCode", code);
                if (e.Reason is not null) json.WriteString("reason", e.Reason);
                if (e.Message is not null) json.WriteString("message", e.Message);
                json.WriteEndObject();
            }));
        }
        if (!options.Live)
        {
            string detail = status.ExitCode is { } c ? $" (exit {c}, {status.Reason})" : status.WaitingFor is { Count: > 0 } w ? $" for {string.Join(", ", w)}" : "";
            Print($"[{(now - _origin).TotalSeconds,7:0.000}s] {view.Name}: {status.State.JsonName()}{detail}", toStderr: true);
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
    private int Outcome(int? interruptedBy) => interruptedBy is { } signal ? ExitCodes.ForSignal(signal) : Outcome(_views);

    /// <summary>
    /// The pod's outcome from its steps. A step fails when its final state is failed (without
    /// --on-error continue), or when it never reached a final state and its emissary (or its
    /// container) ended with a code other than 0: it crashed, and that code is its outcome.
    /// </summary>
    internal static int Outcome(IReadOnlyList<StepView> views)
    {
        StepView? failed = views
            .Where(v => v.NeverFinished() ? v.ProcessExitCode is not 0 : v.State == StepState.Failed && v.Status?.ContinueOnError != true)
            .OrderBy(v => v.Status?.FinishedAt ?? DateTimeOffset.MaxValue)
            .FirstOrDefault();
        if (failed is not null)
        {
            return (failed.NeverFinished() ? failed.ProcessExitCode : failed.Status?.ExitCode) ?? ExitCodes.EmissaryFailure;
        }
        return views.Any(v => v.State == StepState.Skipped) ? ExitCodes.Skipped : ExitCodes.Success;
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

    private void DrawLive()
    {
        EraseLive();
        var block = new StringBuilder();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (StepView view in _views)
        {
            StepStatus? s = view.Status;
            string elapsed = s?.StartedAt is { } st ? Duration.Format((s.FinishedAt ?? now) - st)
                : s?.WaitingSince is { } ws ? Duration.Format((s.FinishedAt ?? now) - ws) : "";
            string mark = view.State switch
            {
                StepState.Succeeded => "\u001b[32m✔\u001b[0m",
                StepState.Failed => "\u001b[31m✘\u001b[0m",
                StepState.Skipped => "\u001b[33m–\u001b[0m",
                StepState.Running => "\u001b[34m▶\u001b[0m",
                _ => "…",
            };
            block.Append(CultureInfo.InvariantCulture, $" {mark} {view.Name,-20} {view.State?.JsonName() ?? "pending",-10} {elapsed}\n");
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

internal static class StepViewExtensions
{
    /// <summary>At the end of a run: the step never recorded a final state (its emissary or container died, or never started).</summary>
    public static bool NeverFinished(this StepView view) => view.State?.IsFinal() != true;
}
