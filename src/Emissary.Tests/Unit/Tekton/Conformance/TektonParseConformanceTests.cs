using System.Text;
using Emissary.Tekton;
using Emissary.Tests.BlackBox;

namespace Emissary.Tests.Unit.Tekton.Conformance;

/// <summary>
/// Tekton's pkg/termination/parse_test.go (naming: see <see cref="TektonCommandLineConformanceTests"/>).
/// parse.go is the controller's parser, not the entrypoint's: its cases are run through
/// <see cref="TektonMessageChecker"/>, the black-box tests' stand-in for the controller, so that
/// what the checker accepts is what the controller accepts; the two cases that constrain what we
/// write (a <c>tknz:</c> message is auto-detected; plain JSON with int types still parses) are run
/// on messages our writer made.
/// </summary>
public sealed class TektonParseConformanceTests
{
    private static TektonResult R(string key, string value, int type = 0) => new(key, value, type);

    /// <summary>Each wanted entry as "key=value" (these cases have no type).</summary>
    public static TheoryData<string, string, string[]> ParseMessageCases => new()
    {
        { "valid message", """[{"key": "digest","value":"hereisthedigest"},{"key":"foo","value":"bar"}]""", ["digest=hereisthedigest", "foo=bar"] },
        { "invalid key in message", """[{"invalid": "digest","value":"hereisthedigest"},{"key":"foo","value":"bar"}]""", ["=hereisthedigest", "foo=bar"] },
        { "empty message", "", [] },
        { "duplicate keys", """[{"key":"foo","value":"first"},{"key":"foo","value":"middle"},{"key":"foo","value":"last"}]""", ["foo=last"] },
        { "duplicate keys with incorrect result", """[{"key":"foo","value":"first"},{},{"key":"foo","value":"middle"},{"key":"foo","value":"last"}]""", ["foo=last"] },
        { "sorted by key", """[{"key":"zzz","value":"last"},{"key":"ddd","value":"middle"},{"key":"aaa","value":"first"}]""", ["aaa=first", "ddd=middle", "zzz=last"] },
    };

    [Theory]
    [MemberData(nameof(ParseMessageCases))]
    public void TestParseMessage(string desc, string msg, string[] want) =>
        TektonMessageChecker.Check(Encoding.UTF8.GetBytes(msg)).Values.Select(r => $"{r.Key}={r.Value}").Should().Equal(want, desc);

    [Fact]
    public void TestParseMessage_CompressedAutoDetect()
    {
        List<TektonEntry> want = Enumerable.Range(0, 20)
            .Select(i => new TektonEntry("image-digest-" + (char)('a' + i), "gcr.io/project/image@sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890", 1))
            .ToList();
        byte[] message = TektonTerminationMessage.Render(want, compress: true)!;
        Encoding.ASCII.GetString(message).Should().StartWith("tknz:");
        TektonMessageChecker.Check(message).Values.Should().Equal(want.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => R(e.Key, e.Value, e.Type)));
    }

    [Fact]
    public void TestParseMessage_PlainJSON_StillWorks()
    {
        // Exactly the bytes Tekton's test parses are the bytes our writer writes for these entries.
        const string msg = """[{"key":"digest","value":"sha256:abc123","type":1},{"key":"url","value":"https://example.com","type":1}]""";
        Encoding.UTF8.GetString(TektonTerminationMessage.Render([new("digest", "sha256:abc123", 1), new("url", "https://example.com", 1)], compress: false)!).Should().Be(msg);
        TektonMessageChecker.Check(Encoding.UTF8.GetBytes(msg)).Values.Should().Equal(R("digest", "sha256:abc123", 1), R("url", "https://example.com", 1));
    }

    [Theory]
    [InlineData("invalid JSON", "invalid JSON")]
    [InlineData("compressed prefix with invalid base64", "tknz:not-valid-base64!!!")]
    [InlineData("compressed prefix with valid base64 but invalid flate", "tknz:aGVsbG8gd29ybGQ")]
    [InlineData("compressed prefix with empty payload", "tknz:")]
    public void TestParseMessageInvalidMessage(string desc, string msg)
    {
        // The controller's error; our own reader of an existing message treats it as "overwrite".
        Action parse = () => TektonMessageChecker.Check(Encoding.UTF8.GetBytes(msg));
        parse.Should().Throw<Exception>(desc);
        TektonTerminationMessage.TryParse(Encoding.UTF8.GetBytes(msg), out _).Should().BeFalse(desc);
    }
}
