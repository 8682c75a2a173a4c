using System.IO.Compression;
using System.Text;
using Emissary.Results;

namespace Emissary.Tests.Unit.Results;

/// <summary>
/// The in-pod DEFLATE codec (Results/Deflate.cs) against .NET's zlib: what one writes the other
/// reads, for text, noise, runs and empty input; malformed input is refused, never thrown on.
/// </summary>
public sealed class DeflateTests
{
    public static TheoryData<string> Inputs() => new() { "empty", "json", "noise", "run", "long-json", "short" };

    private static byte[] Input(string kind)
    {
        var random = new Random(kind.Length);
        switch (kind)
        {
            case "empty":
                return [];
            case "short":
                return "a"u8.ToArray();
            case "noise":
                var noise = new byte[70_000];
                random.NextBytes(noise);
                return noise;
            case "run":
                return new byte[100_000];
            default:
                var text = new StringBuilder("{\"results\":{");
                for (int i = 0; i < (kind == "json" ? 40 : 1200); i++)
                {
                    text.Append($"\"image-{i}\":\"registry/app@sha256:{random.NextInt64():x16}{random.NextInt64():x16}\",");
                }
                return Encoding.UTF8.GetBytes(text.Append("\"end\":\"\"}}").ToString());
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void What_it_writes_zlib_reads(string kind)
    {
        byte[] data = Input(kind);

        byte[] compressed = Deflate.Compress(data);

        using var inflate = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var back = new MemoryStream();
        inflate.CopyTo(back);
        back.ToArray().Should().Equal(data);
        Deflate.Inflate(compressed, data.Length).Should().Equal(data, "and it reads itself");
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void What_zlib_writes_it_reads_at_every_level(string kind)
    {
        byte[] data = Input(kind);
        if (data.Length == 0)
        {
            return; // .NET's DeflateStream writes no block at all for no input: not a DEFLATE stream
        }
        foreach (CompressionLevel level in new[] { CompressionLevel.NoCompression, CompressionLevel.Fastest, CompressionLevel.Optimal, CompressionLevel.SmallestSize })
        {
            using var buffer = new MemoryStream();
            using (var deflate = new DeflateStream(buffer, level, leaveOpen: true))
            {
                deflate.Write(data);
            }

            Deflate.Inflate(buffer.ToArray(), data.Length).Should().Equal(data, "level {0}", level);
        }
    }

    [Fact]
    public void Compresses_about_as_well_as_zlib_on_a_results_message()
    {
        byte[] data = Input("json");
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(data);
        }

        Deflate.Compress(data).Length.Should().BeLessThan((int)(buffer.Length * 1.1), "zlib: {0} bytes", buffer.Length);
    }

    [Fact]
    public void Output_past_the_bound_is_refused()
    {
        byte[] compressed = Deflate.Compress(new byte[1000]);

        Deflate.Inflate(compressed, 1000).Should().HaveCount(1000);
        Deflate.Inflate(compressed, 999).Should().BeNull();
    }

    [Fact]
    public void Malformed_streams_are_refused_and_never_throw()
    {
        byte[] valid = Deflate.Compress(Input("json"));
        var random = new Random(5);
        for (int i = 0; i < 3000; i++)
        {
            byte[] broken = i % 3 == 0 ? valid[..random.Next(valid.Length)] : (byte[])valid.Clone();
            if (i % 3 != 0)
            {
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                {
                    broken[random.Next(broken.Length)] ^= (byte)(1 << random.Next(8));
                }
            }
            var inflate = () => Deflate.Inflate(broken, 1 << 16);
            inflate.Should().NotThrow();
        }
        Deflate.Inflate([0x07], 100).Should().BeNull("block type 3 is reserved");
        Deflate.Inflate([0x01, 0x05, 0x00, 0xfa, 0xff], 100).Should().BeNull("a stored block whose length check fails");
    }
}
