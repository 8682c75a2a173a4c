using System.Runtime.Versioning;
using System.Diagnostics;
using System.Text;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>How a process ended, with everything it wrote.</summary>
[SupportedOSPlatform("linux")]
internal sealed record ProcessResult(
    string CommandLine, int ExitCode, IReadOnlyList<string> StdoutLines, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>stderr split into lines, without empty ones.</summary>
    public IReadOnlyList<string> StderrLines =>
        Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() =>
        $"`{CommandLine}` exited {ExitCode} after {Elapsed.TotalMilliseconds:F0} ms\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// A started process whose stdout and stderr are read asynchronously, so a test can wait for a
/// line, send a signal and wait for the exit with a timeout. System.Diagnostics.Process is fine
/// here: it is the test, not the supervisor.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class RunningProcess : IDisposable
{
    public static readonly TimeSpan DefaultExitTimeout = Qemu.HangGuard(TimeSpan.FromSeconds(20));
    public static readonly TimeSpan DefaultLineTimeout = Qemu.HangGuard(TimeSpan.FromSeconds(10));

    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly List<string> _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private readonly Action _killTree;
    private bool _stdoutClosed;
    private bool _stderrClosed;
    private ProcessResult? _result;

    public RunningProcess(ProcessStartInfo startInfo, Action killTree)
    {
        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        // The command as the test means it: without the `testchild exec-sigs - - --` prefix.
        var words = new[] { startInfo.FileName }.Concat(startInfo.ArgumentList).ToList();
        int separator = words.Count > 4 && words[1] == "exec-sigs" ? 4 : -1;
        CommandLine = string.Join(' ', words.Skip(separator + 1).Select(Quote));
        _killTree = killTree;
        _clock = Stopwatch.StartNew();
        _process = Process.Start(startInfo) ?? throw new XunitException($"could not start `{CommandLine}`");
        Pid = _process.Id;
        _process.StandardInput.Close(); // the child reads EOF, never the test runner's stdin
        _stdoutPump = Task.Run(PumpStdout);
        _stderrPump = Task.Run(PumpStderr);
    }

    public int Pid { get; }

    public string CommandLine { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>When the process exited (local time, as the runtime saw it reaped); only after it has.</summary>
    public DateTime ExitTime => _process.ExitTime;

    public IReadOnlyList<string> StdoutLines
    {
        get { lock (_gate) return _stdout.ToList(); }
    }

    public string Stderr
    {
        get { lock (_gate) return Qemu.WithoutEmulatorWarnings(_stderr.ToString()); }
    }

    /// <summary>Sends a signal to the started process itself (kill(2)).</summary>
    public void Signal(int signal)
    {
        if (!Libc.Kill(Pid, signal))
            throw new XunitException($"cannot send signal {signal} to `{CommandLine}` (pid {Pid}): it is gone\n{Describe()}");
    }

    /// <summary>Waits until a stdout line equals <paramref name="line"/>; returns it.</summary>
    public string WaitForLine(string line, TimeSpan? timeout = null) =>
        WaitForLine(l => l == line, $"the line '{line}'", timeout);

    /// <summary>Waits until a stdout line starts with <paramref name="prefix"/>; returns it.</summary>
    public string WaitForLineStartingWith(string prefix, TimeSpan? timeout = null) =>
        WaitForLine(l => l.StartsWith(prefix, StringComparison.Ordinal), $"a line starting with '{prefix}'", timeout);

    public string WaitForLine(Func<string, bool> match, string description, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultLineTimeout);
        lock (_gate)
        {
            while (true)
            {
                string? hit = _stdout.FirstOrDefault(match);
                if (hit is not null)
                    return hit;
                if (_stdoutClosed)
                    throw new XunitException($"stdout of `{CommandLine}` ended without {description}\n{DescribeLocked()}");
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new XunitException($"timed out after {(timeout ?? DefaultLineTimeout).TotalSeconds} s waiting for {description} from `{CommandLine}`\n{DescribeLocked()}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    /// <summary>
    /// Waits for the process to exit (default 20 s). On timeout the whole tree (every process
    /// carrying the test's token) is killed and the test fails. With
    /// <paramref name="waitForOutput"/>, also waits (briefly) until stdout and stderr are closed,
    /// so the result holds everything the child wrote; pass false when a background process is
    /// expected to keep the pipes open.
    /// </summary>
    public ProcessResult WaitForExit(TimeSpan? timeout = null, bool waitForOutput = true)
    {
        if (_result is not null)
            return _result;
        var limit = timeout ?? DefaultExitTimeout;
        if (!_process.WaitForExit(limit))
        {
            _killTree();
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit(5000);
            throw new XunitException($"`{CommandLine}` did not exit within {limit.TotalSeconds} s; killed it and its descendants\n{Describe()}");
        }
        var elapsed = _clock.Elapsed;
        if (waitForOutput)
            Task.WaitAll(new[] { _stdoutPump, _stderrPump }, TimeSpan.FromSeconds(5));
        lock (_gate)
        {
            _result = new ProcessResult(CommandLine, _process.ExitCode, _stdout.ToList(), string.Join('\n', _stdout), Qemu.WithoutEmulatorWarnings(_stderr.ToString()), elapsed);
        }
        return _result;
    }

    public string Describe()
    {
        lock (_gate) return DescribeLocked();
    }

    private string DescribeLocked() =>
        $"--- stdout so far ---\n{string.Join('\n', _stdout)}\n--- stderr so far ---\n{_stderr}";

    private async Task PumpStdout()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (_gate)
                {
                    _stdout.Add(line);
                    Monitor.PulseAll(_gate);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _stdoutClosed = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits until stderr contains <paramref name="text"/> (emissary's own log lines go there).</summary>
    public void WaitForStderr(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultLineTimeout);
        lock (_gate)
        {
            while (!_stderr.ToString().Contains(text, StringComparison.Ordinal))
            {
                if (_stderrClosed)
                    throw new XunitException($"stderr of `{CommandLine}` ended without '{text}'\n{DescribeLocked()}");
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new XunitException($"timed out after {(timeout ?? DefaultLineTimeout).TotalSeconds} s waiting for '{text}' on stderr of `{CommandLine}`\n{DescribeLocked()}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    private async Task PumpStderr()
    {
        try
        {
            var buffer = new char[4096];
            int n;
            while ((n = await _process.StandardError.ReadAsync(buffer)) > 0)
            {
                lock (_gate)
                {
                    _stderr.Append(buffer, 0, n);
                    Monitor.PulseAll(_gate);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _stderrClosed = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? arg : $"'{arg.Replace("'", "'\\''")}'";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit(5000);
        }
        _process.Dispose();
    }
}
