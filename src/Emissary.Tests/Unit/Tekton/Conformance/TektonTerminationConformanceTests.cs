using System.Text;
using Emissary.Tekton;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's pkg/termination/write_test.go and pkg/result/result_test.go, case by case, against
/// <see cref="TektonTerminationMessage"/> (naming: see <see cref="TektonCommandLineConformanceTests"/>).
/// What is written is read back with <see cref="TektonMessageChecker"/>, the controller's rules
/// (parse.go) written independently of the product. Plus the one leftover of issue #26 here: invalid
/// UTF-8 in a result, which Go's json.Marshal writes as <c>\ufffd</c> per bad byte.
/// </summary>
public sealed class TektonTerminationConformanceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-tekton-term-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string TempFile(string contents = "")
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, contents);
        return path;
    }

    private static TektonEntry Task(string key, string value) => new(key, value, TektonResultType.TaskRunResult);

    private static string Text(string path) => File.ReadAllText(path);

    // ---- write_test.go ----

    [Fact]
    public void TestExistingFile()
    {
        string path = TempFile();
        TektonTerminationMessage.Append(path, [new("key1", "hello", 0)], compress: false);
        TektonTerminationMessage.Append(path, [new("key2", "world", 0)], compress: false);
        Text(path).Should().Be("""[{"key":"key1","value":"hello"},{"key":"key2","value":"world"}]""");
    }

    [Theory]
    [InlineData("empty", "")]
    [InlineData("invalid json", "not-json")]
    public void TestWriteMessageDoesNotWarnForUnparseableExistingFile(string name, string existing)
    {
        // The warning is a log line of Tekton's; ours logs nothing here (Append has no logger): the content is the check.
        string path = TempFile(existing);
        TektonTerminationMessage.Append(path, [new("key1", "hello", 0)], compress: false);
        Text(path).Should().Be("""[{"key":"key1","value":"hello"}]""", name);
    }

    private static List<TektonEntry> TwentyDigests() => Enumerable.Range(0, 20)
        .Select(i => Task("image-digest-" + (char)('a' + i), "gcr.io/project/image@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890"))
        .ToList();

    [Fact]
    public void TestWriteCompressedMessage()
    {
        string path = TempFile();
        TektonTerminationMessage.Append(path, TwentyDigests(), compress: true);
        Text(path).Should().StartWith("tknz:");
    }

    [Fact]
    public void TestWriteCompressedMessage_RoundTrip()
    {
        // Small: compressed is longer than the JSON, so the JSON is written; either way it reads back the same.
        string path = TempFile();
        TektonTerminationMessage.Append(path, [Task("digest", "sha256:abc123def456"), Task("url", "https://registry.example.com/myimage:latest")], compress: true);
        TektonMessageChecker.CheckFile(path).Values.Should().Equal(
            new TektonResult("digest", "sha256:abc123def456", 1),
            new TektonResult("url", "https://registry.example.com/myimage:latest", 1));
    }

    [Fact]
    public void TestWriteCompressedMessage_SmallerThanJSON()
    {
        string large = string.Concat(Enumerable.Repeat("result-value-data-", 50));
        TektonEntry[] results = [Task("key1", large), Task("key2", large)];
        string plain = TempFile(), compressed = TempFile();
        TektonTerminationMessage.Append(plain, results, compress: false);
        TektonTerminationMessage.Append(compressed, results, compress: true);
        new FileInfo(compressed).Length.Should().BeLessThan(new FileInfo(plain).Length);
    }

    [Fact]
    public void TestWriteCompressedMessage_AppendToExisting()
    {
        string path = TempFile();
        TektonTerminationMessage.Append(path, [Task("digest", "sha256:first")], compress: true);
        TektonTerminationMessage.Append(path, [Task("url", "https://example.com/image")], compress: true);
        TektonMessageChecker.CheckFile(path).Values.Should().Equal(
            new TektonResult("digest", "sha256:first", 1),
            new TektonResult("url", "https://example.com/image", 1));
    }

    [Fact]
    public void TestMaxSizeFile()
    {
        string path = TempFile();
        Action write = () => TektonTerminationMessage.Append(path, [new("key1", new string('a', 4096), 0)], compress: false);
        write.Should().Throw<TektonMessageTooLongException>()
            .WithMessage("Termination message is above max allowed size 4096, caused by large task result.");
        Text(path).Should().BeEmpty("the file is left as it was");
    }

    [Fact]
    public void TestWriteCompressedMessage_ExceedsLimitUncompressedButFitsCompressed()
    {
        List<TektonEntry> results = Enumerable.Range(0, 50).Select(i => Task(
            "image-digest-result-" + (char)('a' + i % 26) + new string('-', i % 5),
            "gcr.io/my-project/my-image-name@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef12345678" + string.Concat(Enumerable.Repeat("90", i % 3 + 1))))
            .ToList();
        Action plain = () => TektonTerminationMessage.Append(TempFile(), results, compress: false);
        plain.Should().Throw<TektonMessageTooLongException>();
        string compressed = TempFile();
        TektonTerminationMessage.Append(compressed, results, compress: true);
        new FileInfo(compressed).Length.Should().BeLessThanOrEqualTo(4096);
        TektonMessageChecker.CheckFile(compressed).Should().HaveCount(50, "all results survive the round trip (the 50 keys are distinct)");
    }

    [Fact]
    public void TestWriteCompressedMessage_CapacityBenchmark()
    {
        static TektonEntry Digest(int i) => Task("image-digest-xxxxx-" + (char)('a' + i % 26), "gcr.io/my-project/my-image@sha256:" + string.Concat(Enumerable.Repeat("abcdef1234567890", 4)));
        int Capacity(bool compress)
        {
            int max = 0;
            for (int n = 1; n <= 200; n++)
            {
                if (TektonTerminationMessage.Render(Enumerable.Range(0, n).Select(Digest).ToList(), compress) is null)
                    break;
                max = n;
            }
            return max;
        }
        int plain = Capacity(false), compressed = Capacity(true);
        compressed.Should().BeGreaterThan(plain, $"compression should fit more results than plain JSON ({compressed} <= {plain})");
        Console.WriteLine($"TestWriteCompressedMessage_CapacityBenchmark: plain {plain}, compressed {compressed} results in 4096 bytes");
    }

    // ---- result_test.go: RunResult's "type" as a string name or an int (an existing message read back) ----

    [Theory]
    [InlineData("type defined as string - TaskRunResult", """{"key":"resultName","value":"resultValue", "type": "TaskRunResult"}""", "resultValue", 1)]
    [InlineData("type defined as string - StepResult", """{"key":"resultName","value":"resultValue", "type": "StepResult"}""", "resultValue", 4)]
    [InlineData("type defined as string - InternalTektonResult", """{"key":"resultName","value":"", "type": "InternalTektonResult"}""", "", 3)]
    [InlineData("type defined as string - StepArtifactsResultType", """{"key":"resultName","value":"", "type": "StepArtifactsResult"}""", "", 5)]
    [InlineData("type defined as string - TaskRunArtifactResult", """{"key":"resultName","value":"", "type": "TaskRunArtifactsResult"}""", "", 6)]
    [InlineData("type defined as int", """{"key":"resultName","value":"", "type": 1}""", "", 1)]
    public void TestRunResult_UnmarshalJSON(string name, string data, string value, int type)
    {
        // What an existing message holds is read, kept and rewritten with the type as Go's int.
        string path = TempFile("[" + data + "]");
        TektonTerminationMessage.Append(path, [new("other", "x", 1)], compress: false);
        TektonTerminationMessage.ReadExisting(path).Should().Equal([new TektonEntry("resultName", value, type), new TektonEntry("other", "x", 1)], name);
        Text(path).Should().StartWith($$"""[{"key":"resultName","value":"{{value}}","type":{{type}}}""");
    }

    // ---- invalid UTF-8: json.Marshal writes \ufffd (6 bytes) per invalid byte ----

    [Theory]
    [InlineData(new byte[] { 0x61, 0xFF, 0x62 }, "a\\ufffdb")] // one stray byte
    [InlineData(new byte[] { 0xE2, 0x82, 0x61 }, "\\ufffd\\ufffda")] // a truncated 3-byte sequence: two bytes, two escapes (.NET: one U+FFFD)
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "\\ufffd\\ufffd\\ufffd")] // an encoded surrogate is three invalid bytes in Go
    [InlineData(new byte[] { 0xC0, 0xAF }, "\\ufffd\\ufffd")] // overlong
    [InlineData(new byte[] { 0xEF, 0xBF, 0xBD }, "\uFFFD")] // a real U+FFFD is valid UTF-8: copied raw, 3 bytes
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98, 0xBA, 0x80 }, "😺\\ufffd")] // a valid emoji then a stray continuation byte
    public void Invalid_utf8_in_a_result_is_written_as_one_ufffd_escape_per_bad_byte(byte[] result, string expectedValue)
    {
        byte[]? message = TektonTerminationMessage.Render([Task("r", TektonTerminationMessage.ValueOf(result))], compress: false);
        Encoding.UTF8.GetString(message!).Should().Be($$"""[{"key":"r","value":"{{expectedValue}}","type":1}]""");
    }

    [Fact]
    public void Emissarys_own_JSON_is_unchanged_a_lone_surrogate_stays_one_raw_U_FFFD()
    {
        // BoundedJsonWriter is shared: only the Go-compatible mode writes the \ufffd escape.
        string marked = TektonTerminationMessage.ValueOf([0x61, 0xFF]);
        var own = new Emissary.Json.BoundedJsonWriter(100);
        own.StringValue(marked);
        own.ToString().Should().Be("\"a\uFFFD\"");
        var go = new Emissary.Json.BoundedJsonWriter(100, goHtmlSafe: true);
        go.StringValue(marked);
        go.ToString().Should().Be("\"a\\ufffd\"");
    }

    [Fact]
    public void Invalid_utf8_counts_six_bytes_per_bad_byte_toward_4096()
    {
        // [{"key":"r","value":"…","type":1}] is 33 bytes around the value: 677 bad bytes are 4062 + 33 = 4095 (fits), 678 are 4101 (Go's MessageLengthError).
        byte[] Bad(int n) => Enumerable.Repeat((byte)0xFF, n).ToArray();
        TektonTerminationMessage.Render([Task("r", TektonTerminationMessage.ValueOf(Bad(677)))], compress: false)!.Length.Should().Be(4095);
        TektonTerminationMessage.Render([Task("r", TektonTerminationMessage.ValueOf(Bad(678)))], compress: false).Should().BeNull();
        TektonMessageChecker.Check(TektonTerminationMessage.Render([Task("r", TektonTerminationMessage.ValueOf(Bad(3)))], compress: false)!)["r"].Value
            .Should().Be("\uFFFD\uFFFD\uFFFD", "the controller reads each escape back as U+FFFD");
    }
}
