using System.Text;
using System.Text.Json;
using Emissary.Cli;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Json;
using Emissary.Net;
using Emissary.Results;
using Emissary.Tekton;
using Emissary.Telemetry;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;

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
        new("termination", "Results/TerminationMessageReader.Read + TerminationMessage.Render: a step's termination.json (plain or emz: DEFLATE) as status and local read it, rendered again",
            "throw at all; inflate past MaxInflated (128 KiB); render more than 4096 bytes; render results that do not read back the same; a DEFLATE stream of the input that does not inflate to it",
            [],
            // The inflated JSON is at most MaxInflated bytes and is parsed like the json target's
            // input; compressing the input costs a few words a byte (the LZ77 symbols and chains).
            n => 64 * (n + TerminationMessage.MaxInflated) + Slack,
            input =>
            {
                ReadOnlySpan<byte> message = Bounded(input, ReportedResults.MaxMessageBytes);
                ReadOnlySpan<byte> plain = Bounded(message, TerminationMessage.MaxInflated);
                if (Deflate.Inflate(Deflate.Compress(plain), plain.Length) is not { } back || !back.AsSpan().SequenceEqual(plain))
                {
                    throw new FuzzFinding("Deflate.Compress wrote a stream that does not inflate to its input");
                }
                if (TerminationMessageReader.Read(message) is not { } read || !read.Results.All(r => ResultsCollector.IsValidName(r.Name)))
                {
                    return; // names emissary would never write (not valid result names) need not survive a rewrite
                }
                var report = new StepReport("fuzz", 0, StepReasons.Completed, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);
                foreach (bool kept in new[] { false, true })
                {
                    Rendering rendering = TerminationMessage.Render(report, read.Results, TerminationFormat.Emissary, TerminationMessage.DefaultBudget, kept);
                    if (rendering.Bytes.Length > TerminationMessage.DefaultBudget)
                    {
                        throw new FuzzFinding($"rendered {rendering.Bytes.Length} bytes, over {TerminationMessage.DefaultBudget}");
                    }
                    if (!rendering.TooLarge && !rendering.Omitted && TerminationMessageReader.Read(rendering.Bytes) is var again
                        && (again is null || !SameResults(again.Results, read.Results)))
                    {
                        throw new FuzzFinding("results rendered into a message do not read back the same");
                    }
                }
            }),

        new("exitcode", "Control/ControlDirectory.ParseExitCode: DIR/NAME/exitcode of another step (read up to 4 KiB)",
            "throw at all (not a code is null)",
            [],
            n => 8 * n + Slack,
            input => ControlDirectory.ParseExitCode(Bounded(input, ControlDirectory.MaxMarkerBytes))),

        new("duration", "Foundation/Duration.TryParse: --timeout, --grace, EMISSARY_* durations, pod fields",
            "throw at all; accept a negative duration",
            [],
            n => 16 * n + Slack,
            input =>
            {
                if (Duration.TryParse(Text(input), out TimeSpan value) && value < TimeSpan.Zero)
                {
                    throw new FuzzFinding($"accepted a negative duration: {value}");
                }
            }),

        new("go-duration", "Tekton/GoDuration.TryParse: the entrypoint's -timeout (Go's time.ParseDuration)",
            "throw at all (an overflow included)",
            [],
            n => 16 * n + Slack,
            input => GoDuration.TryParse(Text(input), out _)),

        new("rfc3339", "Foundation/Rfc3339.TryParse: times in status.json and usage records",
            "throw at all; accept a time it cannot write back",
            [],
            n => 8 * n + Slack,
            input =>
            {
                if (Rfc3339.TryParse(Text(input), out DateTimeOffset time) && !Rfc3339.TryParse(Rfc3339.Format(time), out _))
                {
                    throw new FuzzFinding($"{time:O} read, but its RFC 3339 form does not read back");
                }
            }),

        new("traceparent", "Telemetry/TraceContext.Parse: the TRACEPARENT variable",
            "throw at all; accept a context whose own traceparent it refuses",
            [],
            n => 8 * n + Slack,
            input =>
            {
                if (TraceContext.Parse(Text(input)) is { } context && TraceContext.Parse(context.Format()) is null)
                {
                    throw new FuzzFinding($"{context.Format()} refused after it was read");
                }
            }),

        new("step-result-refs", "Results/StepResultReferences.Find + Substitute: $(steps.X.results.Y) in arguments, env values, scripts",
            "throw at all (the resolver's StepResultMissingException aside); take more than linear time",
            [typeof(StepResultMissingException)],
            n => 64 * n + Slack,
            input =>
            {
                string text = Text(input);
                IReadOnlyList<StepResultReference> found = StepResultReferences.Find(text);
                if (StepResultReferences.Contains(text) != found.Count > 0)
                {
                    throw new FuzzFinding("Contains and Find disagree");
                }
                StepResultReferences.Substitute(text, r => r.Selector.Length > 0 ? throw new StepResultMissingException("selector") : "<" + r.Step + ">");
            }),

        new("tekton-result-value", "Tekton/TektonResultValue.Parse + TektonStepResultResolver.Select: a step result file (string, array or object) and the reference's selector",
            "throw anything but StepResultMissingException",
            [typeof(StepResultMissingException)],
            n => 96 * n + Slack,
            input =>
            {
                // First line: the text with references; the rest: the result file's bytes.
                int newline = input.IndexOf((byte)'\n');
                string references = newline < 0 ? "$(steps.a.results.b)" : Encoding.UTF8.GetString(input[..newline]);
                TektonResultValue value = TektonResultValue.Parse(input[(newline + 1)..].ToArray());
                foreach (StepResultReference reference in StepResultReferences.Find(references))
                {
                    TektonStepResultResolver.Select(reference, value);
                }
            }),

        new("when-expressions", "Tekton/TektonWhenExpressions.Parse + AllowsExecution: the entrypoint's -when_expressions",
            "throw anything but TektonWhenException",
            [typeof(TektonWhenException)],
            n => 96 * n + Slack,
            input =>
            {
                IReadOnlyList<TektonWhenExpression> expressions = TektonWhenExpressions.Parse(Text(input));
                TektonWhenExpressions.AllowsExecution(expressions, out _);
            }),

        new("tekton-cel", "Tekton/Cel: CelProgram.Evaluate (parse, check, evaluate, matches) of a when-expression's cel text",
            "throw anything (every failure is an error value or a CelCompileException turned into one)",
            [],
            n => 96 * n + Slack,
            input => CelProgram.Evaluate(Text(input), out _)),

        new("go-flags", "Tekton/GoFlags.Parse + TektonCommandLine.Split/Bind: the entrypoint's command line (one argument a line)",
            "throw anything but GoFlagException",
            [typeof(GoFlagException)],
            n => 64 * n + Slack,
            input =>
            {
                (string[] flags, string[] command) = TektonCommandLine.Split(Lines(input));
                GoFlagValues values = GoFlags.Parse(TektonCommandLine.Flags, flags);
                if (!values.HelpRequested)
                {
                    TektonCommandLine.Bind(values, command);
                }
            }),

        new("cli-run", "Cli/CliParser.Parse + RunCli.Bind + OptionValues: `emissary run`'s options (one argument a line; EMISSARY_*=... lines are the environment)",
            "throw anything but UsageException",
            [typeof(UsageException)],
            n => 64 * n + Slack,
            input =>
            {
                var environment = new Dictionary<string, string>(StringComparer.Ordinal);
                var args = new List<string>();
                foreach (string line in Lines(input))
                {
                    if (line.StartsWith("EMISSARY_", StringComparison.Ordinal) && line.IndexOf('=') is > 0 and int eq)
                    {
                        environment[line[..eq]] = line[(eq + 1)..];
                    }
                    else
                    {
                        args.Add(line);
                    }
                }
                // As CommandLine.Dispatch splits: the command after the first "--".
                int separator = args.IndexOf("--");
                string[]? payload = separator < 0 ? null : args[(separator + 1)..].ToArray();
                List<string> options = separator < 0 ? args : args[..separator];
                ParsedCommand parsed = CliParser.Parse(RunCli.Build(), OptionValues.Global, options, payload);
                var values = new OptionValues(parsed, name => environment.GetValueOrDefault(name));
                values.CreateLogger(null);
                RunCli.Bind(values, payload);
            }),

        new("http-status", "Net/LoopbackHttp.ParseStatusLine: the answer of a sidecar's admin endpoint or the OTLP collector (first 512 bytes)",
            "throw anything but IOException",
            [typeof(IOException)],
            n => 16 * n + Slack,
            input => LoopbackHttp.ParseStatusLine(Bounded(input, 512), "fuzz")),

        new("dns-answer", "Telemetry/DnsMessage.Parse: a nameserver's UDP answer (up to 1232 bytes), compressed names included",
            "throw at all (a message cut short keeps what was read); loop on a name pointer",
            [],
            n => 64 * n + Slack,
            input =>
            {
                ReadOnlySpan<byte> answer = Bounded(input, 1232);
                ushort id = answer.Length >= 2 ? (ushort)(answer[0] << 8 | answer[1]) : (ushort)0;
                ushort type = answer.Length >= 3 && (answer[2] & 1) == 1 ? (ushort)28 : (ushort)1;
                DnsMessage.Parse(answer, DnsMessage.Query(id, "otel-collector.observability.svc.cluster.local", type), type);
            }),

        new("resolv-conf", "Telemetry/ResolverConfig.Parse + Candidates, NameResolver.FromHosts: /etc/resolv.conf and /etc/hosts (up to 64 KiB)",
            "throw at all",
            [],
            n => 96 * n + Slack,
            input =>
            {
                string text = Text(Bounded(input, 64 * 1024));
                ResolverConfig config = ResolverConfig.Parse(text);
                foreach (string _ in config.Candidates("otel-collector.observability"))
                {
                }
                NameResolver.FromHosts(text, "otel-collector");
            }),

        new("signal-lines", "Control/SignalLines.Feed: what anyone in the pod writes to a step's signal FIFO, in reads of any size (first byte: the read size)",
            "throw at all; pass on anything but a signal from 1 to 64, or more requests than lines; keep more than 64 bytes of a line",
            [],
            // The reader holds one 64-byte line whatever comes: nothing per input byte.
            n => Slack,
            input =>
            {
                var lines = new SignalLines();
                int chunk = input.IsEmpty ? 1 : input[0] % 97 + 1;
                int requests = 0;
                for (ReadOnlySpan<byte> rest = input; !rest.IsEmpty; rest = rest[Math.Min(chunk, rest.Length)..])
                {
                    lines.Feed(rest[..Math.Min(chunk, rest.Length)], signal =>
                    {
                        requests++;
                        if (signal is < 1 or > 64)
                        {
                            throw new FuzzFinding($"signal {signal} passed on");
                        }
                    });
                }
                if (requests > input.Count((byte)'\n'))
                {
                    throw new FuzzFinding($"{requests} requests from {input.Count((byte)'\n')} lines");
                }
            }),

        new("step-fields", "Tools/StepFields.TryParse: a container's emissary fields and emissary.dev/ annotations (first byte: the field)",
            "throw at all (a bad value is an error text)",
            [],
            n => 32 * n + Slack,
            input =>
            {
                if (input.Length > 0)
                {
                    StepFields.TryParse((StepField)(input[0] % StepFields.Names.Length), Text(input[1..]), out _, out _);
                }
            }),

        new("entrypoint-index", "Tools/EntrypointIndex.Parse: the --entrypoints file (YAML or JSON)",
            "throw anything but ManifestReadException",
            [typeof(ManifestReadException)],
            // YamlDotNet's node tree: a node and its mark objects cost a few hundred bytes, and
            // "[a,a,...": one node per two bytes.
            n => 1024 * n + 4 * Slack,
            input => EntrypointIndex.Parse(Text(input), "entrypoints.yaml")),

        new("manifest-rewrite", "Tools/ManifestRewriter.Rewrite: `emissary rewrite` on manifests (YAML streams or JSON; pods, workloads, lists)",
            "throw at all (bad manifests are error lines); grow beyond the size of the input (YAML aliases included)",
            [],
            n => 2048 * n + 4 * Slack,
            input => ManifestRewriter.Rewrite([("pod.yaml", Text(input))], new RewriteSettings())),

        new("admission", "Webhook/AdmissionReview.ParseBody + Read + PodAdmission.Decide: a review body as the webhook's port receives it",
            "throw anything but JsonException while the review is read, anything at all while it is decided",
            [],
            n => 2048 * n + 4 * Slack,
            input =>
            {
                byte[] body = input.ToArray();
                JsonDocument document;
                AdmissionReview? review;
                try
                {
                    document = AdmissionReview.ParseBody(body);
                }
                catch (JsonException)
                {
                    return;
                }
                using (document)
                {
                    try
                    {
                        review = AdmissionReview.Read(document.RootElement);
                    }
                    catch (JsonException)
                    {
                        return;
                    }
                    if (review?.Request is { } request)
                    {
                        PodAdmission.Decide(request, body.Length % 2 == 0 ? OptIn.Namespace : OptIn.Annotation, new RewriteSettings());
                    }
                }
            }),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>What a bounded read of <paramref name="max"/> bytes would have handed the parser.</summary>
    /// <summary>The bytes as text, the way the binaries decode what they read (invalid UTF-8 becomes U+FFFD).</summary>
    private static string Text(ReadOnlySpan<byte> input) => Encoding.UTF8.GetString(input);

    /// <summary>The bytes as a command line: one argument a line.</summary>
    private static string[] Lines(ReadOnlySpan<byte> input) => input.IsEmpty ? [] : Text(input).Split('\n');

    private static ReadOnlySpan<byte> Bounded(ReadOnlySpan<byte> input, int max) => input.Length > max ? input[..max] : input;

    /// <summary>The same results, the last value of a name winning as Render keeps it, in name order.</summary>
    private static bool SameResults(IReadOnlyList<Result> read, IReadOnlyList<Result> written)
    {
        var expected = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (Result result in written)
        {
            expected[result.Name] = result.Value;
        }
        return read.Count == expected.Count && read.Zip(expected).All(p => p.First.Name == p.Second.Key && p.First.Value.AsSpan().SequenceEqual(p.Second.Value));
    }
}
