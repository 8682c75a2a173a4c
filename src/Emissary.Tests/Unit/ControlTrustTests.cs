using System.Text;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Tests.BlackBox;
using Emissary.Files;

namespace Emissary.Tests.Unit;

/// <summary>The control directory's file primitives against files another container may have planted.</summary>
public sealed class ControlTrustTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emissary-trust-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private SafeFd OpenRoot() => new(Emissary.Interop.Libc.Open(_root, Emissary.Interop.Libc.O_RDONLY | Emissary.Interop.Libc.O_DIRECTORY | Emissary.Interop.Libc.O_CLOEXEC, 0));

    /// <summary>Both ways a record goes in: over an existing name (status.json), and as a usually new one (exitcode, rename without replacing first).</summary>
    [Theory]
    [InlineData("status.json", false)]
    [InlineData("exitcode", true)]
    public void An_atomic_write_replaces_a_planted_link_instead_of_writing_through_it(string name, bool usuallyNew)
    {
        string victim = Path.Combine(_root, "victim");
        File.WriteAllText(victim, "victim");
        File.CreateSymbolicLink(Path.Combine(_root, name), victim);
        using SafeFd dir = OpenRoot();

        AtomicFile.WriteAt(dir.Fd, name, "new"u8, usuallyNew: usuallyNew);

        File.ReadAllText(victim).Should().Be("victim");
        new FileInfo(Path.Combine(_root, name)).LinkTarget.Should().BeNull();
        File.ReadAllText(Path.Combine(_root, name)).Should().Be("new");
        ((int)File.GetUnixFileMode(Path.Combine(_root, name))).Should().Be(0x1A4, "exactly 0644, whatever the umask");
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["victim", name], "the link is unlinked, not kept, and no temporary file is left");
    }

    [Fact]
    public void Replacing_a_file_swaps_the_new_one_in_and_leaves_no_temporary_file()
    {
        using SafeFd dir = OpenRoot();
        AtomicFile.WriteAt(dir.Fd, "status.json", "old"u8);
        using FileStream reader = File.OpenRead(Path.Combine(_root, "status.json"));

        AtomicFile.WriteAt(dir.Fd, "status.json", "new"u8);

        File.ReadAllText(Path.Combine(_root, "status.json")).Should().Be("new");
        new StreamReader(reader).ReadToEnd().Should().Be("old", "a reader that opened the old file keeps reading it whole");
        ((int)File.GetUnixFileMode(Path.Combine(_root, "status.json"))).Should().Be(0x1A4);
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["status.json"], "the old file is unlinked after the swap");
    }

    [Fact]
    public void A_directory_in_the_way_is_not_swapped_away()
    {
        string planted = Path.Combine(_root, "status.json");
        Directory.CreateDirectory(planted);
        File.WriteAllText(Path.Combine(planted, "inside"), "x");
        using SafeFd dir = OpenRoot();

        Action write = () => AtomicFile.WriteAt(dir.Fd, "status.json", "new"u8);

        write.Should().Throw<IOException>().WithMessage("cannot write status.json: *");
        File.ReadAllText(Path.Combine(planted, "inside")).Should().Be("x");
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["status.json"], "no temporary file is left");
    }

    [Fact]
    public void A_replaced_file_can_be_left_for_later_and_is_removed_then()
    {
        using SafeFd dir = OpenRoot();
        AtomicFile.WriteAt(dir.Fd, "status.json", "old"u8);
        var replaced = new List<string>();

        AtomicFile.WriteAt(dir.Fd, "status.json", "new"u8, replaced: replaced);

        File.ReadAllText(Path.Combine(_root, "status.json")).Should().Be("new");
        replaced.Should().ContainSingle().Which.Should().StartWith(".status.json.tmp-");
        File.ReadAllText(Path.Combine(_root, replaced[0])).Should().Be("old", "the old file waits under its temporary name");
        AtomicFile.RemoveReplaced(dir.Fd, replaced);
        replaced.Should().BeEmpty();
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["status.json"]);
    }

    [Fact]
    public void A_directory_in_the_way_is_not_swapped_away_when_the_removal_is_left_for_later_either()
    {
        string planted = Path.Combine(_root, "status.json");
        Directory.CreateDirectory(planted);
        using SafeFd dir = OpenRoot();
        var replaced = new List<string>();

        Action write = () => AtomicFile.WriteAt(dir.Fd, "status.json", "new"u8, replaced: replaced);

        write.Should().Throw<IOException>().WithMessage("cannot write status.json: *");
        replaced.Should().BeEmpty();
        Directory.Exists(planted).Should().BeTrue();
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["status.json"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_usually_new_file_is_written_whether_or_not_it_exists(bool exists)
    {
        using SafeFd dir = OpenRoot();
        if (exists)
            AtomicFile.WriteAt(dir.Fd, "exitcode", "1\n"u8);

        AtomicFile.WriteAt(dir.Fd, "exitcode", "0\n"u8, usuallyNew: true);

        File.ReadAllText(Path.Combine(_root, "exitcode")).Should().Be("0\n");
        ((int)File.GetUnixFileMode(Path.Combine(_root, "exitcode"))).Should().Be(0x1A4);
        Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Should().BeEquivalentTo(["exitcode"]);
    }

    [Fact]
    public void Untrusted_reads_refuse_links_fifos_and_oversized_files_without_blocking()
    {
        File.WriteAllText(Path.Combine(_root, "ok"), "42\n");
        File.CreateSymbolicLink(Path.Combine(_root, "link"), Path.Combine(_root, "ok"));
        Emissary.Interop.Libc.MkFifo(Path.Combine(_root, "fifo"), 0x1B6).Should().Be(0);
        File.WriteAllBytes(Path.Combine(_root, "big"), new byte[5000]);
        using SafeFd dir = OpenRoot();

        UntrustedFile.Read(dir.Fd, "ok", 4096).Should().Match<BoundedRead>(r => r.Outcome == ReadOutcome.Read && Encoding.ASCII.GetString(r.Bytes!) == "42\n");
        UntrustedFile.Read(dir.Fd, "link", 4096).Outcome.Should().Be(ReadOutcome.NotRegular);
        UntrustedFile.Read(dir.Fd, "fifo", 4096).Should().Match<BoundedRead>(r => r.Outcome == ReadOutcome.NotRegular && r.Problem == "is a FIFO, not a regular file");
        UntrustedFile.Read(dir.Fd, "big", 4096).Should().Match<BoundedRead>(r => r.Outcome == ReadOutcome.TooLarge && r.Size == 5000);
        UntrustedFile.Read(dir.Fd, "absent", 4096).Outcome.Should().Be(ReadOutcome.Missing);
    }

    [Fact]
    public void Markers_that_are_not_regular_files_count_as_absent()
    {
        var control = new ControlDirectory(_root);
        Directory.CreateDirectory(Path.Combine(_root, "a"));
        Emissary.Interop.Libc.MkFifo(Path.Combine(_root, "a", "exitcode"), 0x1B6).Should().Be(0);
        File.CreateSymbolicLink(Path.Combine(_root, "a", "status.json"), "/dev/zero");
        Emissary.Interop.Libc.MkFifo(Path.Combine(_root, ".start.a"), 0x1B6).Should().Be(0);
        File.WriteAllText(Path.Combine(_root, ".skip.b"), "");
        File.CreateSymbolicLink(Path.Combine(_root, "c"), Path.Combine(_root, "a"));

        control.ReadExitCode("a").Should().BeNull();
        control.ReadStatus("a").Should().BeNull();
        control.HasRequest("a", start: true).Should().BeFalse();
        control.HasRequest("b", start: false).Should().BeTrue();
        control.StepNames().Should().Equal("a");
        control.StepExists("c").Should().BeFalse("a link is not a step directory");
    }

    [Fact]
    public void A_step_directory_that_is_a_link_is_refused()
    {
        var control = new ControlDirectory(Path.Combine(_root, "ctl"));
        Directory.CreateDirectory(control.Root);
        Directory.CreateDirectory(Path.Combine(_root, "elsewhere"));
        File.CreateSymbolicLink(control.StepDirectory("b"), Path.Combine(_root, "elsewhere"));

        Action register = () => StepHandle.Register(control, "b", DateTimeOffset.UnixEpoch, [], waitsForStart: false);

        register.Should().Throw<StepDirectoryRefusedException>().WithMessage("*is a symbolic link, not a directory: refusing to use it");
        Directory.EnumerateFileSystemEntries(Path.Combine(_root, "elsewhere")).Should().BeEmpty();
    }

    [RootFact]
    public void A_step_directory_owned_by_another_uid_is_refused()
    {
        var control = new ControlDirectory(Path.Combine(_root, "ctl"));
        Directory.CreateDirectory(control.StepDirectory("b"));
        File.SetUnixFileMode(control.Root, (UnixFileMode)0x1FF);
        Emissary.Tests.BlackBox.Libc.Chown(control.StepDirectory("b"), 1000, 1000);

        Action register = () => StepHandle.Register(control, "b", DateTimeOffset.UnixEpoch, [], waitsForStart: false);

        register.Should().Throw<StepDirectoryRefusedException>()
            .WithMessage($"step directory {control.StepDirectory("b")} belongs to uid 1000, not to this step (uid 0): refusing to use it");
        Directory.EnumerateFileSystemEntries(control.StepDirectory("b")).Should().BeEmpty("nothing is written into it");
    }
}
