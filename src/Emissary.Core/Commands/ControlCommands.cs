using System.Globalization;
using System.Text;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Files;
using Emissary.Results;
using Emissary.Supervision;
using Emissary.Foundation.Sequences;

namespace Emissary.Commands;

/// <summary>Exit codes of the commandlets (signal, start, skip, status, debug).</summary>
internal static class CommandletExitCodes
{
    /// <summary>The step exists but is in the wrong state (not running, already started, finished, not paused).</summary>
    public const int WrongState = 1;

    /// <summary>No such step, or no control directory.</summary>
    public const int UnknownStep = 2;
}

/// <summary>A commandlet's failure: one line, a documented exit code.</summary>
internal sealed class CommandletException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// The commandlets run by `kubectl exec` from any container that mounts the control directory.
/// They never need a shell, a `kill` binary or the target's uid: requests travel through the
/// control directory, where the target step's emissary acts on them.
/// </summary>
internal static class ControlCommands
{
    /// <summary><c>emissary signal NAME SIGNAL</c>: ask step NAME's emissary to signal its process group.</summary>
    public static void Signal(ControlDirectory dir, string name, int signal)
    {
        RequireStep(dir, name);
        Send(dir, name, signal.ToString(CultureInfo.InvariantCulture), "signal");
    }

    /// <summary>
    /// <c>emissary debug continue|fail|rerun|pause NAME</c>: a word on step NAME's signal FIFO (the
    /// one channel into a live step's event loop: writable through a read-only record mount,
    /// bounded, never followed through a link), after checking that the request fits the step's
    /// state as its status says. The step checks again: a request that does not fit is ignored.
    /// </summary>
    public static void Debug(ControlDirectory dir, string name, DebugRequest request)
    {
        RequireStep(dir, name);
        Debug(dir, name, name, request);
    }

    /// <summary>
    /// The same for a record that `emissary local` located itself: <paramref name="entry"/> is the
    /// record's directory in <paramref name="dir"/> and <paramref name="step"/> the step's name, for
    /// the messages. They differ where a step's record is a volume of its own: podman keeps it on
    /// this machine in <c>VOLUME/_data</c>, which is no step name.
    /// </summary>
    public static void Debug(ControlDirectory dir, string entry, string step, DebugRequest request)
    {
        StepStatus? status = dir.ReadStatus(entry);
        string word = request.Word();
        if (request == DebugRequest.Pause
            ? status is null || status.State is StepState.Paused || status.State.IsFinal()
            : status?.State != StepState.Paused)
        {
            throw new CommandletException(request == DebugRequest.Pause
                ? $"step '{step}' is {Describe(status)}: cannot pause it"
                : $"step '{step}' is not paused ({Describe(status)})", CommandletExitCodes.WrongState);
        }
        Send(dir, entry, word, word, step);
    }

    /// <summary>
    /// <c>emissary debug env NAME [--values]</c>: what step NAME's command runs with, as it recorded
    /// it when it paused (untrusted text: printed escaped). Values only with <paramref name="values"/>,
    /// read from the paused step's emissary in /proc: only in the step's own container, as its uid
    /// or root — the kernel's rule for /proc/PID/environ, so no one sees a value they could not
    /// read anyway.
    /// </summary>
    public static string Env(ControlDirectory dir, string name, bool values)
    {
        RequireStep(dir, name);
        StepStatus? status = dir.ReadStatus(name);
        string context = dir.ReadContext(name)
            ?? throw new CommandletException(status?.State == StepState.Paused
                ? $"step '{name}' is paused but {dir.PathOf(name, StepContext.File)} is not a regular file of at most {ControlDirectory.MaxStatusBytes} bytes"
                : $"step '{name}' has not paused ({Describe(status)})", CommandletExitCodes.WrongState);
        var text = new StringBuilder();
        foreach (string line in context.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            text.Append(Cell(line)).Append('\n');
        }
        if (values)
        {
            string path = "/proc/" + (status?.Pid ?? 0).ToString(CultureInfo.InvariantCulture) + "/environ";
            BoundedRead read = UntrustedFile.Read(Libc.AT_FDCWD, path, 1 << 20);
            if (status is not { State: StepState.Paused } || read.Outcome != ReadOutcome.Read)
            {
                throw new CommandletException($"cannot read {path}: run this in step '{name}''s own container while it is paused, as its user or root", CommandletExitCodes.WrongState);
            }
            text.Append("values:\n");
            foreach (string entry in Encoding.UTF8.GetString(read.Bytes!).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                text.Append("  ").Append(Cell(entry)).Append('\n');
            }
        }
        return text.ToString();
    }

