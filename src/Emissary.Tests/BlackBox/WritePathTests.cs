using System.Runtime.Versioning;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// Paths Emissary writes (capture files, the termination log, entrypoint's cp and decode-script,
/// init) on a volume another container shares: a small tmpfs mounted 0777, where uid 1000
/// (setpriv) plants links and FIFOs before a root emissary runs. A link there is never followed
/// (nothing outside changes, nothing is created through a dangling link or a linked parent), a
/// FIFO never hangs the step, and the legitimate paths keep working: plain paths, missing parents,
/// a link on the root file system, Tekton's /tekton/steps/step-NAME link on a read-only mount.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "setpriv")]
[SupportedOSPlatform("linux")]
public sealed class WritePathTests : BlackBoxTest, IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(10);
    private const string SecretText = "SECRET\n";
    private const string Refused = "is a symbolic link on a shared volume";

    private readonly List<string> _mounts = new();
    private string _root = "";

    /// <summary>root (on the root file system), root/vol (the shared tmpfs, 0777), root/secret (0600), root/outside (an empty directory).</summary>
    private string Root => _root.Length > 0 ? _root : _root = Prepare();

    private string Vol => Path.Combine(Root, "vol");

    private string Secret => Path.Combine(Root, "secret");

    private string Outside => Path.Combine(Root, "outside");

    private string Prepare()
    {
        string root = TempDir("wp");
        string vol = Path.Combine(root, "vol");
        Directory.CreateDirectory(vol);
        Mount("-t", "tmpfs", "-o", "size=16m,mode=0777", "tmpfs", vol);
        File.WriteAllText(Path.Combine(root, "secret"), SecretText);
        File.SetUnixFileMode(Path.Combine(root, "secret"), (UnixFileMode)0x180);
        Directory.CreateDirectory(Path.Combine(root, "outside"));
        return root;
    }

    private void Mount(params string[] args)
    {
        var mount = Run("mount", args);
        mount.ExitCode.Should().Be(0, "{0}", mount);
        _mounts.Insert(0, args[^1]);
    }

    private void AsAttacker(string script)
    {
        var result = Run("setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "/bin/sh", "-c", script);
        result.ExitCode.Should().Be(0, "the attacker's set-up works\n{0}", result);
    }

    private void AssertNothingOutsideChanged()
    {
        File.ReadAllText(Secret).Should().Be(SecretText, "the file behind the planted link is unchanged");
        ((int)File.GetUnixFileMode(Secret)).Should().Be(0x180);
        Directory.EnumerateFileSystemEntries(Outside).Should().BeEmpty("nothing is created through a planted link");
        File.Exists(Path.Combine(Root, "created")).Should().BeFalse("nothing is created through a dangling link");
    }

    private static int Count(string text, string part)
    {
        int n = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
            n++;
        return n;
    }

    // ---- emissary run ----

    [BlackBoxFact(Needs = Needs.Root)]
    public void Run_refuses_links_planted_at_capture_and_termination_log_paths()
    {
        AsAttacker($"ln -s {Secret} {Vol}/out && ln -s {Root}/created {Vol}/err && ln -s {Secret} {Vol}/log");

        var result = RunEmissary("run", "--stdout-path", $"{Vol}/out", "--stderr-path", $"{Vol}/err", "--termination-log", $"{Vol}/log",
            "--", "/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3");

        result.ExitCode.Should().Be(3, "the step runs and exits with its own code\n{0}", result);
        result.StdoutLines.Should().Equal("to-out");
        AssertNothingOutsideChanged();
        Count(result.Stderr, Refused).Should().Be(3, "one warning for each refused path\n{0}", result);
        result.Stderr.Should().Contain($"{Vol}/out {Refused}").And.Contain($"{Vol}/err {Refused}").And.Contain($"{Vol}/log {Refused}");
        AssertNoStackTrace(result);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Run_creates_nothing_through_a_link_planted_in_place_of_a_parent_directory()
    {
        AsAttacker($"ln -s {Outside} {Vol}/dir && ln -s {Root}/created {Vol}/gone");

        var result = RunEmissary("run", "--stdout-path", $"{Vol}/dir/sub/out", "--stderr-path", $"{Vol}/gone/err", "--termination-log", $"{Vol}/dir/log",
            "--", "/bin/sh", "-c", "echo to-out; exit 4");

        result.ExitCode.Should().Be(4, result.ToString());
        AssertNothingOutsideChanged();
        Count(result.Stderr, Refused).Should().Be(3, result.ToString());
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Run_does_not_hang_on_a_FIFO_planted_at_a_capture_or_termination_log_path()
    {
        AsAttacker($"mkfifo {Vol}/out {Vol}/err {Vol}/log");

        var result = StartEmissary("run", "--stdout-path", $"{Vol}/out", "--stderr-path", $"{Vol}/err", "--termination-log", $"{Vol}/log",
            "--", "/bin/sh", "-c", "echo to-out; exit 5").WaitForExit(HangGuard);

        result.ExitCode.Should().Be(5, result.ToString());
        result.StdoutLines.Should().Equal("to-out");
        Count(result.Stderr, "is a FIFO, not a regular file").Should().Be(3, result.ToString());
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void SIGTERM_ends_a_step_whose_capture_path_is_a_planted_FIFO()
    {
        AsAttacker($"mkfifo {Vol}/out");

        var step = StartEmissary("run", "--stdout-path", $"{Vol}/out", "--", "/bin/sh", "-c", "echo started; exec sleep 60");
        step.WaitForLine("started", HangGuard);
        step.Signal(Libc.SIGTERM);

        step.WaitForExit(HangGuard).ExitCode.Should().Be(143);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Run_keeps_writing_plain_paths_new_parents_an_existing_log_and_links_on_the_root_file_system()
    {
        // Like the kubelet's /dev/termination-log: an existing 0666 file, written in place or replaced.
        string log = Path.Combine(Vol, "termination-log");
        File.WriteAllText(log, new string('x', 5000));
        // A link on the root file system (like /var/run -> /run) into the shared volume: only this container made it.
        Directory.CreateDirectory(Path.Combine(Vol, "real"));
        File.CreateSymbolicLink(Path.Combine(Root, "linked"), Path.Combine(Vol, "real"));

        var result = RunEmissary("run", "--stdout-path", $"{Vol}/new/parents/out", "--stderr-path", $"{Root}/linked/err", "--termination-log", log,
            "--", "/bin/sh", "-c", "echo to-out; echo to-err >&2");

        result.ExitCode.Should().Be(0, result.ToString());
        result.Stderr.Should().NotContain("warning", result.ToString());
        File.ReadAllText(Path.Combine(Vol, "new", "parents", "out")).Should().Be("to-out\n");
        File.ReadAllText(Path.Combine(Vol, "real", "err")).Should().Be("to-err\n");
        File.ReadAllText(log).Should().StartWith("{").And.Contain("\"exitCode\":0");
        ((int)File.GetUnixFileMode(Path.Combine(Vol, "new"))).Should().Be(0x1ED, "missing parents are created 0755");
    }

    // ---- Tekton's entrypoint ----

    private Dictionary<string, string> TektonEnv(string root) => new() { ["EMISSARY_TEKTON_ROOT"] = root, ["HOME"] = root };

    private ProcessResult RunStep(string tekton, params string[] flagsAndCommand)
    {
        string[] args = ["-post_file", $"{tekton}/run/0/out", "-step_metadata_dir", $"{tekton}/run/0/status", .. flagsAndCommand];
        return Start(Artifacts.Entrypoint, args, TektonEnv(tekton)).WaitForExit(HangGuard);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_credentials_neither_follow_links_planted_in_the_shared_creds_and_home_nor_copy_a_linked_secret_home()
    {
        // /tekton/creds and /tekton/home are shared by every step. Another step plants
        // creds/.gitconfig -> this step's own secret (copied into the shared home, it would leak),
        // home/.git-credentials -> a root-only file (written through, it would be overwritten), and
        // creds/.ssh -> a directory outside (its files would be written there).
        string tekton = Path.Combine(Root, "tekton");
        Directory.CreateDirectory(Path.Combine(tekton, "run", "0"));
        string secrets = Path.Combine(tekton, "creds-secrets", "gh");
        Directory.CreateDirectory(secrets);
        File.WriteAllText(Path.Combine(secrets, "username"), "bot");
        File.WriteAllText(Path.Combine(secrets, "password"), "s3cret");
        AsAttacker($"mkdir {Vol}/creds {Vol}/home && ln -s {Secret} {Vol}/creds/.gitconfig && ln -s {Secret} {Vol}/home/.git-credentials"
            + $" && ln -s {Outside} {Vol}/home/.ssh && mkdir {Vol}/creds/.ssh && echo key > {Vol}/creds/.ssh/id");
        Mount("--bind", Path.Combine(Vol, "creds"), Directory.CreateDirectory(Path.Combine(tekton, "creds")).FullName);
        var env = TektonEnv(tekton);
        env["HOME"] = Path.Combine(Vol, "home");

        var result = Start(Artifacts.Entrypoint, ["-post_file", $"{tekton}/run/0/out", "-step_metadata_dir", $"{tekton}/run/0/status",
            "-termination_path", $"{tekton}/termination", "-basic-git=gh=https://github.com", "-entrypoint", "/bin/true", "--"], env).WaitForExit(HangGuard);

        result.ExitCode.Should().Be(0, result.ToString());
        AssertNothingOutsideChanged();
        File.ReadAllText(Path.Combine(Vol, "creds", ".git-credentials")).Should().Be("https://bot:s3cret@github.com\n");
        File.ReadAllText(Path.Combine(Vol, "creds", ".gitconfig")).Should().NotContain("SECRET", "this step's own .gitconfig replaced the planted link");
        foreach (string copied in Directory.EnumerateFiles(Path.Combine(Vol, "home"), "*", SearchOption.AllDirectories))
            File.ReadAllText(copied).Should().NotContain("SECRET", "{0} must not hold the step's secret", copied);
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Run_neither_makes_nor_reads_a_results_dir_through_a_planted_link()
    {
        // --results-dir on a shared volume, replaced by a link to a directory of this container's
        // secrets: before, its files were collected into the termination message as results.
        string secrets = Path.Combine(Root, "secrets");
        Directory.CreateDirectory(secrets);
        File.WriteAllText(Path.Combine(secrets, "token"), "TOKEN-SECRET");
        AsAttacker($"ln -s {secrets} {Vol}/results");
        string termination = Path.Combine(Root, "termination");

        var result = Start(EmissaryPath, ["run", "--results-dir", $"{Vol}/results", "--termination-log", termination,
            "--", "/bin/sh", "-c", "echo ran"]).WaitForExit(HangGuard);

        result.ExitCode.Should().Be(125, result.ToString());
        AssertOneEmissaryErrorLine(result);
        result.Stderr.Should().Contain($"{Vol}/results {Refused}");
        result.StdoutLines.Should().BeEmpty("the command does not run without its results directory");
        (File.Exists(termination) ? File.ReadAllText(termination) : "").Should().NotContain("TOKEN-SECRET");
        AssertNothingOutsideChanged();
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_refuses_links_and_FIFOs_planted_at_its_capture_paths()
    {
        string tekton = Path.Combine(Root, "tekton");
        Directory.CreateDirectory(Path.Combine(tekton, "run", "0"));
        AsAttacker($"ln -s {Secret} {Vol}/out && mkfifo {Vol}/err");

        var result = RunStep(tekton, "-termination_path", $"{tekton}/termination", "-stdout_path", $"{Vol}/out", "-stderr_path", $"{Vol}/err",
            "-entrypoint", "/bin/sh", "--", "-c", "echo to-out; echo to-err >&2; exit 3");

        result.ExitCode.Should().Be(3, result.ToString());
        AssertNothingOutsideChanged();
        result.Stderr.Should().Contain($"{Vol}/out {Refused}").And.Contain("is a FIFO, not a regular file");
        File.ReadAllText($"{tekton}/termination").Should().Contain("StartedAt");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_refuses_a_link_or_FIFO_planted_at_its_termination_path()
    {
        string tekton = Path.Combine(Root, "tekton");
        Directory.CreateDirectory(Path.Combine(tekton, "run", "0"));
        AsAttacker($"ln -s {Secret} {Vol}/link && mkfifo {Vol}/fifo");

        foreach (string path in new[] { $"{Vol}/link", $"{Vol}/fifo" })
        {
            var result = RunStep(tekton, "-termination_path", path, "-entrypoint", "/bin/sh", "--", "-c", "echo ran");

            // As for any termination message that cannot be written: Go's log line, exit 1.
            result.ExitCode.Should().Be(1, result.ToString());
            result.StdoutLines.Should().Equal("ran");
            result.Stderr.Should().Contain("Error while writing message: cannot write the termination message to " + path);
        }
        AssertNothingOutsideChanged();
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_writes_stdoutConfig_paths_through_the_step_link_on_a_read_only_mount()
    {
        // /tekton/steps is an emptyDir the init container fills and every step mounts read-only;
        // /tekton/run/0 is step 0's own read-write volume. $(step.results.out.path) goes through the link.
        string tekton = Path.Combine(Root, "tekton");
        string steps = Path.Combine(tekton, "steps");
        string run = Path.Combine(tekton, "run", "0");
        Directory.CreateDirectory(steps);
        Directory.CreateDirectory(run);
        Mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", run);
        Mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", steps);
        File.CreateSymbolicLink(Path.Combine(steps, "step-x"), Path.Combine(run, "status"));
        Directory.CreateDirectory(Path.Combine(run, "status"));
        Mount("-o", "remount,ro", "tmpfs", steps);

        var result = RunStep(tekton, "-termination_path", $"{tekton}/termination", "-stdout_path", $"{steps}/step-x/results/out",
            "-entrypoint", "/bin/sh", "--", "-c", "printf result-value");

        result.ExitCode.Should().Be(0, result.ToString());
        result.Stderr.Should().NotContain("warning", result.ToString());
        File.ReadAllText(Path.Combine(run, "status", "results", "out")).Should().Be("result-value");
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void A_link_on_a_read_only_mount_is_refused_too_the_volume_may_be_writable_in_another_container()
    {
        // The per-step layout: DIR/A is read-only here and read-write in step A's container, which
        // planted a link there; read-only in this container proves nothing about who wrote it.
        string other = Path.Combine(Root, "ctl", "a");
        Directory.CreateDirectory(other);
        Mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", other);
        File.CreateSymbolicLink(Path.Combine(other, "logs"), Outside);
        File.CreateSymbolicLink(Path.Combine(other, "log"), Secret);
        Mount("-o", "remount,ro", "tmpfs", other);

        var result = Start(EmissaryPath, ["run", "--stdout-path", $"{other}/logs/out", "--termination-log", $"{other}/log",
            "--", "/bin/sh", "-c", "echo ran; exit 3"]).WaitForExit(HangGuard);

        result.ExitCode.Should().Be(3, result.ToString());
        result.StdoutLines.Should().Equal("ran");
        result.Stderr.Should().Contain($"{other}/logs {Refused}").And.Contain($"{other}/log {Refused}");
        AssertNothingOutsideChanged();
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void The_same_step_link_on_a_writable_shared_volume_is_refused()
    {
        string tekton = Path.Combine(Root, "tekton");
        Directory.CreateDirectory(Path.Combine(tekton, "run", "0"));
        AsAttacker($"mkdir {Vol}/steps && ln -s {Outside} {Vol}/steps/step-x");

        var result = RunStep(tekton, "-termination_path", $"{tekton}/termination", "-stdout_path", $"{Vol}/steps/step-x/results/out",
            "-entrypoint", "/bin/sh", "--", "-c", "printf result-value");

        result.ExitCode.Should().Be(0, result.ToString());
        result.Stderr.Should().Contain($"{Vol}/steps/step-x {Refused}");
        AssertNothingOutsideChanged();
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_cp_refuses_a_planted_link_or_FIFO_at_either_end()
    {
        AsAttacker($"ln -s {Secret} {Vol}/link && ln -s {Root}/created {Vol}/dangling && mkfifo {Vol}/fifo");

        foreach (var (from, to) in new[] { ("/bin/true", $"{Vol}/link"), ("/bin/true", $"{Vol}/dangling"), ("/bin/true", $"{Vol}/fifo"), ($"{Vol}/fifo", $"{Root}/copy") })
        {
            var result = Start(Artifacts.Entrypoint, new[] { "cp", from, to }).WaitForExit(HangGuard);
            result.ExitCode.Should().Be(1, result.ToString());
            result.Stderr.Should().Contain("cp error: open ");
        }
        AssertNothingOutsideChanged();
        File.Exists(Path.Combine(Root, "copy")).Should().BeFalse();

        var plain = Start(Artifacts.Entrypoint, new[] { "cp", "/bin/true", $"{Vol}/true" }).WaitForExit(HangGuard);
        plain.ExitCode.Should().Be(0, plain.ToString());
        File.ReadAllBytes($"{Vol}/true").Should().Equal(File.ReadAllBytes("/bin/true"));
    }

    [BlackBoxFact(Needs = Needs.Root)]
    public void Entrypoint_decode_script_refuses_a_planted_link_or_FIFO()
    {
        // Base64 that decodes: the old code replaced the linked file with its decoding.
        string encodedSecret = Path.Combine(Root, "encoded-secret");
        File.WriteAllText(encodedSecret, "c2VjcmV0Cg==");
        File.SetUnixFileMode(encodedSecret, (UnixFileMode)0x180);
        AsAttacker($"ln -s {encodedSecret} {Vol}/link && mkfifo {Vol}/fifo");

        foreach (string path in new[] { $"{Vol}/link", $"{Vol}/fifo" })
        {
            var result = Start(Artifacts.Entrypoint, new[] { "decode-script", path }).WaitForExit(HangGuard);
            result.ExitCode.Should().Be(1, result.ToString());
            result.Stderr.Should().Contain($"decode-script error: error decoding script file \"{path}\"");
        }
        File.ReadAllText(encodedSecret).Should().Be("c2VjcmV0Cg==");

        File.WriteAllText($"{Vol}/script", "ZWNobyBoaQo=");
        Start(Artifacts.Entrypoint, new[] { "decode-script", $"{Vol}/script" }).WaitForExit(HangGuard).ExitCode.Should().Be(0);
        File.ReadAllText($"{Vol}/script").Should().Be("echo hi\n");
    }

    // ---- emissary init ----

    [BlackBoxFact(Needs = Needs.Root)]
    public void Init_installs_nothing_through_a_planted_link()
    {
        AsAttacker($"ln -s {Outside} {Vol}/bin && ln -s {Root}/created {Vol}/gone");

        foreach (string destination in new[] { $"{Vol}/bin", $"{Vol}/bin/", $"{Vol}/gone/x/emissary" })
        {
            var result = RunEmissary("init", destination);
            result.ExitCode.Should().Be(125, result.ToString());
            AssertOneEmissaryErrorLine(result);
            result.Stderr.Should().Contain(Refused);
        }
        AssertNothingOutsideChanged();

        var ok = RunEmissary("init", $"{Vol}/new/dir/");
        ok.ExitCode.Should().Be(0, ok.ToString());
        File.ReadAllBytes($"{Vol}/new/dir/emissary").Should().Equal(File.ReadAllBytes(EmissaryPath));
    }

    public new void Dispose()
    {
        foreach (string mount in _mounts)
            Run("umount", "-l", mount);
        base.Dispose();
    }
}
