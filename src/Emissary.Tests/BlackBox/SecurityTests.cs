using System.Runtime.Versioning;
using System.Text;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Another container of the pod attacks the control directory: each attack runs as uid 1000
/// (setpriv), against a root emissary that is PID 1 of its own PID namespace (unshare), with the
/// control directory made like a kubelet emptyDir (root-owned 0777, not sticky) and like emissary
/// makes it (01777). Whatever the attacker does: no file outside the step's own directory
/// changes, no secret reaches a termination message, every wait ends on SIGTERM (exit 143) and
/// emissary's memory stays bounded.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "setpriv")]
[Trait("Needs", "unshare")]
[SupportedOSPlatform("linux")]
public sealed class SecurityTests : BlackBoxTest, IDisposable
{
    private const int KubeletEmptyDir = 0x1FF; // 0777, root-owned, not sticky
    private const int EmissaryMade = 0x3FF; // 01777
    private const long MemoryLimit = 64L << 20;
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);

    private readonly List<string> _mounts = new();

    /// <summary>Everything an attack is aimed at, and the files that must come out of it unchanged.</summary>
    private sealed record Scene(string Root, string Bin, string Ctl, string Secret, string SecretText, string Victim, string App)
    {
        public string Emissary => Path.Combine(Bin, "emissary");

        public string TestChild => Path.Combine(Bin, "testchild");

        public string StepPath(string step, string file = "") => Path.Combine(Ctl, step, file);
    }

    private Scene Prepare(int controlMode, bool onTmpfs = false)
    {
        string root = TempDir("sec");
        string bin = Path.Combine(root, "bin");
        Directory.CreateDirectory(bin);
        File.SetUnixFileMode(bin, (UnixFileMode)0x1ED);
        CopyInto(bin, EmissaryPath);
        CopyInto(bin, TestChildPath);

        string ctl = Path.Combine(root, "ctl");
        Directory.CreateDirectory(ctl);
        if (onTmpfs)
        {
            // Attack files (sparse gigabytes) live on a small tmpfs: never on the real disk.
            var mount = Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", ctl);
            mount.ExitCode.Should().Be(0, "{0}", mount);
            _mounts.Add(ctl);
        }
        File.SetUnixFileMode(ctl, (UnixFileMode)controlMode);

        string secretText = "SECRET-" + Guid.NewGuid().ToString("N");
        string secret = Path.Combine(root, "secret");
        File.WriteAllText(secret, secretText);
        File.SetUnixFileMode(secret, (UnixFileMode)0x180); // 0600

        string victim = Path.Combine(root, "victim");
        File.WriteAllText(victim, "victim\n");
        File.SetUnixFileMode(victim, (UnixFileMode)0x1A4); // 0644

        string app = Path.Combine(root, "app");
        Directory.CreateDirectory(Path.Combine(app, "results"));
        File.WriteAllText(Path.Combine(app, "results", "keep"), "keep\n");
        File.WriteAllText(Path.Combine(app, "config"), "config\n");
        return new Scene(root, bin, ctl, secret, secretText, victim, app);
    }

    /// <summary>No file outside the step's own directory changed, and the secret is nowhere it could leak to.</summary>
    private static void AssertUntouched(Scene s, params ProcessResult[] outputs)
    {
        File.ReadAllText(s.Secret).Should().Be(s.SecretText, "the secret keeps its content");
        ((int)File.GetUnixFileMode(s.Secret)).Should().Be(0x180, "the secret keeps mode 0600");
        File.ReadAllText(s.Victim).Should().Be("victim\n", "the victim keeps its content");
        ((int)File.GetUnixFileMode(s.Victim)).Should().Be(0x1A4, "the victim keeps mode 0644");
        File.ReadAllText(Path.Combine(s.App, "results", "keep")).Should().Be("keep\n", "the app directory keeps its results");
        File.ReadAllText(Path.Combine(s.App, "config")).Should().Be("config\n");
        Directory.EnumerateFileSystemEntries(s.App).Should().HaveCount(2, "nothing was created in the app directory");

        foreach (string file in Directory.EnumerateFiles(s.Root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        {
            // Only regular files of a sane size (not the attack's sparse gigabytes), not the binaries.
            if (file == s.Secret || !Libc.IsRegularFile(file) || new FileInfo(file).Length > (1 << 20) || file.StartsWith(Path.Combine(s.Root, "bin"), StringComparison.Ordinal))
                continue;
            File.ReadAllText(file).Should().NotContain(s.SecretText, $"{file} must not hold the secret");
        }
        foreach (ProcessResult output in outputs)
        {
            output.Stdout.Should().NotContain(s.SecretText);
            output.Stderr.Should().NotContain(s.SecretText);
        }
    }

    /// <summary>Runs a shell script as uid/gid 1000 with no supplementary groups: another container's user.</summary>
    private ProcessResult AsAttacker(string script) =>
        Run("setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c", script);

    /// <summary>Starts `emissary ARGS` as PID 1 of a new PID namespace; returns the process and emissary's pid as seen from here.</summary>
    private (RunningProcess Unshare, int Pid) StartAsPid1(Scene s, params string[] args)
    {
        var unshare = Start("unshare", new[] { "--pid", "--fork", "--mount-proc", s.Emissary }.Concat(args));
        int pid = 0;
        // An emissary that refuses at once may be gone before it is seen: then there is no pid to signal.
        Steps.WaitUntil(() => (ProcTable.ChildrenOf(unshare.Pid) is [var only] && (pid = only.Pid) > 0) || unshare.HasExited,
            "emissary to start as PID 1 under unshare");
        return (unshare, pid);
    }

    /// <summary>Sends SIGTERM to emissary (PID 1 inside) and asserts the wait ended because of it: exit 143 within the hang guard.</summary>
    private static ProcessResult TerminateAndExpect143(RunningProcess unshare, int pid)
    {
        Libc.Kill(pid, Libc.SIGTERM).Should().BeTrue();
        var result = unshare.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(143, "the wait ends on SIGTERM, and because of it\n{0}", result);
        return result;
    }

    private static long PeakResidentBytes(int pid) => ProcTable.StatusKiB(pid, "VmHWM")!.Value * 1024;

    private static void WaitForStderr(RunningProcess p, string text) =>
        Steps.WaitUntil(() => p.Stderr.Contains(text, StringComparison.Ordinal), $"stderr to say '{text}'\n{p.Describe()}");

    // ---- 1. escalation through symlinks ----

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void A_step_directory_made_by_another_uid_is_refused_with_its_planted_links(int mode)
    {
        Scene s = Prepare(mode);
        var plant = AsAttacker($"""
            mkdir {s.StepPath("B")} && cd {s.StepPath("B")} &&
            for i in $(seq 1 64); do ln -s {s.Secret} .status.json.tmp-$i; ln -s {s.Secret} .exitcode.tmp-$i; done &&
            ln -s {s.Secret} status.json && ln -s {s.Victim} signal && ln -s {s.Victim} exitcode && ln -s {s.App} results
            """);
        plant.ExitCode.Should().Be(0, "{0}", plant);

        var (unshare, _) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--", s.TestChild, "exit", "0");
        var result = unshare.WaitForExit(HangGuard);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain($"step directory {s.StepPath("B")} belongs to uid 1000, not to this step (uid 0): refusing to use it");
        AssertUntouched(s, result);
    }

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void A_step_directory_that_is_a_symlink_is_refused(int mode)
    {
        Scene s = Prepare(mode);
        AsAttacker($"ln -s {s.App} {s.StepPath("B")}").ExitCode.Should().Be(0);

        var (unshare, _) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--", s.TestChild, "exit", "0");
        var result = unshare.WaitForExit(HangGuard);

        result.ExitCode.Should().Be(125, "{0}", result);
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain("is a symbolic link, not a directory: refusing to use it");
        AssertUntouched(s, result);
    }

    /// <summary>
    /// A root-owned 0777 step directory (a kubelet volume mounted at DIR/B) is accepted; links
    /// another uid planted inside it are replaced or removed, never followed.
    /// </summary>
    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Links_planted_in_a_root_owned_step_directory_are_never_followed(int mode)
    {
        Scene s = Prepare(mode);
        Directory.CreateDirectory(s.StepPath("B"));
        File.SetUnixFileMode(s.StepPath("B"), (UnixFileMode)0x1FF);
        var plant = AsAttacker($"""
            cd {s.StepPath("B")} &&
            for i in $(seq 1 64); do ln -s {s.Secret} .status.json.tmp-$i; ln -s {s.Victim} .termination.json.tmp-$i; done &&
            ln -s {s.Secret} status.json && ln -s {s.Victim} exitcode && ln -s {s.Victim} termination.json &&
            ln -s /dev/random signal && ln -s {s.App} results
            """);
        plant.ExitCode.Should().Be(0, "{0}", plant);

        var (unshare, _) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--termination-log", Path.Combine(s.Root, "termlog"),
            "--", "/bin/sh", "-c", "printf v > \"$EMISSARY_RESULTS/r\"");
        var result = unshare.WaitForExit(HangGuard);

        result.ExitCode.Should().Be(0, "{0}", result);
        AssertUntouched(s, result);
        foreach (string file in new[] { "status.json", "exitcode", "termination.json" })
            new FileInfo(s.StepPath("B", file)).LinkTarget.Should().BeNull($"{file} was replaced by a regular file");
        Libc.IsFifo(s.StepPath("B", "signal")).Should().BeTrue("a non-FIFO signal entry is replaced by emissary's own FIFO");
        ((int)File.GetUnixFileMode(s.StepPath("B"))).Should().Be(0x1ED, "emissary (root) narrows its root-owned step directory to 0755");
        File.ReadAllText(Path.Combine(s.Root, "termlog")).Should().Contain("\"r\":\"v\"", "the results came from the step's own directory");
    }

    // ---- 2. leak ----

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Renaming_the_step_directory_away_and_planting_a_results_link_leaks_nothing(int mode)
    {
        Scene s = Prepare(mode);
        string keys = Path.Combine(s.Root, "ssh");
        Directory.CreateDirectory(keys);
        File.SetUnixFileMode(keys, (UnixFileMode)0x1C0);
        string key = "PRIVATE-KEY-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(Path.Combine(keys, "id_rsa"), key);
        string go = Path.Combine(s.Root, "go");
        string termlog = Path.Combine(s.Root, "termlog");

        var (unshare, _) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--termination-log", termlog,
            "--", "/bin/sh", "-c", $"printf value > \"$EMISSARY_RESULTS/r\"; while [ ! -e {go} ]; do sleep 0.05; done");
        Steps.WaitForStatus(s.Ctl, "B", st => st.State == "running", "B to run");

        // Where the directory is sticky (01777) the rename fails: the attack is tried all the same.
        var attack = AsAttacker($"""
            mv {s.StepPath("B")} {s.Ctl}/B.old 2>/dev/null; mkdir -p {s.StepPath("B")} 2>/dev/null;
            ln -s {keys} {s.StepPath("B", "results")} 2>/dev/null; ln -s {s.Secret} {s.StepPath("B", "termination.json")} 2>/dev/null; true
            """);
        attack.ExitCode.Should().Be(0, "{0}", attack);
        File.WriteAllText(go, "");
        var result = unshare.WaitForExit(HangGuard);

        result.ExitCode.Should().Be(0, "{0}", result);
        string message = File.ReadAllText(termlog);
        message.Should().Contain("\"r\":\"value\"", "the results were read from the step's own directory, whatever is at DIR/B now");
        message.Should().NotContain("id_rsa").And.NotContain(key).And.NotContain(s.SecretText);
        AssertUntouched(s, result);
        File.ReadAllText(Path.Combine(keys, "id_rsa")).Should().Be(key);
        foreach (string file in Directory.EnumerateFiles(s.Ctl, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }).Where(Libc.IsRegularFile))
            File.ReadAllText(file).Should().NotContain(key, $"{file} must not hold the private key");
    }

    // ---- 3. forged outcomes ----

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Another_uid_cannot_write_a_running_steps_record(int mode)
    {
        Scene s = Prepare(mode);
        string go = Path.Combine(s.Root, "go");
        var (a, _) = StartAsPid1(s, "run", "--name", "A", "--control-dir", s.Ctl, "--", "/bin/sh", "-c", $"while [ ! -e {go} ]; do sleep 0.05; done; exit 3");
        Steps.WaitForStatus(s.Ctl, "A", st => st.State == "running", "A to run");
        var (b, _) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--after", "A", "--", "/bin/echo", "ran B");
        Steps.WaitForStatus(s.Ctl, "B", st => st.State == "waiting", "B to wait");

        const string forged = "{\"name\":\"A\",\"state\":\"succeeded\",\"exitCode\":0}";
        var forge = AsAttacker($"""
            echo 0 > {s.StepPath("A", "exitcode")} && echo wrote-exitcode;
            printf '%s' '{forged}' > {s.StepPath("A", "status.json")} && echo wrote-status; true
            """);
        forge.Stdout.Should().NotContain("wrote-", "step A's directory is 0755 and A's own: another uid cannot write in it\n{0}", forge);
        if (mode == EmissaryMade)
        {
            // Sticky: the directory cannot be renamed away and replaced by a forged one either.
            var swap = AsAttacker($"mv {s.StepPath("A")} {s.Ctl}/A.x && echo swapped; true");
            swap.Stdout.Should().NotContain("swapped", "{0}", swap);
        }
        File.WriteAllText(go, "");

        a.WaitForExit(HangGuard).ExitCode.Should().Be(3);
        var result = b.WaitForExit(HangGuard);
        result.ExitCode.Should().Be(123, "B follows A's real outcome (failed, 3), not a forged one\n{0}", result);
        result.StdoutLines.Should().NotContain("ran B");
        AssertUntouched(s, result);
    }

    // ---- 4. hang and exhaustion ----

    [BlackBoxTheory(Needs = Needs.Root)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Fifos_in_place_of_markers_do_not_block_the_wait(int mode)
    {
        Scene s = Prepare(mode);
        var plant = AsAttacker($"mkdir {s.StepPath("A")} && cd {s.StepPath("A")} && mkfifo exitcode status.json lock && mkfifo {s.Ctl}/.start.B");
        plant.ExitCode.Should().Be(0, "{0}", plant);

        var (unshare, pid) = StartAsPid1(s, "run", "--log-level", "debug", "--name", "B", "--control-dir", s.Ctl, "--after", "A", "--wait-start",
            "--", s.TestChild, "exit", "0");
        WaitForStderr(unshare, $"ignoring {s.StepPath("A", "exitcode")}: it is a FIFO, not a regular file");
        WaitForStderr(unshare, $"ignoring {s.Ctl}/.start.B: it is a FIFO, not a regular file");

        var result = TerminateAndExpect143(unshare, pid);
        AssertUntouched(s, result);
    }

    [BlackBoxTheory(Needs = Needs.Root, NotUnderQemu = Qemu.RssIsTheEmulators)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Gigabyte_markers_and_dev_zero_are_not_read(int mode)
    {
        Scene s = Prepare(mode, onTmpfs: true);
        var plant = AsAttacker($"""
            mkdir {s.StepPath("A")} {s.StepPath("Z")} && truncate -s 1200M {s.StepPath("A", "exitcode")} {s.StepPath("A", "status.json")} &&
            ln -s /dev/zero {s.StepPath("Z", "exitcode")}
            """);
        plant.ExitCode.Should().Be(0, "{0}", plant);
        // A root container can make a device node where a link would be refused.
        Run("mknod", s.StepPath("Z", "status.json"), "c", "1", "5").ExitCode.Should().Be(0);

        var (unshare, pid) = StartAsPid1(s, "run", "--log-level", "debug", "--name", "B", "--control-dir", s.Ctl, "--after", "A", "--after", "Z",
            "--", s.TestChild, "exit", "0");
        WaitForStderr(unshare, $"ignoring {s.StepPath("A", "exitcode")}: it is larger than 4096 bytes");
        WaitForStderr(unshare, $"ignoring {s.StepPath("A", "status.json")}: it is larger than 65536 bytes");
        WaitForStderr(unshare, $"ignoring {s.StepPath("Z", "exitcode")}: it is a symbolic link, not a regular file");
        WaitForStderr(unshare, $"ignoring {s.StepPath("Z", "status.json")}: it is a character device, not a regular file");

        long peak = PeakResidentBytes(pid);
        peak.Should().BeLessThan(MemoryLimit, $"emissary's peak RSS ({peak >> 20} MiB) stays bounded whatever the markers' size");
        var result = TerminateAndExpect143(unshare, pid);
        AssertUntouched(s, result);
    }

    [BlackBoxTheory(Needs = Needs.Root, NotUnderQemu = Qemu.RssIsTheEmulators)]
    [InlineData(KubeletEmptyDir)]
    [InlineData(EmissaryMade)]
    public void Two_hundred_megabytes_without_a_newline_on_the_signal_fifo_cost_nothing(int mode)
    {
        Scene s = Prepare(mode);
        var (unshare, pid) = StartAsPid1(s, "run", "--name", "B", "--control-dir", s.Ctl, "--", s.TestChild, "sleep", "60");
        Steps.WaitForStatus(s.Ctl, "B", st => st.State == "running", "B to run");

        var spam = AsAttacker($"head -c 200000000 /dev/zero > {s.StepPath("B", "signal")}");
        spam.ExitCode.Should().Be(0, "the FIFO is 0622: any uid may write a request\n{0}", spam);
        WaitForStderr(unshare, "ignoring a line longer than 64 bytes");

        long peak = PeakResidentBytes(pid);
        peak.Should().BeLessThan(MemoryLimit, $"emissary's peak RSS ({peak >> 20} MiB) stays bounded under 200 MB of spam");
        var result = TerminateAndExpect143(unshare, pid);
        AssertUntouched(s, result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_wait_fifo_that_is_a_device_or_a_file_is_a_usage_error()
    {
        Scene s = Prepare(EmissaryMade);
        foreach (string target in new[] { "/dev/random", s.Victim })
        {
            var (unshare, _) = StartAsPid1(s, "run", "--wait-fifo", target, "--", s.TestChild, "exit", "0");
            var result = unshare.WaitForExit(HangGuard);
            result.ExitCode.Should().Be(125, "{0}", result);
            AssertOneEmissaryErrorLine(result);
            result.Stderr.Should().Contain($"--wait-fifo {target} is not a FIFO");
        }
        AssertUntouched(s);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Opening_and_closing_a_wait_fifo_without_writing_does_not_open_the_gate()
    {
        Scene s = Prepare(EmissaryMade);
        string fifo = Path.Combine(s.Ctl, "go");
        var (unshare, pid) = StartAsPid1(s, "run", "--log-level", "debug", "--wait-fifo", fifo, "--", "/bin/echo", "ran");
        WaitForStderr(unshare, "waiting for a write to FIFO");
        Libc.IsFifo(fifo).Should().BeTrue();

        // Opened for writing and closed without a byte (no O_CREAT: protected_fifos may refuse it in a sticky directory).
        var poke = AsAttacker($"for i in $(seq 1 50); do dd if=/dev/null of={fifo} conv=nocreat,notrunc status=none || exit 1; done");
        poke.ExitCode.Should().Be(0, "{0}", poke);
        unshare.HasExited.Should().BeFalse("EOF without data is not a write: the gate stays closed");
        unshare.StdoutLines.Should().NotContain("ran");

        var result = TerminateAndExpect143(unshare, pid);
        result.StdoutLines.Should().NotContain("ran");
    }

    public new void Dispose()
    {
        foreach (string mount in _mounts)
            Run("umount", "-l", mount);
        base.Dispose();
    }
}

/// <summary>File types by lstat (statx without following), for the security tests.</summary>
[SupportedOSPlatform("linux")]
internal static partial class Libc
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "statx", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatXNative(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>The S_IFMT bits of <paramref name="path"/> itself, or -1.</summary>
    private static unsafe int TypeBits(string path)
    {
        byte* buffer = stackalloc byte[256];
        const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
        return StatXNative(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 1 /* STATX_TYPE */, buffer) == 0 ? *(ushort*)(buffer + 28) & 0xF000 : -1;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "chown", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    private static partial int ChownNative(string path, uint uid, uint gid);

    public static void Chown(string path, uint uid, uint gid)
    {
        if (ChownNative(path, uid, gid) != 0)
            throw new InvalidOperationException($"chown {path}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    public static bool IsFifo(string path) => TypeBits(path) == 0x1000;

    public static bool IsRegularFile(string path) => TypeBits(path) == 0x8000;
}
