using Emissary.Control;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Logging;
using Emissary.Supervision.Posix;

namespace Emissary.Tools.Local;

/// <summary>
/// Runs a pod's steps through an <see cref="ILocalEngine"/>: the event loop. It follows the
/// control directory (<see cref="ControlDirectoryWatcher"/>, <see cref="StepTracker"/>), reports
/// each state change (progress lines or the <see cref="LiveView"/>, <see cref="EventsFile"/>),
/// routes the steps' output (<see cref="StepOutput"/>), and at the end prints the timeline and
/// the <see cref="StepResults"/>, writes --timeline, and returns the <see cref="PodOutcome"/>.
/// SIGINT, SIGTERM and SIGHUP behave like pod deletion (the engine stops every step; a second
/// one kills at once). With --debug a <see cref="StepDebugger"/> opens a shell in each step that
/// pauses, within the same loop.
/// </summary>
internal sealed class LocalRunner(LocalOptions options, ILocalEngine engine, ILogger logger) : IDisposable
{
    private Reactor? _reactor;
    private PrefixedPipes? _pipes;
    private OutputDirectory? _outputDirectory;
    private ControlDirectoryWatcher? _watcher;
    private EventsFile? _events;
    private StepDebugger? _debugger;
    private SafeFd? _terminal;

    /// <summary>Runs every step to its end; returns the pod's outcome as an exit code.</summary>
    public int Run()
    {
        IReadOnlyList<StepView> views = engine.Views;
        // Created first: from here on Ctrl-C is queued for the loop below, even while the engine prepares.
        _reactor = new Reactor();
        DateTimeOffset origin = DateTimeOffset.UtcNow;
        _terminal = DetachStandardInput(keepTerminal: options.Debug);
        if (options.EventsFile is { } eventsPath)
        {
            _events = new EventsFile(eventsPath);
        }
        var console = new LocalConsole(options.Live ? new LiveView(views) : null);
        _pipes = new PrefixedPipes(_reactor, console);
        _outputDirectory = options.OutputDirectory is { } outputDir ? new OutputDirectory(outputDir) : null;
        var output = new StepOutput(_pipes, _outputDirectory, console);

        ControlLayout layout = engine.Prepare(output);
        _watcher = new ControlDirectoryWatcher(layout.Root, _reactor, logger);
        var tracker = new StepTracker(views, layout, _watcher, (view, status, at) =>
        {
            _events?.Write(new StepEvent(at, view.Name, status.State, status.ExitCode, status.Reason, status.Message) { Usage = status.State.IsFinal() ? status.Usage : null });
            if (!console.IsLive)
            {
                string detail = status.ExitCode is { } c ? $" (exit {c}, {status.Reason})" : status.WaitingFor is { Count: > 0 } w ? $" for {string.Join(", ", w)}" : "";
                console.Print($"[{(at - origin).TotalSeconds,7:0.000}s] {view.Name}: {status.State.JsonName()}{ErrorText.Printable(detail)}{LiveView.RestartText(status)}", toStderr: true);
            }
        });
        if (_terminal is not null)
        {
            _debugger = new StepDebugger(views, layout, engine, _reactor, console, _terminal.Fd);
        }
        engine.Start(output);
        tracker.Refresh();
        _debugger?.Refresh();

        int? interruptedBy = null;
        long drainUntil = long.MaxValue;
        while (engine.Running || _debugger?.Active == true || (_pipes.Open > 0 && Environment.TickCount64 < drainUntil))
        {
            if (!engine.Running && drainUntil == long.MaxValue)
            {
                // Every step is over; a background grandchild may still hold an output pipe: give
                // it a moment, not forever (the same rule as `emissary run`).
                drainUntil = Environment.TickCount64 + 500;
            }
            long? until = drainUntil != long.MaxValue ? drainUntil : Earliest(engine.KillAt, engine.WakeAt);
            TimeSpan? wait = console.IsLive ? TimeSpan.FromMilliseconds(100) : null;
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
                        _debugger?.Interrupt();
                        engine.Stop(s.Signal, output);
                    }
                    else
                    {
                        output.Note($"{Signals.Name(s.Signal)} again: killing every step now");
                        _debugger?.Kill();
                        engine.Kill();
                    }
                    break;
                case SupervisorEvent.ChildExited exited:
                    if (_debugger?.ChildExited(exited.Pid) != true)
                    {
                        engine.ChildExited(exited.Pid, exited.Status);
                    }
                    break;
            }
            if (engine.KillAt is { } killAt && Environment.TickCount64 >= killAt)
            {
                _debugger?.Kill();
                engine.Kill();
            }
            engine.Tick(output);
            tracker.Refresh();
            _debugger?.Refresh();
            console.Redraw();
        }
        tracker.Refresh();
        tracker.ReadResults();
        console.EraseLive();

        DateTimeOffset end = DateTimeOffset.UtcNow;
        engine.Finish(output, options.KeepControlDirectory);
        StderrWriter.Write(1, "\n" + Timeline.Text(views, origin, end) + StepResults.Text(views));
        if (options.TimelineSvg is { } svg)
        {
            File.WriteAllText(svg, Timeline.Svg(views, origin, end));
        }
        return interruptedBy is { } signal ? PodOutcome.Interrupted(signal) : PodOutcome.Of(views);
    }

    private static long? Earliest(long? a, long? b) => a is { } x && b is { } y ? Math.Min(x, y) : a ?? b;

    /// <summary>
    /// Steps never read the terminal (a container has no stdin unless it asks): fd 0 becomes
    /// /dev/null, which every child inherits. This also keeps the launcher from handing the
    /// terminal's foreground to a step's process group, which would send Ctrl-C to that step
    /// alone instead of to emissary local. With <paramref name="keepTerminal"/> (--debug) the
    /// terminal is kept first, close-on-exec, for the debug shells; returned.
    /// </summary>
    private static SafeFd? DetachStandardInput(bool keepTerminal)
    {
        int terminal = keepTerminal ? Libc.Fcntl(0, Libc.F_DUPFD_CLOEXEC, 3) : -1;
        Libc.Close(0);
        int fd = Libc.Open("/dev/null", Libc.O_RDONLY, 0);
        if (fd > 0)
        {
            Libc.Close(fd); // fd 0 was taken meanwhile: leave it, the child gets what it is
        }
        return terminal >= 0 ? new SafeFd(terminal) : null;
    }

    public void Dispose()
    {
        _debugger?.Dispose();
        _terminal?.Dispose();
        _pipes?.Dispose();
        _outputDirectory?.Dispose();
        _watcher?.Dispose();
        _events?.Dispose();
        _reactor?.Dispose();
    }
}
