using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Supervision.Posix;

/// <summary>
/// Starts the child with posix_spawn (never System.Diagnostics.Process: it cannot set a process
/// group, and the runtime's SIGCHLD handling would race our reaping when we are PID 1).
/// The child gets the signal mask and ignored signals emissary was started with (recorded by the
/// shim before the runtime changed anything) and default dispositions for everything else.
/// </summary>
internal sealed unsafe class PosixProcessLauncher : IProcessLauncher
{
    public int Start(ResolvedCommand command, LaunchSettings settings)
    {
        PosixSpawnAttr attr;
        PosixSpawnFileActions actions;
        Libc.PosixSpawnAttrInit(&attr);
        Libc.PosixSpawnFileActionsInit(&actions);
        var native = new List<IntPtr>();
        SafeFd? startReport = null, reportWriteEnd = null;
        try
        {
            SigSet originalMask, originalIgnored;
            Shim.OriginalMask(&originalMask);
            Shim.OriginalIgnored(&originalIgnored);

            // Everything the caller did not ignore goes back to SIG_DFL, notably SIGPIPE, which the
            // .NET runtime ignores (a child inheriting that breaks `yes | head`). Signals this process
            // never touches (the real-time ones above SIGRTMIN) are left as they are, ignored or not.
            var defaults = default(SigSet);
            for (int signal = 1, last = Shim.LastReadSignal(); signal <= last; signal++)
            {
                if (!originalIgnored.Contains(signal) && signal != Signals.KILL && signal != Signals.STOP)
                {
                    defaults.Add(signal);
                }
            }

            short flags = Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF;
            if (settings.OwnProcessGroup)
            {
                flags |= Libc.POSIX_SPAWN_SETPGROUP;
                Libc.PosixSpawnAttrSetPgroup(&attr, 0);
                // In an interactive `docker run -it`, the child's new group must own the terminal or
                // its first read stops it with SIGTTIN.
                if (Libc.IsATty(0) == 1 && Libc.TcGetPgrp(0) == Libc.GetPgrp())
                {
                    Libc.PosixSpawnFileActionsAddTcSetPgrp(&actions, 0);
                }
            }
            Libc.PosixSpawnAttrSetFlags(&attr, flags);
            Libc.PosixSpawnAttrSetSigMask(&attr, &originalMask);
            Libc.PosixSpawnAttrSetSigDefault(&attr, &defaults);

            if (settings.StdinFd >= 0)
            {
                Libc.PosixSpawnFileActionsAddDup2(&actions, settings.StdinFd, 0);
            }
            if (settings.StdoutFd >= 0)
            {
                Libc.PosixSpawnFileActionsAddDup2(&actions, settings.StdoutFd, 1);
            }
            if (settings.StderrFd >= 0)
            {
                Libc.PosixSpawnFileActionsAddDup2(&actions, settings.StderrFd, 2);
            }
            if (settings.WorkingDirectory is { } directory)
            {
                Libc.PosixSpawnFileActionsAddChdir(&actions, Utf8(directory, native));
            }

            // A signal the caller ignored but this process catches (SEGV/FPE: the runtime; CHLD: we
            // must reap) cannot be handed over ignored by posix_spawn, and a process with threads
            // cannot make a user namespace: both go through the shim's exec trampoline, which starts
            // the command without starting .NET and reports on a pipe whether it did.
            var lost = new List<int>();
            for (int signal = 1; signal < 65; signal++)
            {
                if (originalIgnored.Contains(signal) && signal is not (Signals.KILL or Signals.STOP) && Shim.IsIgnoredNow(signal) == 0)
                {
                    lost.Add(signal);
                }
            }
            string spawnPath = command.Path;
            IReadOnlyList<string> spawnArgv = command.Argv;
            if (lost.Count > 0 || settings.Hermetic)
            {
                (startReport, reportWriteEnd) = SafeFd.Pipe(Libc.O_NONBLOCK);
                // dup2 onto itself: the trampoline gets the write end without close-on-exec.
                Libc.PosixSpawnFileActionsAddDup2(&actions, reportWriteEnd.Fd, reportWriteEnd.Fd);
                spawnPath = SelfExecutable.Path();
                spawnArgv =
                [
                    spawnPath, Shim.ExecTrampolineFlag, reportWriteEnd.Fd.ToString(CultureInfo.InvariantCulture),
                    lost.Count > 0 ? string.Join(',', lost) : "-", settings.Hermetic ? "hermetic" : "plain", command.Path, .. command.Argv,
                ];
            }

            byte* path = Utf8(spawnPath, native);
            byte** argv = NullTerminated(spawnArgv, native);
            byte** envp = BuildEnvironment(settings.ExtraEnvironment, native);

            int pid;
            int error = Libc.PosixSpawn(&pid, path, &actions, &attr, argv, envp);
            if (error != 0)
            {
                throw Failure(command.Path, (Errno)error);
            }
            if (startReport is not null)
            {
                reportWriteEnd!.Dispose();
                AwaitTrampoline(pid, startReport, command.Path);
            }
            // The command runs on this CPU until the scheduler moves one of us; what emissary does
            // next (the running status, a cgroup read) can wait, the command should not: measured
            // here, it reaches its first instruction 80 µs sooner when emissary steps aside once.
            Libc.SchedYield();
            return pid;
        }
        finally
        {
            startReport?.Dispose();
            reportWriteEnd?.Dispose();
            Libc.PosixSpawnFileActionsDestroy(&actions);
            Libc.PosixSpawnAttrDestroy(&attr);
            foreach (IntPtr p in native)
            {
                NativeMemory.Free((void*)p);
            }
        }
    }

