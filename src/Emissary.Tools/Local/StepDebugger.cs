using System.Text;
using Emissary.Commands;
using Emissary.Events;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Tools.Local;

/// <summary>
/// `emissary local --debug`: when a step pauses (every step has <c>--breakpoint on-failure</c>),
/// opens a shell in its context on the terminal, then asks <c>[c]ontinue, [f]ail, [r]erun?</c>
/// and sends the answer as `emissary debug ACTION NAME` does (<see cref="ControlCommands.Debug"/>,
/// through the step's record). One pause at a time; the others wait their turn, and so do the
/// steps after them (a paused step is not finished). Each pause is handled once: a rerun that
/// pauses again is a new pause (a new attempt), and opens a new shell.
///
/// It never blocks the runner's loop: the shell is a child reaped like the steps, the answer is
/// read when the terminal is readable, so Ctrl-C (at the prompt) or SIGTERM end everything as
/// without --debug. While the shell runs it is the terminal's foreground process group (its
/// Ctrl-C is its own), and the <see cref="LocalConsole"/> holds every other line.
/// </summary>
internal sealed class StepDebugger(IReadOnlyList<StepView> views, ControlLayout layout, ILocalEngine engine, Reactor reactor, LocalConsole console, int terminal) : IDisposable
{
    private readonly Dictionary<string, (long Since, int Attempts)> _handled = new(StringComparer.Ordinal);
    private StepView? _step;
    private (long Since, int Attempts) _pause;
    private int _shell;
    private IDisposable? _answer;
    private bool _interrupted;

    /// <summary>A shell is open, or an answer awaited: the run is not over.</summary>
    public bool Active => _step is not null || _shell != 0;

    /// <summary>After each look at the steps: opens a shell for a step that has newly paused, if none is open.</summary>
    public void Refresh()
    {
        if (Active || _interrupted)
        {
            return;
        }
        foreach (StepView view in views)
        {
            if (PauseOf(view) is { } pause && (!_handled.TryGetValue(view.Name, out var done) || done != pause))
            {
                _handled[view.Name] = pause;
                Open(view, pause);
                return;
            }
        }
    }

    /// <summary>Whether <paramref name="pid"/> was the shell (then the answer is asked for).</summary>
    public bool ChildExited(int pid)
    {
        if (pid == 0 || pid != _shell)
        {
            return false;
        }
        _shell = 0;
        TakeTerminal();
        if (_step is not null)
        {
            Ask();
        }
        return true;
    }

    /// <summary>Ctrl-C or SIGTERM to emissary local: the shell is hung up on (as when its terminal closes), no question is asked.</summary>
    public void Interrupt()
    {
        _interrupted = true;
        if (_shell != 0)
        {
            Libc.Kill(-_shell, Signals.HUP);
            Libc.Kill(-_shell, Signals.CONT);
        }
        _answer?.Dispose();
        _answer = null;
        if (_step is not null)
        {
            StderrWriter.Write(2, "\n");
            Done();
        }
        TakeTerminal();
    }

    /// <summary>The grace is over: the shell and what it started, now.</summary>
    public void Kill()
    {
        if (_shell != 0)
        {
            Libc.Kill(-_shell, Signals.KILL);
        }
    }

    /// <summary>The step's current pause, as (since, attempt): null when it is not paused.</summary>
    private static (long, int)? PauseOf(StepView view) =>
        view.Status is { State: StepState.Paused, Pause: { } p } s ? (p.Since.UtcTicks, s.Attempts) : null;

    private void Open(StepView view, (long, int) pause)
    {
        _step = view;
        _pause = pause;
        console.Hold();
        (ControlDirectory dir, string entry) = layout.Record(view.Name);
        PausedStepContext context = dir.ReadContext(entry) is { } text ? PausedStepContext.Parse(text) : new PausedStepContext("", null, new Dictionary<string, string>());
        StepStatus status = view.Status!;
        var banner = new StringBuilder();
        banner.Append("\n── ").Append(view.Name).Append(": paused ").Append(status.Pause!.At.Name());
        if (status.ExitCode is { } code)
        {
            banner.Append(" (exit ").Append(code).Append(')');
        }
        if (status.Attempts > 1)
        {
            banner.Append(", attempt ").Append(status.Attempts);
        }
        banner.Append(" ── a shell in its context; exit it to continue, fail or rerun the step\n");
        banner.Append("   command:   ").Append(context.CommandLine).Append('\n');
        banner.Append("   directory: ").Append(context.Directory ?? "(unknown)").Append('\n');
        foreach ((string key, string value) in context.Added.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            banner.Append("   ").Append(key).Append('=').Append(value).Append('\n');
        }
        // The record is the step's text: each line printed escaped, as `emissary debug env` does.
        foreach (string line in banner.ToString().Split('\n'))
        {
            StderrWriter.Write(2, ErrorText.Printable(line) + "\n");
        }

        DebugShell shell = engine.ShellFor(view.Name, context);
        try
        {
            _shell = Launch(shell);
        }
        catch (LaunchException e)
        {
            StderrWriter.Write(2, $"emissary local: cannot open a shell: {e.Message}\n");
            Ask();
        }
    }

