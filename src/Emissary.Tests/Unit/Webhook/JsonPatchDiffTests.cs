using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>The webhook's JSON Patch, checked with the tests' own applier: diff(a, b) applied to a is b.</summary>
public sealed class JsonPatchDiffTests
{
    private static JsonArray Patch(JsonNode? from, JsonNode? to) =>
        JsonNode.Parse(Encoding.UTF8.GetString(JsonPatchDiff.Diff(from, to)))!.AsArray();

    // Member names with the characters JSON Pointer escapes, as in annotation keys (emissary.dev/x).
    private static readonly Gen<string> Names = Gen.OneOf("a", "b", "emissary.dev/inject", "x~y", "~1", "c/d/e", "");

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
}