    public bool Signal(int pid, bool toGroup, int signal)
    {
        if (Libc.Kill(toGroup ? -pid : pid, signal) == 0)
        {
            return true;
        }
        Errno errno = Libc.LastErrno;
        if (errno == Errno.ESRCH)
        {
            return false;
        }
        throw new SystemCallException($"kill({(toGroup ? -pid : pid)}, {Signals.Name(signal)})", errno);
    }

    /// <summary>
    /// Waits until the trampoline has exec'd the command (its end of the report pipe closes) or has
    /// said why it could not, and then throws as posix_spawn's own failure would: a command that
    /// never ran must not be taken for one that exited 127, 126 or 1. The wait is the trampoline's
    /// own bounded work (a few system calls and an execve, as posix_spawn waits for its child's);
    /// the bound below is only a safety net, past which the command is taken as started.
    /// </summary>
    private static void AwaitTrampoline(int pid, SafeFd report, string path)
    {
        int* record = stackalloc int[2];
        int got = 0;
        long deadline = Environment.TickCount64 + TrampolineBound;
        while (got < 2 * sizeof(int))
        {
            nint n = Libc.Read(report.Fd, (byte*)record + got, (nuint)(2 * sizeof(int) - got));
            if (n > 0)
            {
                got += (int)n;
                continue;
            }
            if (n == 0)
            {
                return;
            }
            Errno errno = Libc.LastErrno;
            long left = deadline - Environment.TickCount64;
            if (errno != Errno.EINTR && (errno != Errno.EAGAIN || left <= 0))
            {
                return;
            }
            Libc.PollOne(report.Fd, Libc.POLLIN, (int)Math.Max(left, 0));
        }
        // It exits right after the report: reaped here, so that nothing waits for a command that never ran.
        int status;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Libc.LastErrno == Errno.EINTR)
        {
        }
        var cause = (Errno)record[1];
        throw record[0] == Shim.StartFailedNamespaces
            ? new LaunchException($"fork/exec {path}: {GoWords(Libc.Describe(cause))} (TEKTON_HERMETIC=1: new user and network namespaces)", ExitCodes.CannotExecute)
            : Failure(path, cause);
    }

    private const int TrampolineBound = 10_000;

    /// <summary>Go's errno words are lower-case ("operation not permitted").</summary>
    private static string GoWords(string description) =>
        description.Length > 0 && char.IsAsciiLetterUpper(description[0]) ? char.ToLowerInvariant(description[0]) + description[1..] : description;

    private static LaunchException Failure(string path, Errno errno) => errno switch
    {
        // The file exists (the resolver checked), so ENOENT here is a missing #! interpreter or loader.
        Errno.ENOENT => new LaunchException($"{path}: cannot run: its interpreter or dynamic loader was not found", ExitCodes.NotFound),
        Errno.ENOEXEC => new LaunchException($"{path}: cannot run: not an executable format (a script without #!?)", ExitCodes.CannotExecute),
        _ => new LaunchException($"{path}: cannot run: {Libc.Describe(errno)}", ExitCodes.CannotExecute),
    };

    /// <summary>
    /// emissary's own environment in its original order and bytes (not round-tripped through
    /// UTF-16, so odd bytes survive), with the extra variables applied. Names are compared as bytes
    /// in place: no string per variable on the way to the spawn (a hand-off's path).
    /// </summary>
    private static byte** BuildEnvironment(IReadOnlyDictionary<string, string> extra, List<IntPtr> native)
    {
        var entries = new List<IntPtr>();
        foreach ((string key, string value) in extra)
        {
            entries.Add((IntPtr)Utf8(key + "=" + value, native));
        }
        int added = entries.Count;
        for (byte** env = Shim.Environ(); env != null && *env != null; env++)
        {
            if (added == 0 || !IsReplaced(*env, entries, added))
            {
                entries.Add((IntPtr)(*env));
            }
        }
        var array = (byte**)NativeMemory.Alloc((nuint)(entries.Count + 1), (nuint)sizeof(byte*));
        native.Add((IntPtr)array);
        for (int i = 0; i < entries.Count; i++)
        {
            array[i] = (byte*)entries[i];
        }
        array[entries.Count] = null;
        return array;
    }

    /// <summary>Whether the variable <paramref name="entry"/> names is one of the first <paramref name="added"/> entries ("NAME=value").</summary>
    private static bool IsReplaced(byte* entry, List<IntPtr> entries, int added)
    {
        ReadOnlySpan<byte> name = ProcessEnvironment.NameOf(ProcessEnvironment.At(entry));
        for (int i = 0; i < added; i++)
        {
            if (ProcessEnvironment.NameOf(ProcessEnvironment.At((byte*)entries[i])).SequenceEqual(name))
            {
                return true;
            }
        }
        return false;
    }

    private static byte** NullTerminated(IReadOnlyList<string> strings, List<IntPtr> native)
    {
        var array = (byte**)NativeMemory.Alloc((nuint)(strings.Count + 1), (nuint)sizeof(byte*));
        native.Add((IntPtr)array);
        for (int i = 0; i < strings.Count; i++)
        {
            array[i] = Utf8(strings[i], native);
        }
        array[strings.Count] = null;
        return array;
    }

    private static byte* Utf8(string s, List<IntPtr> native)
    {
        if (s.Contains('\0', StringComparison.Ordinal))
        {
            // A C string ends at its first NUL: the rest would be dropped without a word. execve
            // cannot carry it, so fail as Go's exec does.
            throw new LaunchException("cannot run: an argument or environment value holds a NUL byte", ExitCodes.CannotExecute);
        }
        int length = Encoding.UTF8.GetByteCount(s);
        var buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        native.Add((IntPtr)buffer);
        Encoding.UTF8.GetBytes(s, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return buffer;
    }
}