    /// <summary>
    /// Starts the shell in its own process group on the terminal, as the terminal's foreground
    /// group. The launcher hands the foreground over when fd 0 is the terminal this process holds
    /// in the foreground: fd 0 is the terminal for the launch only (the steps have /dev/null there).
    /// </summary>
    private int Launch(DebugShell shell)
    {
        int devNull = Libc.Fcntl(0, Libc.F_DUPFD_CLOEXEC, 3);
        Libc.Dup3(terminal, 0, 0);
        try
        {
            int pid = new PosixProcessLauncher().Start(new ResolvedCommand(shell.Path, shell.Argv.Skip(1).ToArray()) { Argv = shell.Argv }, new LaunchSettings
            {
                OwnProcessGroup = true,
                ExtraEnvironment = shell.Environment,
                StdoutFd = terminal,
                StderrFd = terminal,
                WorkingDirectory = shell.Directory,
            });
            // Also from this side: whichever of the two runs first, the shell finds itself in the foreground.
            Libc.TcSetPgrp(terminal, pid);
            return pid;
        }
        finally
        {
            if (devNull >= 0)
            {
                Libc.Dup3(devNull, 0, 0);
                Libc.Close(devNull);
            }
        }
    }

    /// <summary>The terminal's foreground back to emissary local (SIGTTOU is blocked here, as every supervised signal).</summary>
    private void TakeTerminal() => Libc.TcSetPgrp(terminal, Libc.GetPgrp());

    private void Ask()
    {
        StepView step = _step!;
        if (PauseOf(step) != _pause)
        {
            StderrWriter.Write(2, $"── {step.Name} is no longer paused ({step.State?.JsonName()}): nothing to ask\n");
            Done();
            return;
        }
        StderrWriter.Write(2, $"── {step.Name}: [c]ontinue, [f]ail, [r]erun? ");
        _answer ??= reactor.Watch(terminal, Libc.EPOLLIN, _ => Answered());
    }

    private unsafe void Answered()
    {
        byte* buffer = stackalloc byte[256];
        nint n = Libc.Read(terminal, buffer, 256);
        if (n < 0 && Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
        {
            return;
        }
        // End of input (Ctrl-D) or a terminal gone: as a breakpoint's timeout does, go on with the recorded outcome.
        DebugRequest? request = n <= 0 ? DebugRequest.Continue : ParseAnswer(new ReadOnlySpan<byte>(buffer, (int)n));
        if (request is not { } chosen)
        {
            StderrWriter.Write(2, $"── {_step!.Name}: [c]ontinue, [f]ail, [r]erun? ");
            return;
        }
        _answer?.Dispose();
        _answer = null;
        (ControlDirectory dir, string entry) = layout.Record(_step!.Name);
        try
        {
            ControlCommands.Debug(dir, entry, _step.Name, chosen);
            StderrWriter.Write(2, $"── {_step.Name}: {chosen.Word()}\n");
        }
        catch (CommandletException e)
        {
            StderrWriter.Write(2, $"── {ErrorText.Printable(e.Message)}\n");
        }
        Done();
    }

    /// <summary>The first letter of the line: c, f or r (or the word); anything else asks again.</summary>
    internal static DebugRequest? ParseAnswer(ReadOnlySpan<byte> line)
    {
        string text = Encoding.UTF8.GetString(line).Trim().ToLowerInvariant();
        return text switch
        {
            "c" or "continue" => DebugRequest.Continue,
            "f" or "fail" => DebugRequest.Fail,
            "r" or "rerun" => DebugRequest.Rerun,
            _ => null,
        };
    }

    private void Done()
    {
        _step = null;
        console.Release();
    }

    public void Dispose()
    {
        Kill();
        _answer?.Dispose();
        if (_shell != 0)
        {
            TakeTerminal();
        }
    }
}
