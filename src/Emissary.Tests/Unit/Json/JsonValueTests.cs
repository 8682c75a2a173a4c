using System.Text.Json;
using CsCheck;
using Emissary.Json;
using FluentAssertions;
using Xunit;

namespace Emissary.Tests.Unit.Json;

/// <summary>
/// The pod binary's own JSON reader and writer, checked against System.Text.Json (which the tests
/// may use): what one writes the other reads the same, and both refuse the same malformed input.
/// </summary>
public sealed class JsonValueTests
{
    // Strings with the characters that need care: quotes, backslashes, controls, non-ASCII, astral.
    private static readonly Gen<string> Strings = Gen.OneOf(
        Gen.String,
        Gen.Char.Array[0, 12].Select(c => new string(c)),
        Gen.OneOf("", "\"", "\\", "\n\t\r\b\f", "\u0001\u001f", "é", "😀", "a/b", "<&'>", "\u2028"));

    private static readonly Gen<object?> Leaves = Gen.OneOf<object?>(
        Strings.Select(s => (object?)s), Gen.Long.Select(l => (object?)l), Gen.Bool.Select(b => (object?)b), Gen.Bool.Select(_ => (object?)null),
        Gen.Double.Where(double.IsFinite).Select(d => (object?)d));

    private static readonly Gen<object?> Values = Gen.Recursive<object?>((depth, self) => depth > 3
        ? Leaves
        : Gen.Frequency(
            (4, Leaves),
            (1, self.List[0, 4].Select(l => (object?)l)),
            (1, Gen.Select(Strings, self).List[0, 4].Select(p => (object?)p.Select(x => new KeyValuePair<string, object?>(x.Item1, x.Item2)).ToList()))));

    private static void Write(JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case long l: json.WriteNumberValue(l); break;
            case double d: json.WriteNumberValue(d); break;
            case bool b: json.WriteBooleanValue(b); break;
            case List<object?> items:
                json.WriteStartArray();
                items.ForEach(i => Write(json, i));
                json.WriteEndArray();
                break;
            case List<KeyValuePair<string, object?>> properties:
                json.WriteStartObject();
                foreach (var (key, item) in properties)
                {
                    json.WritePropertyName(key);
                    Write(json, item);
                }
                json.WriteEndObject();
                break;
        }
    }

    private static void ShouldMatch(JsonValue ours, JsonElement theirs)
    {
        switch (theirs.ValueKind)
        {
            case JsonValueKind.Null: ours.Kind.Should().Be(JsonKind.Null); break;
            case JsonValueKind.True: ours.Kind.Should().Be(JsonKind.True); break;
            case JsonValueKind.False: ours.Kind.Should().Be(JsonKind.False); break;
            case JsonValueKind.String: ours.GetString().Should().Be(theirs.GetString()); break;
            case JsonValueKind.Number:
                ours.Kind.Should().Be(JsonKind.Number);
                ours.GetDouble().Should().Be(theirs.GetDouble());
                if (theirs.TryGetInt64(out long l))
                {
                    ours.GetInt64().Should().Be(l);
                }
                break;
            case JsonValueKind.Array:
                ours.Items.Should().HaveCount(theirs.GetArrayLength());
                int i = 0;
                foreach (JsonElement item in theirs.EnumerateArray())
                {
                    ShouldMatch(ours.Items[i++], item);
                }
                break;
            case JsonValueKind.Object:
                List<System.Text.Json.JsonProperty> properties = theirs.EnumerateObject().ToList();
                ours.Properties.Select(p => p.Name).Should().Equal(properties.Select(p => p.Name));
                for (int p = 0; p < properties.Count; p++)
                {
                    ShouldMatch(ours.Properties[p].Value, properties[p].Value);
                }
                break;
        }
    }

    [Fact]
    public void What_our_writer_writes_both_readers_read_the_same_compact_and_indented()
    {
        Values.Select(Gen.Bool).Sample((value, indented) =>
        {
            var json = new JsonWriter(indented);
            Write(json, value);
            string text = json.ToString();
            using JsonDocument theirs = JsonDocument.Parse(text);
            ShouldMatch(JsonValue.Parse(text), theirs.RootElement);
        }, iter: 2000);
    }

    [Fact]
    public void Indented_output_is_what_people_read()
    {
        string text = JsonText.Write(j =>
        {
            j.WriteStartArray();
            j.WriteStartObject();
            j.WriteString("name", "a");
            j.WriteStartArray("waitingFor");
            j.WriteEndArray();
            j.WriteBoolean("crashed", true);
            j.WriteEndObject();
            j.WriteEndArray();
        }, indented: true);
        text.Should().Be("[\n  {\n    \"name\": \"a\",\n    \"waitingFor\": [],\n    \"crashed\": true\n  }\n]");
    }

    [Fact]
    public void Only_what_JSON_requires_is_escaped()
    {
        JsonText.Write(j => j.WriteStringValue("<é😀'&>\"\\\n\u0001")).Should().Be("\"<é😀'&>\\\"\\\\\\n\\u0001\"");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"a\":1,}")]
    [InlineData("[1,]")]
    [InlineData("01")]
    [InlineData("1.")]
    [InlineData("-")]
    [InlineData("1e")]
    [InlineData("\"a")]
    [InlineData("\"\\x\"")]
    [InlineData("\"tab\there\"")]
    [InlineData("tru")]
    [InlineData("nul")]
    [InlineData("{} {}")]
    [InlineData("{'a':1}")]
    [InlineData("{a:1}")]
    [InlineData("/* c */ 1")]
    [InlineData("NaN")]
    public void Malformed_input_is_refused_by_both(string text)
    {
        FluentActions.Invoking(() => JsonDocument.Parse(text).Dispose()).Should().Throw<JsonException>();
        FluentActions.Invoking(() => JsonValue.Parse(text)).Should().Throw<JsonFormatException>();
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("\"\\udc00\"")]
    [InlineData("\"\\ud800\\u0041\"")]
    public void A_lone_surrogate_is_refused_when_read_not_later_when_used(string text)
    {
        // JsonDocument accepts it at Parse and throws only from GetString; ours refuses it at once.
        FluentActions.Invoking(() => JsonValue.Parse(text)).Should().Throw<JsonFormatException>().WithMessage("*surrogate*");
    }

    [Fact]
    public void Nesting_is_bounded()
    {
        string deep = new string('[', JsonValue.MaxDepth + 1) + new string(']', JsonValue.MaxDepth + 1);
        FluentActions.Invoking(() => JsonValue.Parse(deep)).Should().Throw<JsonFormatException>().WithMessage("*nested deeper*");
        string ok = new string('[', JsonValue.MaxDepth) + new string(']', JsonValue.MaxDepth);
        JsonValue.Parse(ok).Kind.Should().Be(JsonKind.Array);
    }

    [Fact]
    public void A_repeated_key_reads_as_its_last_value_and_wrong_kinds_throw_like_JsonElement()
    {
        JsonValue root = JsonValue.Parse("{\"a\":1,\"a\":\"two\",\"n\":99999999999}");
        root.TryGetProperty("a", out JsonValue a).Should().BeTrue();
        a.GetString().Should().Be("two");
        root.TryGetProperty("missing", out _).Should().BeFalse();
        root.TryGetProperty("n", out JsonValue n).Should().BeTrue();
        FluentActions.Invoking(() => n.GetInt32()).Should().Throw<FormatException>();
        n.GetInt64().Should().Be(99999999999);
        FluentActions.Invoking(() => a.GetInt32()).Should().Throw<InvalidOperationException>();
    }
}
