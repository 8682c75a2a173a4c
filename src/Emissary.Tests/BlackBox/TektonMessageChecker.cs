using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>One parsed entry of a Tekton termination message.</summary>
internal sealed record TektonResult(string Key, string Value, int Type);

/// <summary>
/// The rules Tekton's controller reads a step's termination message with, written independently
/// of the product's code so the two cannot share a mistake: pkg/termination/parse.go
/// (<c>tknz:</c> + raw-std base64 + raw DEFLATE, at most 128 KiB inflated; <c>json.Unmarshal</c>
/// into []RunResult — key and value strings, type an int or one of the string names; zero entries
/// dropped; duplicate keys, last wins; sorted by key) and pkg/pod/status.go (StartedAt parsed with
/// layout "2006-01-02T15:04:05.000Z07:00", ExitCode with ParseInt(v, 10, 32)), plus the 4096-byte
/// limit the kubelet and pkg/termination/write.go enforce. Anything the controller would reject
/// fails the test.
/// </summary>
internal static partial class TektonMessageChecker
{
    public const int MaxBytes = 4096;

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex StartedAtLayout();

    /// <summary>Parses and checks the message; returns the entries by key (last one wins).</summary>
    public static IReadOnlyDictionary<string, TektonResult> Check(byte[] message)
    {
        if (message.Length > MaxBytes)
            throw new XunitException($"termination message is {message.Length} bytes, over {MaxBytes}");
        if (message.Length == 0)
            return new Dictionary<string, TektonResult>();
        byte[] json = message;
        string text = Encoding.UTF8.GetString(message);
        if (text.StartsWith("tknz:", StringComparison.Ordinal))
        {
            string b64 = text[5..];
            if (b64.Contains('='))
                throw new XunitException("tknz: payload must be unpadded base64 (RawStdEncoding)");
            byte[] raw = Convert.FromBase64String(b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '='));
            using var inflate = new DeflateStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream();
            inflate.CopyTo(output);
            if (output.Length > 128 * 1024)
                throw new XunitException("tknz: payload inflates past 128 KiB");
            json = output.ToArray();
        }
        var byKey = new SortedDictionary<string, TektonResult>(StringComparer.Ordinal);
        using JsonDocument document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
            throw new XunitException($"termination message is not a JSON array: {Encoding.UTF8.GetString(json)}");
        foreach (JsonElement item in document.RootElement.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
                throw new XunitException($"entry is not an object: {item}");
            string key = "", value = "";
            int type = 0;
            foreach (JsonProperty p in item.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "key":
                        key = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new XunitException($"key is not a string: {item}");
                        break;
                    case "value":
                        value = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new XunitException($"value is not a string: {item}");
                        break;
                    case "type":
                        type = p.Value.ValueKind switch
                        {
                            JsonValueKind.Number => p.Value.GetInt32(),
                            JsonValueKind.String => p.Value.GetString() switch
                            {
                                "TaskRunResult" => 1,
                                "InternalTektonResult" => 3,
                                "StepResult" => 4,
                                "StepArtifactsResult" => 5,
                                "TaskRunArtifactsResult" => 6,
                                _ => 10,
                            },
                            _ => throw new XunitException($"type is neither int nor string: {item}"),
                        };
                        break;
                }
            }
            if (key.Length == 0 && value.Length == 0 && type == 0)
                continue; // the zero RunResult is dropped
            byKey[key] = new TektonResult(key, value, type);
        }
        if (byKey.TryGetValue("StartedAt", out TektonResult? started))
        {
            started.Type.Should().Be(3, "StartedAt is an internal Tekton entry");
            StartedAtLayout().IsMatch(started.Value).Should().BeTrue($"StartedAt '{started.Value}' must match 2006-01-02T15:04:05.000Z07:00");
        }
        if (byKey.TryGetValue("ExitCode", out TektonResult? exit))
            int.TryParse(exit.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _).Should().BeTrue($"ExitCode '{exit.Value}' must parse as int32");
        return byKey;
    }

    /// <summary>Reads and checks the file; a missing file is an empty message.</summary>
    public static IReadOnlyDictionary<string, TektonResult> CheckFile(string path) =>
        Check(File.Exists(path) ? File.ReadAllBytes(path) : []);
}