    /// <summary>Writes one request line to step NAME's signal FIFO (only ever a FIFO, opened without following a link).</summary>
    private static unsafe void Send(ControlDirectory dir, string name, string line, string what, string? stepName = null)
    {
        using SafeFd? step = dir.OpenStep(name);
        // Only ever a FIFO: a regular file, a device or a link put in its place is refused, not
        // opened. O_NONBLOCK: with no reader (the step's emissary is not running) open fails with
        // ENXIO instead of blocking forever. O_NOFOLLOW: never through a link.
        int fd = step is not null && Libc.StatAt(step.Fd, ControlDirectory.SignalFifo) is { Kind: FileType.Fifo }
            ? Libc.OpenAtRetrying(step.Fd, ControlDirectory.SignalFifo, Libc.O_WRONLY | Libc.O_NONBLOCK | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0)
            : -1;
        using var handle = fd >= 0 ? new SafeFd(fd) : null;
        // The leading newline ends whatever partial line a neighbour left in the FIFO ("cont" with
        // no newline would otherwise swallow this request as "contcontinue"); the step ignores
        // the empty line it makes when there was none.
        byte[] request = Encoding.ASCII.GetBytes("\n" + line + "\n");
        fixed (byte* p = request)
        {
            // A few bytes, less than PIPE_BUF: the kernel writes it whole or not at all.
            bool sent = fd >= 0 && Libc.KindOf(fd) == FileType.Fifo && WriteWhole(fd, p, request.Length);
            if (!sent)
            {
                throw new CommandletException($"cannot {what} step '{stepName ?? name}' ({Describe(dir.ReadStatus(name))}): {dir.PathOf(name, ControlDirectory.SignalFifo)} is not the FIFO of a live step", CommandletExitCodes.WrongState);
            }
        }
    }

    /// <summary>
    /// Writes a request of less than PIPE_BUF bytes whole. A FIFO that a neighbour keeps full (the
    /// step drains a bounded amount per wake-up) gives EAGAIN: wait for room a while (the step
    /// keeps draining), not for ever, since the step may be gone.
    /// </summary>
    private static unsafe bool WriteWhole(int fd, byte* bytes, int length)
    {
        const int Tries = 100, WaitMs = 20; // at most about 2 s
        for (int i = 0; i < Tries; i++)
        {
            nint written = Libc.Write(fd, bytes, (nuint)length);
            if (written == length)
            {
                return true;
            }
            if (written >= 0 || Libc.LastErrno != Errno.EAGAIN)
            {
                return false;
            }
            Libc.PollOne(fd, Libc.POLLOUT, WaitMs);
        }
        return false;
    }

