using System.Globalization;
using Emissary.Foundation;
using Emissary.Json;

namespace Emissary.Control;

/// <summary>A pod's or container's <c>restartPolicy</c>.</summary>
internal enum RestartPolicy
{
    Never,
    OnFailure,
    Always,
}

/// <summary>What a matching <c>restartPolicyRules</c> entry makes the kubelet do.</summary>
internal enum RestartAction
{
    /// <summary>Restart this container in place (KEP-5307).</summary>
    Restart,

    /// <summary>Restart every container of the pod in place, init containers first (KEP-5532): a new pod incarnation.</summary>
    RestartAllContainers,
}

/// <summary>One entry of a container's <c>restartPolicyRules</c>: <c>{action, exitCodes: {operator: In|NotIn, values}}</c>.</summary>
internal sealed record RestartRule(RestartAction Action, bool In, int[] Values)
{
    public bool Matches(int exitCode) => In == Array.IndexOf(Values, exitCode) >= 0;
}

/// <summary>What follows a step's exit, as the kubelet decides it.</summary>
internal enum RestartVerdict
{
    /// <summary>No restart: the outcome is final.</summary>
    Final,

    /// <summary>The kubelet restarts this container: the step runs again.</summary>
    Container,

    /// <summary>The kubelet restarts every container of the pod: the whole pod runs again.</summary>
    Pod,
}

/// <summary>
/// Whether the kubelet restarts a container after it exits with a given code: the pod's
/// <c>restartPolicy</c>, overridden by the container's own, and the container's
/// <c>restartPolicyRules</c> first (the first rule whose exit codes match decides; none: the
/// policy does). <c>rewrite</c> and the webhook pass all three on as <c>run</c> flags, since a
/// container cannot read its own pod spec. The default (nothing said) is Never: every outcome is
/// final, as before these flags.
/// </summary>
internal sealed record KubeletRestart
{
    public static readonly KubeletRestart Never = new();

    /// <summary><c>--restart-policy</c>: the pod's policy, or the container's own when it has one (the flag carries whichever applies).</summary>
    public RestartPolicy Policy { get; init; } = RestartPolicy.Never;

    /// <summary><c>--restart-rules</c>: the container's <c>restartPolicyRules</c>, in order.</summary>
    public IReadOnlyList<RestartRule> Rules { get; init; } = [];

    /// <summary>Whether anything but "never restarted" was said (so the verdict is worth computing).</summary>
    public bool MayRestart => Policy != RestartPolicy.Never || Rules.Count > 0;

    /// <summary>What follows an exit with <paramref name="exitCode"/> (the code the container exits with, emissary's own).</summary>
    public RestartVerdict After(int exitCode)
    {
        foreach (RestartRule rule in Rules)
        {
            if (rule.Matches(exitCode))
            {
                return rule.Action == RestartAction.RestartAllContainers ? RestartVerdict.Pod : RestartVerdict.Container;
            }
        }
        return Policy switch
        {
            RestartPolicy.Always => RestartVerdict.Container,
            RestartPolicy.OnFailure when exitCode != ExitCodes.Success => RestartVerdict.Container,
            _ => RestartVerdict.Final,
        };
    }

    public static RestartPolicy ParsePolicy(string text, string option) => text switch
    {
        "Never" => RestartPolicy.Never,
        "OnFailure" => RestartPolicy.OnFailure,
        "Always" => RestartPolicy.Always,
        _ => throw new UsageException($"{option}: '{text}' is not a restart policy (Never, OnFailure or Always)"),
    };

    public static string NameOf(RestartPolicy policy) => policy switch
    {
        RestartPolicy.OnFailure => "OnFailure",
        RestartPolicy.Always => "Always",
        _ => "Never",
    };

    /// <summary>At most this many rules and values per rule: what the API server allows is far less.</summary>
    private const int MaxRules = 64, MaxValues = 255;

    /// <summary>
    /// Parses the container's <c>restartPolicyRules</c> as the pod spec writes them, as JSON:
    /// <c>[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]</c>. Anything else
    /// is one line naming the option (exit 125).
    /// </summary>
    public static IReadOnlyList<RestartRule> ParseRules(string json, string option)
    {
        JsonValue root;
        try
        {
            root = JsonValue.Parse(json);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new UsageException($"{option}: not JSON ({e.Message})");
        }
        if (root.Kind != JsonKind.Array)
        {
            throw new UsageException($"{option}: expected a JSON array of rules ([{{\"action\":\"Restart\",\"exitCodes\":{{\"operator\":\"In\",\"values\":[42]}}}}])");
        }
        var rules = new List<RestartRule>();
        foreach (JsonValue item in root.Items)
        {
            if (rules.Count == MaxRules)
            {
                throw new UsageException($"{option}: more than {MaxRules} rules");
            }
            rules.Add(ParseRule(item, option, rules.Count));
        }
        return rules;
    }

    private static RestartRule ParseRule(JsonValue rule, string option, int index)
    {
        string where = $"{option}: rule {index.ToString(CultureInfo.InvariantCulture)}";
        if (rule.Kind != JsonKind.Object)
        {
            throw new UsageException($"{where} is not an object");
        }
        RestartAction action = TextOf(rule, "action") switch
        {
            "Restart" => RestartAction.Restart,
            "RestartAllContainers" => RestartAction.RestartAllContainers,
            var other => throw new UsageException($"{where}: action '{other}' is not Restart or RestartAllContainers"),
        };
        if (!rule.TryGetProperty("exitCodes", out JsonValue codes) || codes.Kind != JsonKind.Object)
        {
            throw new UsageException($"{where}: no exitCodes object");
        }
        bool @in = TextOf(codes, "operator") switch
        {
            "In" => true,
            "NotIn" => false,
            var other => throw new UsageException($"{where}: operator '{other}' is not In or NotIn"),
        };
        if (!codes.TryGetProperty("values", out JsonValue values) || values.Kind != JsonKind.Array)
        {
            throw new UsageException($"{where}: exitCodes has no values array");
        }
        var list = new List<int>();
        foreach (JsonValue value in values.Items)
        {
            if (list.Count == MaxValues)
            {
                throw new UsageException($"{where}: more than {MaxValues} exit codes");
            }
            if (value.Kind != JsonKind.Number || !value.TryGetInt32(out int code))
            {
                throw new UsageException($"{where}: exit codes are integers");
            }
            list.Add(code);
        }
        return new RestartRule(action, @in, [.. list]);
    }

    private static string? TextOf(JsonValue obj, string property) =>
        obj.TryGetProperty(property, out JsonValue value) && value.Kind == JsonKind.String ? value.GetString() : null;
}
