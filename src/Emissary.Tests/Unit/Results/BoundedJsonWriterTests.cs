using System.Text;
using System.Text.Json;
using Emissary.Json;

namespace Emissary.Tests.Unit.Results;

public sealed class BoundedJsonWriterTests
{
    private static BoundedJsonWriter Sample(int limit)
    {
        var json = new BoundedJsonWriter(limit);
        json.StartObject();
        json.PropertyName("a");
        json.NumberValue(-12);
        json.PropertyName("list");
        json.StartArray();
        json.StringValue("x");
        json.StartObject();
        json.EndObject();
        json.StartArray();
        json.EndArray();
        json.NumberValue(long.MaxValue);
        json.EndArray();
        json.PropertyName("s");
        json.StringValue("\u0000\u001f\"\\/\u007f");
        json.EndObject();
        return json;
    }

    private const string Expected = """{"a":-12,"list":["x",{},[],9223372036854775807],"s":"\u0000\u001f\"\\/""" + "\u007f\"}";

    [Fact]
    public void Places_commas_and_escapes_only_what_JSON_requires()
    {
        BoundedJsonWriter json = Sample(1000);

        Encoding.UTF8.GetString(json.ToArray()).Should().Be(Expected);
        using var doc = JsonDocument.Parse(json.ToArray());
        doc.RootElement.GetProperty("s").GetString().Should().Be("\u0000\u001f\"\\/\u007f");
    }

    [Fact]
    public void Past_the_limit_counts_the_exact_length_without_keeping_the_bytes()
    {
        int length = Encoding.UTF8.GetByteCount(Expected);

        BoundedJsonWriter over = Sample(10);
        BoundedJsonWriter exact = Sample(length);

        over.Fits.Should().BeFalse();
        over.Length.Should().Be(length);
        var toArray = () => over.ToArray();
        toArray.Should().Throw<InvalidOperationException>();
        exact.Fits.Should().BeTrue();
        exact.ToArray().Should().HaveCount(length);
    }
}
