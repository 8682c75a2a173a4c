using System.Text;
using Emissary.Interop;
using Emissary.Results;

namespace Emissary.Tests.Unit.Results;

public sealed class TerminationMessageWriteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-termlog-").FullName;

    public void Dispose()
    {
        File.SetUnixFileMode(_dir, (UnixFileMode)0x1FF);
        Directory.Delete(_dir, recursive: true);
    }

    private static readonly byte[] Message = Encoding.UTF8.GetBytes("""{"exitCode":0}""");

    [Fact]
    public void Creates_the_file_when_it_does_not_exist()
    {
        string path = Path.Join(_dir, "termination-log");

        TerminationMessage.Write(path, Message).Should().BeNull();

        File.ReadAllBytes(path).Should().Equal(Message);
        Directory.GetFiles(_dir).Should().Equal(path); // no temporary file left behind
    }

    [Fact]
    public void Replaces_an_existing_file_atomically_with_a_new_inode()
    {
        string path = Path.Join(_dir, "termination-log");
        File.WriteAllText(path, new string('x', 10_000));
        using var reader = File.OpenRead(path); // a reader of the old file keeps seeing the old file

        TerminationMessage.Write(path, Message).Should().BeNull();

        File.ReadAllBytes(path).Should().Equal(Message);
        new StreamReader(reader).ReadToEnd().Should().Be(new string('x', 10_000));
        Directory.GetFiles(_dir).Should().Equal(path);
    }

    [Fact]
    public void Falls_back_to_truncate_and_write_when_the_directory_is_not_writable()
    {
        string path = Path.Join(_dir, "termination-log");
        File.WriteAllText(path, new string('x', 100));
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6); // 0666, like the kubelet's file
        File.SetUnixFileMode(_dir, (UnixFileMode)0x16D); // 0555 (root ignores it and takes the rename path, also correct)

        TerminationMessage.Write(path, Message).Should().BeNull();

        File.ReadAllBytes(path).Should().Equal(Message);
    }

    [Fact]
    public void Falls_back_to_truncate_and_write_when_no_temporary_file_can_be_created()
    {
        // The temporary name adds about 30 characters: with a 240-character name it is over
        // NAME_MAX, which fails for root too (a stand-in for the kubelet's bind-mounted file).
        string path = Path.Join(_dir, new string('t', 240));
        File.WriteAllText(path, new string('x', 100));

        TerminationMessage.Write(path, Message).Should().BeNull();

        File.ReadAllBytes(path).Should().Equal(Message);
        Directory.GetFiles(_dir).Should().Equal(path);
    }

    [Fact]
    public void Writes_through_a_device_instead_of_replacing_it()
    {
        // Like --termination-log /dev/stdout: a rename would replace the device node with a file.
        // As root, a private node (the null device, made with mknod): a broken writer then replaces
        // that, not the machine's /dev/null (which a non-root run cannot replace anyway).
        string device = "/dev/null";
        if (Environment.UserName == "root")
        {
            device = Path.Combine(_dir, "null");
            using var mknod = System.Diagnostics.Process.Start("mknod", ["-m", "666", device, "c", "1", "3"]);
            mknod.WaitForExit();
            mknod.ExitCode.Should().Be(0);
        }

        TerminationMessage.Write(device, Message).Should().BeNull();

        Libc.KindOf(device).Should().Be(FileType.CharacterDevice);
        new FileInfo(device).Length.Should().Be(0);
    }

    [Fact]
    public void Writes_through_a_symbolic_link_instead_of_replacing_it()
    {
        string target = Path.Join(_dir, "real");
        string link = Path.Join(_dir, "link");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);

        TerminationMessage.Write(link, Message).Should().BeNull();

        new FileInfo(link).LinkTarget.Should().Be(target);
        File.ReadAllBytes(target).Should().Equal(Message);
    }

    [Fact]
    public void Returns_a_one_line_reason_when_the_path_cannot_be_written()
    {
        string path = Path.Join(_dir, "missing-dir", "termination-log");

        string? problem = TerminationMessage.Write(path, Message);

        problem.Should().NotBeNull();
        problem.Should().StartWith($"cannot write the termination message to {path}: No such file or directory").And.NotContain("\n");
    }

    [Fact]
    public void Returns_a_reason_when_the_device_is_full()
    {
        string? problem = TerminationMessage.Write("/dev/full", Message);

        problem.Should().Be("cannot write the termination message to /dev/full: No space left on device");
    }
}
