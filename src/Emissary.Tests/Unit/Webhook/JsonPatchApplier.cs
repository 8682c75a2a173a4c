using System.Text.Json.Nodes;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>
/// An RFC 6902 applier written for the tests from the RFC, independently of the webhook's diff:
/// add, remove, replace (and test, copy, move are not used by the webhook, so a patch holding
/// them fails). Throws on a path that does not exist, as the API server's applier does.
/// </summary>
internal static class JsonPatchApplier
{
    public static JsonNode? Apply(JsonNode? document, JsonArray patch)
    {
        JsonNode? root = document?.DeepClone();
        foreach (JsonNode? operation in patch)
        {
            string op = operation!["op"]!.GetValue<string>();
            string path = operation["path"]!.GetValue<string>();
            JsonNode? value = operation.AsObject().TryGetPropertyValue("value", out JsonNode? v) ? v?.DeepClone() : null;
            if (path == "")
            {
                root = op is "add" or "replace" ? value : throw new InvalidOperationException($"{op} of the whole document");
                continue;
            }
            string[] tokens = path[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
            JsonNode parent = root!;
            foreach (string token in tokens[..^1])
            {
                parent = parent is JsonArray array ? array[int.Parse(token)]! : parent.AsObject()[token] ?? throw new InvalidOperationException($"no {token} in {path}");
            }
            string last = tokens[^1];
            switch (op, parent)
            {
                case ("add", JsonObject o):
                    o[last] = value;
                    break;
                case ("add", JsonArray a):
                    if (last == "-") a.Add(value); else a.Insert(int.Parse(last), value);
                    break;
                case ("remove", JsonObject o):
                    if (!o.Remove(last)) throw new InvalidOperationException($"remove of missing {path}");
                    break;
                case ("remove", JsonArray a):
                    a.RemoveAt(int.Parse(last));
                    break;
                case ("replace", JsonObject o):
                    if (!o.ContainsKey(last)) throw new InvalidOperationException($"replace of missing {path}");
                    o[last] = value;
                    break;
                case ("replace", JsonArray a):
                    a[int.Parse(last)] = value;
                    break;
                default:
                    throw new InvalidOperationException($"unsupported operation {op} at {path}");
            }
        }
        return root;
    }
}