    /// <summary>
    /// <c>emissary start NAME</c> / <c>emissary skip NAME</c>: open or fail a step's --wait-start
    /// gate, by creating DIR/.start.NAME or DIR/.skip.NAME in the shared root (the step's own
    /// directory is writable only by the step).
    /// </summary>
    public static string Release(ControlDirectory dir, string name, bool start)
    {
        RequireStep(dir, name);
        StepStatus? status = dir.ReadStatus(name);
        if (status is not null && status.State != StepState.Waiting)
        {
            throw new CommandletException($"step '{name}' is already {status.State.JsonName()}: too late to {(start ? "start" : "skip")} it", CommandletExitCodes.WrongState);
        }
        if (dir.HasRequest(name, !start))
        {
            throw new CommandletException($"step '{name}' was already {(start ? "skipped" : "started")}", CommandletExitCodes.WrongState);
        }
        string request = ControlDirectory.RequestName(name, start);
        string path = dir.RequestPath(name, start);
        using SafeFd root = dir.OpenRoot()
            ?? throw new CommandletException($"control directory {dir.Root} cannot be opened: {Libc.Describe(Libc.LastErrno)}", CommandletExitCodes.UnknownStep);
        int fd = Libc.OpenAtRetrying(root.Fd, request, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0x1A4);
        if (fd >= 0)
        {
            // 0644 whatever the umask: the step may run as another uid, it only needs to see it.
            Libc.Fchmod(fd, 0x1A4);
            Libc.Close(fd);
        }
        else if (Libc.LastErrno != Errno.EEXIST)
        {
            throw new CommandletException($"cannot create {path}: {Libc.Describe(Libc.LastErrno)}", CommandletExitCodes.WrongState);
        }
        else if (Libc.StatAt(root.Fd, request) is { Kind: not FileType.Regular } other)
        {
            // Already there, but not a request the step will accept.
            throw new CommandletException($"{path} is {Libc.Describe(other.Kind)}, not a request: remove it and try again", CommandletExitCodes.WrongState);
        }
        return status is { WaitsForStart: false }
            ? $"note: step '{name}' does not wait for 'emissary start' (no --wait-start); the request only matters if it is restarted with it"
            : "";
    }

    /// <summary><c>emissary status</c>: every step, as a table or as JSON.</summary>
    public static string Status(ControlDirectory dir, bool json, DateTimeOffset now)
    {
        if (!Directory.Exists(dir.Root))
        {
            throw new CommandletException($"control directory {dir.Root} does not exist (set --control-dir or EMISSARY_CONTROL_DIR)", CommandletExitCodes.UnknownStep);
        }
        var rows = new List<(string Name, StepStatus? Status, bool Alive, bool Registered, IReadOnlyList<Result> Results)>();
        foreach (string name in dir.StepNames())
        {
            // A step directory without a readable status.json shows as "unknown"; one its step never
            // registered in (no lock file: a per-step volume whose container has not started yet)
            // as "pending".
            StepStatus? status = dir.ReadStatus(name);
            bool registered = status is not null || Libc.KindOf(dir.PathOf(name, ControlDirectory.LockFile)) is not null;
            // A restarting step's emissary is gone on purpose: its container runs again, not crashed.
            bool alive = !registered || status?.State.IsFinal() == true || status?.State == StepState.Restarting || dir.IsLockHeld(name);
            rows.Add((name, status, alive, registered, ReportedResults.Read(dir, name)));
        }
        return json ? StatusJson(rows) : StatusTable(rows, now);
    }

    private const string UnknownState = "unknown";

    private const string PendingState = "pending";

