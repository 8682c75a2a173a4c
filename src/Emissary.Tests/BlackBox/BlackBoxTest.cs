using System.Runtime.Versioning;
using System.Diagnostics;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Base class of every black-box test: starts processes that carry a per-test token
/// (<c>EMISSARY_TEST_TOKEN=&lt;guid&gt;</c>) and, after the test, fails it if any process with that
/// token is still alive ("left N processes behind"), killing them. xunit creates one instance
/// per test, so each test has its own token, temp dirs and processes.
/// </summary>
[SupportedOSPlatform("linux")]
public abstract class BlackBoxTest : IDisposable
{
    private static readonly TimeSpan LeakGrace = TimeSpan.FromSeconds(2);

    private readonly List<RunningProcess> _started = new();
    private readonly List<string> _tempDirs = new();

    protected BlackBoxTest()
    {
        Token = Guid.NewGuid().ToString("N");
    }

    /// <summary>The value of EMISSARY_TEST_TOKEN in every process this test starts.</summary>
    protected string Token { get; }

    protected static string EmissaryPath => Artifacts.Emissary;

    protected static string TestChildPath => Artifacts.TestChild;

    /// <summary>
    /// Starts <paramref name="file"/> (a path, or a name looked up in PATH) the way a container
    /// runtime would: no signal blocked, every signal at its default disposition. The test host
    /// is a .NET process that ignores SIGPIPE, and System.Diagnostics.Process hands that on to
    /// its children, so the process is started through <c>testchild exec-sigs - - --</c>, which
    /// resets the signal state and execs it (same pid).
    /// </summary>
    internal RunningProcess Start(string file, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? env = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(TestChildPath);
        foreach (string arg in new[] { "exec-sigs", "-", "-", "--", file }.Concat(args))
            psi.ArgumentList.Add(arg);
        // testchild and emissary can be named without a path, e.g. inside `sh -c` scripts.
        psi.Environment["PATH"] = $"{Artifacts.Directory}:{Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"}";
        if (env is not null)
        {
            foreach (var (key, value) in env)
                psi.Environment[key] = value;
        }
        psi.Environment[ProcTable.TokenVariable] = Token;
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        var process = new RunningProcess(psi, () => KillEverything());
        lock (_started)
            _started.Add(process);
        return process;
    }

    internal RunningProcess Start(string file, params string[] args) => Start(file, (IEnumerable<string>)args);

    /// <summary>Starts <c>emissary ARGS</c>.</summary>
    internal RunningProcess StartEmissary(params string[] args) => Start(EmissaryPath, args);

    /// <summary>Runs a process to its end (default timeout 20 s).</summary>
    internal ProcessResult Run(string file, params string[] args) => Start(file, args).WaitForExit();

    /// <summary>Runs <c>emissary ARGS</c> to its end (default timeout 20 s).</summary>
    internal ProcessResult RunEmissary(params string[] args) => StartEmissary(args).WaitForExit();

    /// <summary>A fresh temp directory (mode 0755), deleted after the test.</summary>
    protected string TempDir(string? prefix = null)
    {
        var dir = Directory.CreateTempSubdirectory($"emissary-bb-{prefix ?? "t"}-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        lock (_tempDirs)
            _tempDirs.Add(dir);
        return dir;
    }

    /// <summary>Copies a file into <paramref name="dir"/> with the given mode; returns the new path.</summary>
    protected static string CopyInto(string dir, string source, string? name = null, int mode = 0b111_101_101)
    {
        string dest = Path.Combine(dir, name ?? Path.GetFileName(source));
        // Copied by cp(1), not by this process: a test running in parallel that forks while our
        // descriptor for writing is open would hold it until its exec, and executing the copy
        // then fails with ETXTBSY ("Text file busy"). cp's descriptor dies with cp.
        using (var cp = System.Diagnostics.Process.Start("cp", ["--", source, dest]))
        {
            cp.WaitForExit();
            cp.ExitCode.Should().Be(0, "cp {0} {1}", source, dest);
        }
        File.SetUnixFileMode(dest, (UnixFileMode)mode);
        return dest;
    }

    /// <summary>Fails the test unless root; mark the test <c>Needs = Needs.Root</c> so it is skipped where root is not required.</summary>
    protected static void RequireRoot(string why) => Requirements.Root(why);

    /// <summary>Exactly one stderr line, starting with "emissary: ", and no .NET stack trace.</summary>
    internal static void AssertOneEmissaryErrorLine(ProcessResult result)
    {
        AssertNoStackTrace(result);
        result.StderrLines.Should().ContainSingle(
            "where emissary itself is the cause it writes exactly one line to stderr\n{0}", result)
            .Which.Should().StartWith("emissary: ", "emissary's own error lines start with 'emissary: '\n{0}", result);
    }

    /// <summary>No line of a .NET stack trace or exception dump on stderr.</summary>
    internal static void AssertNoStackTrace(ProcessResult result)
    {
        result.Stderr.Should().NotContain("   at ", "emissary never prints a stack trace\n{0}", result);
        result.Stderr.Should().NotContain("Exception", "emissary never prints a .NET exception\n{0}", result);
    }

    /// <summary>SIGKILLs every process carrying this test's token; returns what it found.</summary>
    private List<ProcTable.ProcInfo> KillEverything()
    {
        var found = ProcTable.WithToken(Token);
        foreach (var p in found)
            Libc.Kill(p.Pid, Libc.SIGKILL);
        return found;
    }

    /// <summary>
    /// Fails the test when a process carrying its token is still alive after a short grace
    /// period (orphans may still be exiting); zombies are ignored. Leftovers are SIGKILLed.
    /// </summary>
    private void AssertNothingLeftBehind()
    {
        var clock = Stopwatch.StartNew();
        List<ProcTable.ProcInfo> left;
        while ((left = ProcTable.WithToken(Token)).Count > 0 && clock.Elapsed < LeakGrace)
            Thread.Sleep(50);
        if (left.Count == 0)
            return;
        var killed = KillEverything();
        var all = left.Concat(killed).DistinctBy(p => p.Pid).ToList();
        throw new XunitException(
            $"left {all.Count} processes behind (now SIGKILLed): " +
            string.Join(", ", all.Select(p => $"{p.Pid} ({p.Command}, state {p.State}, ppid {p.ParentPid})")));
    }

    public void Dispose()
    {
        try
        {
            AssertNothingLeftBehind();
        }
        finally
        {
            lock (_started)
            {
                foreach (var p in _started)
                    p.Dispose();
            }
            lock (_tempDirs)
            {
                foreach (var dir in _tempDirs)
                {
                    try { Directory.Delete(dir, recursive: true); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                }
            }
            GC.SuppressFinalize(this);
        }
    }
}
