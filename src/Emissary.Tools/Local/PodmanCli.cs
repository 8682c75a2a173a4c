using System.Text;
using Emissary.Cli;
using Emissary.Events;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Supervision.Posix;
using Emissary.Supervision;

namespace Emissary.Tools.Local;

/// <summary>
/// Runs podman as a child of this process. Not System.Diagnostics.Process: in emissary-tools the
/// shim blocks SIGCHLD in every thread (it is read from the runner's signalfd) and the runner
/// reaps every child with waitpid(-1), so Process would neither be told of its children's exit
/// nor find their status. PosixProcessLauncher starts podman with the caller's signal mask and
/// dispositions, in its own process group (a Ctrl-C on the terminal reaches emissary local,
/// which decides what podman does), and with stdout and stderr in files: no pipe to drain, no
/// deadlock, whatever podman prints.
/// </summary>
internal sealed unsafe class PodmanCli(string podmanPath, string scratchDirectory)
{
    private readonly PosixProcessLauncher _launcher = new();
    private int _count;

    /// <summary>A finished podman command: its exit code (128+S when killed) and what it wrote.</summary>
    internal sealed record Result(int ExitCode, byte[] Stdout, byte[] Stderr)
    {
        public string Text => Encoding.UTF8.GetString(Stdout).Trim();

        /// <summary>podman's last non-empty stderr line, without its "Error: " (what it failed on).</summary>
        public string Problem
        {
            get
            {
                string line = Encoding.UTF8.GetString(Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? $"exit code {ExitCode}";
                return line.StartsWith("Error: ", StringComparison.Ordinal) ? line["Error: ".Length..] : line;
            }
        }
    }

    /// <summary>A podman command started in the background; its exit comes back through the runner's reaping.</summary>
    internal sealed record Started(int Pid, string StdoutPath, string StderrPath)
    {
        public Result Collect(int exitCode) => new(exitCode, ReadAll(StdoutPath), ReadAll(StderrPath));
    }

    public Started Start(IReadOnlyList<string> args, string? workingDirectory = null)
    {
        int n = ++_count;
        string stdoutPath = Path.Combine(scratchDirectory, $"podman-{n}.stdout");
        string stderrPath = Path.Combine(scratchDirectory, $"podman-{n}.stderr");
        int stdout = Libc.Open(stdoutPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x180);
        int stderr = Libc.Open(stderrPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x180);
        try
        {
            if (stdout < 0 || stderr < 0)
            {
                throw new UsageException($"cannot write {scratchDirectory}: {Libc.Describe(Libc.LastErrno)}");
            }
            string[] argv = ["podman", .. args];
            int pid = _launcher.Start(new ResolvedCommand(podmanPath, args) { Argv = argv }, new LaunchSettings
            {
                OwnProcessGroup = true,
                StdoutFd = stdout,
                StderrFd = stderr,
                WorkingDirectory = workingDirectory,
            });
            return new Started(pid, stdoutPath, stderrPath);
        }
        finally
        {
            if (stdout >= 0) Libc.Close(stdout);
            if (stderr >= 0) Libc.Close(stderr);
        }
    }

    /// <summary>Runs a podman command to its end (only while the runner is not reaping: before its loop and after).</summary>
    public Result Run(IReadOnlyList<string> args, string? workingDirectory = null)
    {
        Started started = Start(args, workingDirectory);
        return started.Collect(WaitFor(started.Pid));
    }

    public Result Run(params string[] args) => Run((IReadOnlyList<string>)args);

    /// <summary>Ends a background command (SIGTERM to its group) and reaps it.</summary>
    public static void Abandon(int pid)
    {
        Libc.Kill(-pid, Signals.TERM);
        WaitFor(pid);
    }

    private static int WaitFor(int pid)
    {
        int status;
        while (true)
        {
            int r = Libc.WaitPid(pid, &status, 0);
            if (r == pid)
            {
                return ExitStatus.FromWaitStatus(status).ToExitCode();
            }
            if (r < 0 && Libc.LastErrno == Errno.EINTR)
            {
                continue;
            }
            return ExitCodes.EmissaryFailure; // ECHILD: reaped elsewhere; nothing to report
        }
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
