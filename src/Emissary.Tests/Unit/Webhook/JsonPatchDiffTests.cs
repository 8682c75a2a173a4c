using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>The webhook's JSON Patch, checked with the tests' own applier: diff(a, b) applied to a is b.</summary>
public sealed class JsonPatchDiffTests
{
    /// <summary>The diff as the webhook makes it: from the review's JSON element to the rewriter's nodes.</summary>
    private static JsonArray Patch(JsonNode? from, JsonNode? to)
    {
        using JsonDocument sent = JsonDocument.Parse(Json(from));
        YamlNode rewritten = JsonManifests.Read(Json(to), ManifestSet.StandardInput).Single();
        return JsonNode.Parse(Encoding.UTF8.GetString(JsonPatchDiff.Diff(sent.RootElement, rewritten)!))!.AsArray();
    }

    private static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";

    // Member names with the characters JSON Pointer escapes, as in annotation keys (emissary.dev/x),
    // and ones written with JSON escapes (the diff compares plain ASCII names byte for char, others decoded).
    private static readonly Gen<string> Names = Gen.OneOf("a", "b", "emissary.dev/inject", "x~y", "~1", "c/d/e", "", "é", "q\"r", "a\u0000");

    private static readonly Gen<JsonNode?> Scalars = Gen.OneOf<JsonNode?>(
        Gen.Int[-3, 3].Select(i => (JsonNode?)JsonValue.Create(i)),
        Gen.OneOf("s", "t", "").Select(s => (JsonNode?)JsonValue.Create(s)),
        Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b)),
        Gen.Const((JsonNode?)null));

    private static Gen<JsonNode?> Trees(int depth) => depth == 0
        ? Scalars
        : Gen.Frequency(
            (2, Scalars),
            (3, Gen.Select(Names, Trees(depth - 1)).Array[0, 4].Select(members =>
            {
                var o = new JsonObject();
                foreach ((string name, JsonNode? value) in members)
                {
                    o[name] = value;
                }
                return (JsonNode?)o;
            })),
            (2, Trees(depth - 1).Array[0, 4].Select(items => (JsonNode?)new JsonArray(items))));

    [Fact]
    public void Applying_the_diff_of_two_documents_to_the_first_gives_the_second()
    {
        Gen.Select(Trees(3), Trees(3)).Sample((a, b) =>
        {
            JsonNode? applied = JsonPatchApplier.Apply(a, Patch(a, b));
            return JsonNode.DeepEquals(applied, b);
        }, iter: 2000);
    }

    [Fact]
    public void Equal_documents_give_an_empty_patch()
    {
        Trees(3).Sample(a => Patch(a, a?.DeepClone()).Count == 0, iter: 500);
    }

    [Fact]
    public void Member_names_are_escaped_as_JSON_Pointer_tokens()
    {
        JsonArray patch = Patch(JsonNode.Parse("""{"metadata":{"annotations":{}}}"""),
            JsonNode.Parse("""{"metadata":{"annotations":{"emissary.dev/a~b":"x"}}}"""));
        patch.Should().ContainSingle();
        patch[0]!["op"]!.GetValue<string>().Should().Be("add");
        patch[0]!["path"]!.GetValue<string>().Should().Be("/metadata/annotations/emissary.dev~1a~0b");
    }

    [Fact]
    public void A_list_that_changes_length_is_replaced_whole_and_one_of_the_same_length_element_by_element()
    {
        JsonArray grown = Patch(JsonNode.Parse("""{"c":[{"n":1}]}"""), JsonNode.Parse("""{"c":[{"n":0},{"n":1}]}"""));
        grown.Select(o => (o!["op"]!.GetValue<string>(), o["path"]!.GetValue<string>())).Should().Equal(("replace", "/c"));
        JsonArray edited = Patch(JsonNode.Parse("""{"c":[{"n":1},{"n":2}]}"""), JsonNode.Parse("""{"c":[{"n":1},{"n":3}]}"""));
        edited.Select(o => (o!["op"]!.GetValue<string>(), o["path"]!.GetValue<string>())).Should().Equal(("replace", "/c/1/n"));
    }

    [Fact]
    public void Nodes_are_compared_as_they_are_written_as_JSON()
    {
        using JsonDocument sent = JsonDocument.Parse("""{"n":1,"f":1.0,"s":"3","b":true,"z":null,"q":"true"}""");
        var same = new YamlMappingNode(
            new YamlScalarNode("n"), new YamlScalarNode("1"),
            new YamlScalarNode("f"), new YamlScalarNode("1"), // the same number written otherwise
            new YamlScalarNode("s"), YamlNodes.String("3"),   // quoted: a string
            new YamlScalarNode("b"), YamlNodes.Boolean(true),
            new YamlScalarNode("z"), new YamlScalarNode("~"),
            new YamlScalarNode("q"), YamlNodes.String("true"));
        Encoding.UTF8.GetString(JsonPatchDiff.Diff(sent.RootElement, same)!).Should().Be("[]");

        var other = new YamlMappingNode(
            new YamlScalarNode("n"), YamlNodes.String("1"),   // a string now
            new YamlScalarNode("f"), new YamlScalarNode("1"),
            new YamlScalarNode("s"), new YamlScalarNode("3"), // a number now
            new YamlScalarNode("b"), YamlNodes.Boolean(true),
            new YamlScalarNode("z"), new YamlScalarNode("~"),
            new YamlScalarNode("q"), YamlNodes.Boolean(true));
        JsonArray patch = JsonNode.Parse(Encoding.UTF8.GetString(JsonPatchDiff.Diff(sent.RootElement, other)!))!.AsArray();
        patch.Select(o => o!.ToJsonString()).Should().Equal(
            """{"op":"replace","path":"/n","value":"1"}""",
            """{"op":"replace","path":"/s","value":3}""",
            """{"op":"replace","path":"/q","value":true}""");
    }
}
