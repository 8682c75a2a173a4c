using System.Text;
using Emissary.Control;
using Emissary.Streams;
using Emissary.Interop;

namespace Emissary.Tests.Unit;

/// <summary>
/// The stream's rendezvous (<see cref="StreamSocket"/>): the producer's check of a consumer's
/// claim against what another container may have planted, and the descriptor passing on which
/// the pipe travels.
/// </summary>
public sealed class StreamSocketTests : IDisposable
{
    private static readonly byte[] Nonce = Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef");

    private readonly string _root = Directory.CreateTempSubdirectory("emissary-stream-").FullName;

    public StreamSocketTests() => Directory.CreateDirectory(Path.Combine(_root, "c"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Claim => Path.Combine(_root, "c", StreamSocket.ClaimFile);

    private string? Check(byte[]? nonce = null) => StreamSocket.ClaimProblem(new ControlDirectory(_root), "c", nonce ?? Nonce);

    [Fact]
    public void A_claim_that_holds_the_connections_nonce_is_accepted()
    {
        File.WriteAllBytes(Claim, Nonce);
        Check().Should().BeNull();
    }

    [Fact]
    public void A_claim_of_another_connection_or_with_more_bytes_is_refused()
    {
        File.WriteAllBytes(Claim, Nonce);
        Check(Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdee")).Should().Contain("another connection's nonce");
        File.WriteAllBytes(Claim, [.. Nonce, (byte)'\n']);
        Check().Should().Contain("another connection's nonce", "exactly the nonce, nothing after it");
        File.WriteAllBytes(Claim, Nonce[..31]);
        Check().Should().Contain("another connection's nonce");
    }

    [Fact]
    public void A_missing_claim_a_link_to_a_good_one_a_FIFO_or_a_directory_is_refused_without_blocking()
    {
        Check().Should().Contain("missing");
        string elsewhere = Path.Combine(_root, "elsewhere");
        File.WriteAllBytes(elsewhere, Nonce);
        File.CreateSymbolicLink(Claim, elsewhere);
        Check().Should().Contain("missing or not a regular file", "a link is never followed, even to the right nonce");
        File.Delete(Claim);
        Emissary.Interop.Libc.MkFifo(Claim, 0x1A4).Should().Be(0);
        Check().Should().Contain("missing or not a regular file", "a FIFO is never opened");
        File.Delete(Claim);
        Directory.CreateDirectory(Claim);
        Check().Should().NotBeNull();
    }

    [BlackBox.BlackBoxFact(Needs = BlackBox.Needs.Root)]
    public void A_claim_of_another_uid_than_the_consumers_is_refused()
    {
        File.WriteAllBytes(Claim, Nonce);
        BlackBox.Libc.Chown(Claim, 1000, 1000);
        Check().Should().Contain("belongs to uid 1000");
    }

    [Fact]
    public unsafe void A_descriptor_sent_with_its_tag_arrives_and_extra_descriptors_are_closed()
    {
        int* pair = stackalloc int[2];
        SocketPair(pair);
        using var a = new SafeFd(pair[0]);
        using var b = new SafeFd(pair[1]);
        (SafeFd read, SafeFd write) = SafeFd.Pipe();
        using (read)
        using (write)
        {
            Emissary.Interop.Libc.SendDescriptor(a.Fd, StreamSocket.Handed, read.Fd).Should().Be(1);
            Emissary.Interop.Libc.ReceiveDescriptor(b.Fd, out byte tag, out int fd).Should().Be(1);
            tag.Should().Be(StreamSocket.Handed);
            fd.Should().BeGreaterThan(2);
            using var received = new SafeFd(fd);
            Emissary.Interop.Libc.KindOf(fd).Should().Be(FileType.Fifo);
        }
        Emissary.Interop.Libc.ReceiveDescriptor(b.Fd, out _, out int none).Should().Be(-1, "nothing more, and no blocking (EAGAIN)");
        none.Should().Be(-1);
    }

    [Fact]
    public unsafe void A_byte_without_a_descriptor_gives_none()
    {
        int* pair = stackalloc int[2];
        SocketPair(pair);
        using var a = new SafeFd(pair[0]);
        using var b = new SafeFd(pair[1]);
        byte garbage = (byte)'x';
        Emissary.Interop.Libc.Send(a.Fd, &garbage, 1, 0).Should().Be(1);
        Emissary.Interop.Libc.ReceiveDescriptor(b.Fd, out byte tag, out int fd).Should().Be(1);
        tag.Should().Be((byte)'x');
        fd.Should().Be(-1);
    }

    private static unsafe void SocketPair(int* pair) =>
        SocketPairNative(Emissary.Interop.Libc.AF_UNIX, Emissary.Interop.Libc.SOCK_STREAM | Emissary.Interop.Libc.SOCK_CLOEXEC, 0, pair).Should().Be(0);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "socketpair")]
    private static extern unsafe int SocketPairNative(int domain, int type, int protocol, int* pair);
}
