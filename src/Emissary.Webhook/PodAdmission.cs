using System.Text.Json;
using System.Runtime.InteropServices;
using Emissary.Tools.PodSpec;

namespace Emissary.Webhook;

/// <summary>Which pods a webhook path wires: the MutatingWebhookConfiguration sends each opt-in to its own path.</summary>
internal enum OptIn
{
    /// <summary><c>/mutate</c>: the pod's namespace is labelled <c>emissary.dev/inject=enabled</c>; every pod is wired unless annotated <c>emissary.dev/inject: "false"</c>.</summary>
    Namespace,

    /// <summary><c>/mutate-annotated</c>: any other namespace; only pods annotated <c>emissary.dev/inject: "true"</c> are wired.</summary>
    Annotation,
}

/// <summary>What became of one review (logged, and counted by the tests).</summary>
internal enum AdmissionOutcome
{
    Patched,
    Unchanged,
    AlreadyWired,
    NotRequested,
    NotAPod,
    NotACreate,
    Refused,
}

/// <summary>The answer to one review: allowed with an optional JSON Patch, or refused with a message.</summary>
internal sealed record AdmissionDecision(AdmissionOutcome Outcome, bool Allowed, byte[]? Patch = null, string? Message = null, IReadOnlyList<string>? Warnings = null)
{
    /// <summary>The HTTP-like code of a refusal's status (400: the pod or the review is invalid).</summary>
    public int Code { get; init; }
}

/// <summary>
/// The webhook's decision for one AdmissionRequest, without HTTP: the pod goes through the same
/// <see cref="ManifestRewriter"/> as <c>emissary rewrite</c> (its JSON read by the same code, and
/// compared by the rule that code writes JSON with), and the answer is the JSON Patch from the pod
/// as sent to the pod as rewritten, so a pod gets the same result either way.
/// </summary>
internal static class PodAdmission
{
    /// <summary>
    /// The decision; <paramref name="cancellation"/> (the review's deadline, or its client gone) is
    /// checked between the stages and inside the diff, and ends the work with an
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static AdmissionDecision Decide(AdmissionRequest request, OptIn optIn, RewriteSettings settings, CancellationToken cancellation = default)
    {
        if (request.Kind?.Kind != "Pod" || request.Resource?.Resource != "pods" || !string.IsNullOrEmpty(request.SubResource))
        {
            // Only a misconfigured webhook sends anything else: let it through untouched.
            return new AdmissionDecision(AdmissionOutcome.NotAPod, Allowed: true);
        }
        if (request.Operation != "CREATE")
        {
            return new AdmissionDecision(AdmissionOutcome.NotACreate, Allowed: true); // a running pod's containers cannot change
        }
        if (request.Object is not { ValueKind: JsonValueKind.Object } podElement)
        {
            return Refuse("request.object is not a pod", code: 400);
        }
        if (ContainerCount(podElement) is var containers && containers > ReviewLimits.MaxContainers)
        {
            // Refused before the pod is read for the rewriter: that read, the rewrite and the diff
            // grow with the containers. A pod that does not ask to be wired is none of our business.
            return Wanted(RequestedOf(podElement), optIn)
                ? Refuse($"the pod has {containers} containers (initContainers, containers and ephemeralContainers together); emissary wires at most {ReviewLimits.MaxContainers}: "
                    + "each wrapped container adds about 0.5 KB, and etcd stores at most 1.5 MiB per object", code: 400)
                : new AdmissionDecision(AdmissionOutcome.NotRequested, Allowed: true);
        }

        cancellation.ThrowIfCancellationRequested();
        ManifestSet set;
        try
        {
            // The pod's bytes as they are in the review: read once, into the nodes the rewriter edits.
            set = ManifestSet.ReadJson(JsonMarshal.GetRawUtf8Value(podElement), ManifestSet.StandardInput);
        }
        catch (ManifestReadException e)
        {
            return Refuse(e.Message, code: 400); // the API server sends valid JSON; a hand-made review may not
        }
        if (set.Documents.Count != 1 || set.Documents[0].Objects is not [{ HasPod: true } pod])
        {
            return Refuse("request.object is not a pod", code: 400);
        }

        if (!Wanted(PodInjection.Requested(pod), optIn))
        {
            return new AdmissionDecision(AdmissionOutcome.NotRequested, Allowed: true);
        }
        if (PodInjection.IsWired(pod))
        {
            return new AdmissionDecision(AdmissionOutcome.AlreadyWired, Allowed: true);
        }

        cancellation.ThrowIfCancellationRequested();
        var errors = new List<ManifestError>();
        var warnings = new List<ManifestError>();
        // The reader and the rewriter check the token once per container: a review past its
        // deadline, or whose client went away, stops here instead of holding its turn.
        ManifestRewriter.Rewrite(set, settings with { Cancellation = cancellation }, errors, warnings);
        cancellation.ThrowIfCancellationRequested();
        if (errors.Count > 0)
        {
            // The lines `emissary rewrite` prints for this pod, so kubectl shows the same text.
            return Refuse(string.Join('\n', errors.Select(e => e.ToString())), code: 400);
        }
        string[]? warningLines = warnings.Count > 0 ? warnings.Select(w => "emissary: " + w).ToArray() : null;
        if (JsonPatchDiff.Diff(podElement, set.Documents[0].Root, ReviewLimits.MaxPatchBytes, cancellation) is not { } patch)
        {
            return Refuse($"wiring this pod takes a JSON Patch of more than {ReviewLimits.MaxPatchBytes / 1024} KiB, so the wired pod would not fit the 1.5 MiB "
                + "etcd stores per object: fewer containers, or smaller ones", code: 400);
        }
        return patch.Length <= 2 // "[]"
            ? new AdmissionDecision(AdmissionOutcome.Unchanged, Allowed: true, Warnings: warningLines)
            : new AdmissionDecision(AdmissionOutcome.Patched, Allowed: true, Patch: patch, Warnings: warningLines);
    }

