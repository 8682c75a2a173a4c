using Emissary.Foundation;
using Emissary.Interop;
using Native = Emissary.Interop.Libc;
using Emissary.Files;

namespace Emissary.Tests.Unit;

/// <summary>
/// The write-path resolver on a temp tree. The tree is on the same file system as "/" here (a
/// link in it counts as one this container made); links on a shared volume are refused in
/// BlackBox/WritePathTests, which can mount one.
/// </summary>
public sealed class WritePathResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emissary-writepath-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private bool OnRootFileSystem =>
        Native.StatAt(Native.AT_FDCWD, _root) is { } tree && Native.StatAt(Native.AT_FDCWD, "/") is { } root &&
        (tree.DevMajor, tree.DevMinor) == (root.DevMajor, root.DevMinor);

    private static string NameOf(WritePath place) => place.Name;

    [Fact]
    public void A_plain_path_resolves_to_its_directory_and_last_name()
    {
        using WritePath place = WritePath.Resolve(Path.Combine(_root, "file"));

        NameOf(place).Should().Be("file");
        Native.IdentityOf(place.DirectoryFd).Should().Be(IdentityOfPath(_root));
    }

    [Fact]
    public void Missing_parents_are_created_only_when_asked()
    {
        string path = Path.Combine(_root, "a", "b", "file");

        FluentActions.Invoking(() => WritePath.Resolve(path)).Should().Throw<WritePathException>().Which.Errno.Should().Be(Errno.ENOENT);
        using (WritePath place = WritePath.Resolve(path, createParents: true))
        {
            Native.IdentityOf(place.DirectoryFd).Should().Be(IdentityOfPath(Path.Combine(_root, "a", "b")));
        }
        Directory.Exists(Path.Combine(_root, "a", "b")).Should().BeTrue();
    }

    [Fact]
    public void A_link_made_on_the_root_file_system_is_followed_in_the_middle_and_at_the_end()
    {
        if (!OnRootFileSystem)
            return; // the temp directory is a mount of its own here: the black-box tests cover both
        Directory.CreateDirectory(Path.Combine(_root, "real"));
        File.CreateSymbolicLink(Path.Combine(_root, "dir"), "real");
        File.CreateSymbolicLink(Path.Combine(_root, "real", "last"), Path.Combine(_root, "real", "target"));

        using WritePath place = WritePath.Resolve(Path.Combine(_root, "dir", "last"));

        NameOf(place).Should().Be("target");
        Native.IdentityOf(place.DirectoryFd).Should().Be(IdentityOfPath(Path.Combine(_root, "real")));
        using WritePath parent = WritePath.Parent(Path.Combine(_root, "dir", "last"));
        NameOf(parent).Should().Be("last", "Parent leaves the last name alone");
    }

    [Fact]
    public void More_than_forty_links_are_ELOOP()
    {
        if (!OnRootFileSystem)
            return;
        File.CreateSymbolicLink(Path.Combine(_root, "l0"), "end");
        for (int i = 1; i <= 41; i++)
            File.CreateSymbolicLink(Path.Combine(_root, $"l{i}"), $"l{i - 1}");

        using (WritePath place = WritePath.Resolve(Path.Combine(_root, "l39")))
            NameOf(place).Should().Be("end");
        FluentActions.Invoking(() => WritePath.Resolve(Path.Combine(_root, "l41"))).Should().Throw<WritePathException>().Which.Errno.Should().Be(Errno.ELOOP);
    }

    [Fact]
    public void Only_a_regular_file_is_opened_and_a_FIFO_never_blocks()
    {
        string fifo = Path.Combine(_root, "fifo");
        Native.MkFifo(fifo, 0x1A4).Should().Be(0);
        using WritePath place = WritePath.Resolve(fifo);

        var refused = FluentActions.Invoking(() => place.Open(Native.O_WRONLY, create: true, mode: (UnixFileMode)0x1A4)).Should().Throw<WritePathException>().Which;
        refused.Message.Should().Be("is a FIFO, not a regular file");
        FluentActions.Invoking(() => place.Open(Native.O_RDONLY)).Should().Throw<WritePathException>();
        FluentActions.Invoking(() => WritePath.Resolve(_root).Open(Native.O_RDONLY)).Should().Throw<WritePathException>().Which.Errno.Should().Be(Errno.EISDIR);
    }

    [Fact]
    public void A_created_file_is_regular_and_blocking()
    {
        using WritePath place = WritePath.Resolve(Path.Combine(_root, "new"));
        using SafeFd fd = place.Open(Native.O_WRONLY, create: true, mode: (UnixFileMode)0x1A4);

        Native.KindOf(fd.Fd).Should().Be(FileType.Regular);
        (Native.Fcntl(fd.Fd, Native.F_GETFL, 0) & Native.O_NONBLOCK).Should().Be(0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/tmp/")]
    [InlineData("/tmp/..")]
    public void A_path_without_a_file_name_is_refused(string path)
    {
        FluentActions.Invoking(() => WritePath.Resolve(path)).Should().Throw<WritePathException>();
    }

    private static (uint, uint, ulong)? IdentityOfPath(string path)
    {
        using var fd = new SafeFd(Native.Open(path, Native.O_RDONLY | Native.O_DIRECTORY | Native.O_CLOEXEC, 0));
        return Native.IdentityOf(fd.Fd);
    }
}