    private static string StatusJson(List<(string Name, StepStatus? Status, bool Alive, bool Registered, IReadOnlyList<Result> Results)> rows) => JsonText.Write(writer =>
    {
        writer.WriteStartArray();
        foreach ((string name, StepStatus? status, bool alive, bool registered, IReadOnlyList<Result> results) in rows)
        {
            writer.WriteStartObject();
            if (status is not null)
            {
                (status with { Name = name }).WriteProperties(writer); // named by its directory, as in the table
            }
            else
            {
                writer.WriteString("name", name);
                writer.WriteString("state", registered ? UnknownState : PendingState);
            }
            if (!alive)
            {
                // Waiting or running, but its emissary is gone: killed before it could record an end.
                writer.WriteBoolean("crashed", true);
            }
            if (results.Count > 0)
            {
                // As the termination message writes them: a string, or {"base64":…} for bytes that are not UTF-8.
                writer.WriteStartObject("results");
                foreach (Result result in results)
                {
                    if (System.Text.Unicode.Utf8.IsValid(result.Value))
                    {
                        writer.WriteString(result.Name, Encoding.UTF8.GetString(result.Value));
                    }
                    else
                    {
                        writer.WriteStartObject(result.Name);
                        writer.WriteString("base64", Convert.ToBase64String(result.Value));
                        writer.WriteEndObject();
                    }
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }, indented: true) + "\n";

    private static string StatusTable(List<(string Name, StepStatus? Status, bool Alive, bool Registered, IReadOnlyList<Result> Results)> rows, DateTimeOffset now)
    {
        var table = new List<string[]> { new[] { "STEP", "STATE", "EXIT", "REASON", "STARTED", "DURATION", "CPU", "PEAK MEM", "DETAIL" } };
        foreach ((string name, StepStatus? s, bool alive, bool registered, _) in rows)
        {
            string stateName = s?.State.JsonName() ?? (registered ? UnknownState : PendingState);
            string state = alive ? stateName : stateName + " (crashed)";
            string exit = s?.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-";
            string started = s?.StartedAt is { } t ? Rfc3339.Format(t) : "-";
            string duration = s?.StartedAt is { } st ? Duration.Format((s.FinishedAt ?? now) - st) : "-";
            string detail = s is { State: StepState.Paused, Pause: { } p }
                ? "paused " + p.At.Name() + " since " + Rfc3339.Format(p.Since) + (s.Attempts > 0 ? ", attempt " + s.Attempts.ToString(CultureInfo.InvariantCulture) : "")
                : s?.Message ?? (s?.WaitingFor is { Count: > 0 } w ? "waiting for " + string.Join(", ", w) : "");
            string cpu = s?.Usage is { Attempts: > 0 } u ? StepUsage.FormatMs(u.CpuMs) : "-";
            string memory = s?.Usage is { Attempts: > 0 } m ? StepUsage.FormatKiB(m.MaxRssKiB) : "-";
            // status.json is written by the step's own container, which may be hostile: its text is
            // shown escaped, so it can neither drive the reader's terminal nor forge rows, and the
            // row is named by the step's directory, not by the name the record claims.
            table.Add([Cell(name), Cell(state), exit, Cell(s?.Reason ?? "-"), started, duration, cpu, memory, Cell(detail)]);
        }
        int[] widths = new int[table[0].Length];
        foreach (string[] row in table)
        {
            for (int c = 0; c < row.Length; c++)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }
        var text = new StringBuilder();
        foreach (string[] row in table)
        {
            for (int c = 0; c < row.Length; c++)
            {
                text.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c] + 2));
            }
            text.Append('\n');
        }
        foreach ((string name, _, _, _, IReadOnlyList<Result> results) in rows)
        {
            foreach (Result result in results)
            {
                text.Append(CultureInfo.InvariantCulture, $"result {Cell(name)}.{Cell(result.Name)} = {ResultCell(result.Value)}\n");
            }
        }
        return text.ToString();
    }

    private static string Cell(string text) => ErrorText.Printable(text);

    /// <summary>A result's value on one line of the table's trailer: escaped like a cell, a long one shortened (its size said); --json has it whole.</summary>
    private static string ResultCell(byte[] value)
    {
        const int Shown = 200;
        string text = System.Text.Unicode.Utf8.IsValid(value) ? Encoding.UTF8.GetString(value) : "base64:" + Convert.ToBase64String(value);
        return text.Length <= Shown ? Cell(text) : Cell(text[..Shown]) + string.Create(CultureInfo.InvariantCulture, $"… ({value.Length} bytes; status --json has it whole)");
    }

    private static void RequireStep(ControlDirectory dir, string name)
    {
        ControlDirectory.ValidateName(name);
        if (!Directory.Exists(dir.Root))
        {
            throw new CommandletException($"control directory {dir.Root} does not exist (set --control-dir or EMISSARY_CONTROL_DIR)", CommandletExitCodes.UnknownStep);
        }
        if (!dir.StepExists(name))
        {
            IReadOnlyList<string> known = dir.StepNames();
            string? guess = DidYouMean.Closest(name, known);
            throw new CommandletException(
                $"unknown step '{name}'{(guess is null ? "" : $" (did you mean '{guess}'?)")}; {dir.KnownStepsHint()}",
                CommandletExitCodes.UnknownStep);
        }
    }

    private static string Describe(StepStatus? status) => status is null
        ? "it has not started"
        : status.ExitCode is { } code ? $"{status.State.JsonName()}, exit code {code}" : status.State.JsonName();
}