    /// <summary>Whether the pod is to be wired, given its emissary.dev/inject annotation (null: absent) and the path it came by.</summary>
    private static bool Wanted(bool? requested, OptIn optIn) =>
        requested != false && (optIn == OptIn.Namespace || requested == true);

    /// <summary>initContainers + containers + ephemeralContainers of the pod as sent (arrays only: anything else is the reader's error to report).</summary>
    internal static int ContainerCount(JsonElement pod)
    {
        if (!pod.TryGetProperty("spec", out JsonElement spec) || spec.ValueKind != JsonValueKind.Object)
        {
            return 0;
        }
        int count = 0;
        foreach (string list in (ReadOnlySpan<string>)["initContainers", "containers", "ephemeralContainers"])
        {
            if (spec.TryGetProperty(list, out JsonElement containers) && containers.ValueKind == JsonValueKind.Array)
            {
                count += containers.GetArrayLength();
            }
        }
        return count;
    }

    /// <summary>
    /// <see cref="PodInjection.Requested"/> read from the pod as sent, for a pod too large to be read
    /// into the rewriter's nodes: the same annotation, parsed by the same rule.
    /// </summary>
    private static bool? RequestedOf(JsonElement pod) =>
        pod.TryGetProperty("metadata", out JsonElement metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty("annotations", out JsonElement annotations) && annotations.ValueKind == JsonValueKind.Object
        && annotations.TryGetProperty(PodInjection.InjectAnnotationKey, out JsonElement value) && value.ValueKind == JsonValueKind.String
        && StepFields.TryParseBoolean(value.GetString()!, out bool inject)
            ? inject
            : null;

    private static AdmissionDecision Refuse(string message, int code) =>
        new(AdmissionOutcome.Refused, Allowed: false, Message: message) { Code = code };
}
