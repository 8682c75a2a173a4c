using System.Text;
using Emissary.Control;
using Emissary.Json;
using Emissary.Tekton;

namespace Emissary.Fuzz;

/// <summary>
/// The targets, in one table for afl-fuzz (Program) and the corpus replay (Emissary.Tests). Each
/// feeds bytes to the code the binaries run on them, after the same bounded read: a target gets
/// what the read would hand over, not more.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>
    /// What any run may allocate besides what the input costs: the harness's own strings and the
    /// parsers' fixed buffers (a 4 KiB read chunk, a 16 KiB writer) with room to spare.
    /// </summary>
    private const long Slack = 256 * 1024;

    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("json", "Json/JsonValue.Parse: status.json, result values, termination messages, when-expressions",
            "throw anything but JsonFormatException; recurse past MaxDepth (64) into a stack overflow",
            [typeof(JsonFormatException)],
            // The text (2 B a byte), and per value at most a JsonValue (40 B), a one-char string
            // (24 B) and its list slot (8 B, twice while the list grows): "[1,1,..." costs about
            // 90 B per 2 input bytes; 64 B per byte is the bound with room.
            n => 64 * n + Slack,
            input => JsonValue.Parse(input)),

        new("status-json", "Control/StepStatus.Parse: DIR/NAME/status.json of another step (read up to 64 KiB)",
            "throw at all (bad content is null); write back a status that does not parse",
            [],
            n => 96 * n + Slack,
            input =>
            {
                StepStatus? status = StepStatus.Parse(Encoding.UTF8.GetString(Bounded(input, ControlDirectory.MaxStatusBytes)));
                if (status is not null && StepStatus.Parse(status.ToJson()) is null)
                {
                    throw new FuzzFinding("a status read from status.json, written back, does not parse");
                }
            }),

        new("tekton-termination", "Tekton/TektonTerminationMessage.TryParse + Render: the message read, merged and rewritten (plain or tknz: DEFLATE)",
            "throw at all; inflate past MaxInflated (128 KiB); render more than 4096 bytes",
            [],
            // The inflated JSON is at most MaxInflated bytes whatever the input, and is then parsed
            // like the json target's input.
            n => 64 * (n + TektonTerminationMessage.MaxInflated) + Slack,
            input =>
            {
                if (TektonTerminationMessage.TryParse(Bounded(input, TektonTerminationMessage.MaxInflated), out List<TektonEntry> entries))
                {
                    entries.Add(new TektonEntry("fuzz", "value", TektonResultType.StepResult));
                    foreach (bool compress in new[] { false, true })
                    {
                        if (TektonTerminationMessage.Render(entries, compress) is { Length: > TektonTerminationMessage.MaxLength } rendered)
                        {
                            throw new FuzzFinding($"rendered {rendered.Length} bytes, over {TektonTerminationMessage.MaxLength}");
                        }
                    }
                }
            }),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>What a bounded read of <paramref name="max"/> bytes would have handed the parser.</summary>
    private static ReadOnlySpan<byte> Bounded(ReadOnlySpan<byte> input, int max) => input.Length > max ? input[..max] : input;
}
