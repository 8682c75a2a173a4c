using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Emissary.Results;
using Xunit.Abstractions;

namespace Emissary.Tests.Unit.Results;

/// <summary>
/// Issue #28 item 4: the emissary termination format compressed (emz:) when that makes it fit,
/// results too large for any message left out but counted, and a decoder that never inflates
/// more than <see cref="TerminationMessage.MaxInflated"/>.
/// </summary>
public sealed class TerminationMessageCompressionTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset Started = new(2026, 11, 28, 7, 4, 37, 123, TimeSpan.Zero);

    private static readonly StepReport Report = new("build", 0, StepReasons.Completed, Started, Started.AddSeconds(2));

    private static Result R(string name, string value) => new(name, Encoding.UTF8.GetBytes(value));

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>Results a build step might report: 100 bytes each, alike in shape (a URL with a digest-like hex part).</summary>
    private static Result[] HundredByteResults(int count)
    {
        var random = new Random(28);
        return Enumerable.Range(0, count).Select(i =>
        {
            string prefix = $"registry.example.com/team/app-{i:D3}@sha256:";
            string hex = string.Concat(Enumerable.Range(0, 100 - prefix.Length).Select(_ => "0123456789abcdef"[random.Next(16)]));
            return R($"image-{i:D3}", prefix + hex);
        }).ToArray();
    }

    [Fact]
    public void Results_over_the_plain_budget_are_written_compressed_and_decode_to_the_same_message()
    {
        Result[] results = HundredByteResults(60); // about 7 KB of JSON
        byte[] plain = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 1 << 20).Bytes;
        plain.Length.Should().BeGreaterThan(4096, "the test needs a message that does not fit plain");

        Rendering rendering = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096);

        rendering.TooLarge.Should().BeFalse();
        rendering.Omitted.Should().BeFalse();
        rendering.Problem.Should().BeNull("compressing drops nothing: no line for it");
        rendering.Bytes.Length.Should().BeLessThanOrEqualTo(4096);
        Text(rendering.Bytes).Should().StartWith(TerminationMessage.CompressedPrefix);
        TerminationMessage.Decode(rendering.Bytes).Should().Equal(plain, "the compressed message is the plain one, deflated");
        TerminationMessageReader.Read(rendering.Bytes)!.Results.Select(r => (r.Name, Text(r.Value)))
            .Should().Equal(results.Select(r => (r.Name, Text(r.Value))));
    }

    [Fact]
    public void A_message_that_fits_plain_stays_plain()
    {
        Rendering rendering = TerminationMessage.Render(Report, HundredByteResults(10), TerminationFormat.Emissary, 4096);

        rendering.Bytes[0].Should().Be((byte)'{', "plain JSON whenever it fits: every reader before this change still reads it");
    }

    [Fact]
    public void Results_too_large_for_any_message_are_counted_and_left_out_when_kept_in_the_control_directory()
    {
        Result[] results = [R("small", "s"), R("big", TerminationMessageTests.Noise(6000))];

        Rendering rendering = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096, resultsKept: true);

        rendering.TooLarge.Should().BeFalse("the results stay readable: the step is not failed for them");
        rendering.Omitted.Should().BeTrue();
        Text(rendering.Bytes).Should().Be(
            """{"name":"build","exitCode":0,"reason":"Completed","startedAt":"2026-11-28T07:04:37.123Z","finishedAt":"2026-11-28T07:04:39.123Z","resultsOmitted":2}""");
        rendering.Problem.Should().MatchRegex(
            @"^results 'big' \(6000 bytes\), 'small' \(1 byte\) left out of the termination message, which needs \d+ bytes \(\d+ compressed\), budget is 4096; kept in the control directory for \$\(steps\.build\.results\.NAME\) and emissary status --json$");
        TerminationMessageReader.Read(rendering.Bytes).Should().BeEquivalentTo(new MessageResults([], 2));
    }

    [Fact]
    public void Results_whose_JSON_is_over_what_a_reader_inflates_are_not_compressed()
    {
        // Compressible, but 200 KB of JSON: a reader would refuse it.
        Result[] results = [R("big", new string('a', 200_000))];

        Rendering kept = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096, resultsKept: true);
        Rendering failed = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096);

        kept.Omitted.Should().BeTrue();
        kept.Problem.Should().Contain("over the 131072 a reader inflates");
        failed.TooLarge.Should().BeTrue();
        Text(failed.Bytes).Should().Contain("\"ResultsTooLarge\"");
    }

    [Fact]
    public void A_tiny_budget_that_cannot_even_count_the_omitted_results_fails_the_step_as_before()
    {
        Rendering rendering = TerminationMessage.Render(Report, [R("big", TerminationMessageTests.Noise(500))], TerminationFormat.Emissary, 10, resultsKept: true);

        rendering.TooLarge.Should().BeTrue();
        rendering.Omitted.Should().BeFalse();
        Text(rendering.Bytes).Should().Be("{}");
    }

    [Fact]
    public void The_Tekton_format_never_writes_emz_and_keeps_failing_results_that_do_not_fit()
    {
        Rendering rendering = TerminationMessage.Render(Report, HundredByteResults(60), TerminationFormat.Tekton, 4096, resultsKept: true);

        rendering.TooLarge.Should().BeTrue("Tekton's controller reads only its own message");
        rendering.Bytes[0].Should().Be((byte)'[');
    }

    [Fact]
    public void A_decompression_bomb_is_refused_without_inflating_it()
    {
        // 64 MiB of zeros deflate to about 64 KB; the message a neighbour planted is that, base64.
        byte[] bomb = Deflated(new byte[64 << 20]);
        byte[] message = Encoding.ASCII.GetBytes(TerminationMessage.CompressedPrefix + Convert.ToBase64String(bomb).TrimEnd('='));
        long before = GC.GetAllocatedBytesForCurrentThread();

        byte[]? decoded = TerminationMessage.Decode(message);

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        decoded.Should().BeNull("it inflates past the 128 KiB bound");
        TerminationMessageReader.Read(message).Should().BeNull();
        allocated.Should().BeLessThan(2L << 20, "at most MaxInflated + 1 bytes are inflated, never the 64 MiB");
    }

    [Fact]
    public void A_message_inflating_to_exactly_the_bound_decodes_and_one_byte_more_does_not()
    {
        byte[] json = Encoding.ASCII.GetBytes("{\"results\":{\"v\":\"" + new string('a', TerminationMessage.MaxInflated - 20) + "\"}}");
        byte[] atBound = Encoding.ASCII.GetBytes("{\"results\":{\"v\":\"" + new string('a', TerminationMessage.MaxInflated - 20 - json.Length + TerminationMessage.MaxInflated) + "\"}}");
        atBound.Length.Should().Be(TerminationMessage.MaxInflated);

        TerminationMessage.Decode(DeflateText.Compress(TerminationMessage.CompressedPrefix, atBound)).Should().Equal(atBound);
        TerminationMessage.Decode(DeflateText.Compress(TerminationMessage.CompressedPrefix, [.. atBound, (byte)' '])).Should().BeNull();
    }

    [Theory]
    [InlineData("emz:not base64!")]
    [InlineData("emz:aGVsbG8gd29ybGQ")] // base64, not DEFLATE
    [InlineData("emz:qkgAAA==")] // padded: the encoding has none
    [InlineData("emz:")]
    [InlineData("[1,2]")]
    [InlineData("{\"results\":[]}")]
    [InlineData("{\"results\":{\"v\":1}}")]
    [InlineData("{\"results\":{\"v\":{\"base64\":\"***\"}}}")]
    public void Anything_but_an_emissary_message_reads_as_none(string message)
    {
        TerminationMessageReader.Read(Encoding.ASCII.GetBytes(message)).Should().BeNull();
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_survive_compression()
    {
        Result[] results = [new("bin", [0xff, 0xfe, 0x00, 0x80]), .. HundredByteResults(60)];

        Rendering rendering = TerminationMessage.Render(Report, results, TerminationFormat.Emissary, 4096);

        Text(rendering.Bytes).Should().StartWith("emz:");
        TerminationMessageReader.Read(rendering.Bytes)!.Results.Single(r => r.Name == "bin").Value.Should().Equal(0xff, 0xfe, 0x00, 0x80);
    }

    /// <summary>
    /// The measurement the issue asks for: how many 100-byte results fit 4096 bytes plain and
    /// compressed, for digest-like values (random hex: 4 bits of entropy a character) and for
    /// words (a small vocabulary, as messages, paths and flags are), with Tekton's tknz: (zlib,
    /// smallest size) on the same values for comparison.
    /// </summary>
    [Fact]
    public void Compression_fits_more_100_byte_results()
    {
        foreach ((string kind, Func<int, Result[]> make) in new (string, Func<int, Result[]>)[] { ("digests", HundredByteResults), ("words", HundredByteWords) })
        {
            int plain = MostThatFit(n => TerminationMessage.Render(Report, make(n), TerminationFormat.Emissary, 4096), compressed: false);
            int compressed = MostThatFit(n => TerminationMessage.Render(Report, make(n), TerminationFormat.Emissary, 4096), compressed: true);
            int tekton = 1;
            while (Emissary.Tekton.TektonTerminationMessage.Render(make(tekton + 1).Select(r => new Emissary.Tekton.TektonEntry(r.Name, Text(r.Value), 1)).ToArray(), compress: true) is not null)
            {
                tekton++;
            }
            output.WriteLine($"{kind}: 100-byte results in 4096 bytes: {plain} plain, {compressed} compressed emz: ({(double)compressed / plain:F1}x); tknz: (zlib) {tekton}");
            compressed.Should().BeGreaterThan(plain * 3 / 2, kind);
            compressed.Should().BeGreaterThanOrEqualTo(tekton * 9 / 10, "{0}: about as many as zlib's smallest size", kind);
        }
    }

    private static Result[] HundredByteWords(int count)
    {
        string[] vocabulary = ["build", "deploy", "image", "registry", "passed", "failed", "cache", "layer", "commit", "branch", "main", "release", "test", "suite", "ok", "warning", "/workspace/src", "--verbose", "sha256", "v1.4.2"];
        var random = new Random(28);
        return Enumerable.Range(0, count).Select(i =>
        {
            var text = new StringBuilder();
            while (text.Length < 100)
            {
                text.Append(vocabulary[random.Next(vocabulary.Length)]).Append(' ');
            }
            return R($"note-{i:D3}", text.ToString(0, 100));
        }).ToArray();
    }

    private static int MostThatFit(Func<int, Rendering> render, bool compressed)
    {
        int n = 1;
        while (true)
        {
            Rendering r = render(n + 1);
            if (r.TooLarge || (!compressed && r.Bytes[0] != (byte)'{'))
            {
                return n;
            }
            n++;
        }
    }

    private static byte[] Deflated(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(data);
        }
        return buffer.ToArray();
    }
}
