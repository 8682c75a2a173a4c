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
    public static AdmissionDecision Decide(AdmissionRequest request, OptIn optIn, RewriteSettings settings)
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

        bool? requested = PodInjection.Requested(pod);
        if (requested == false || (optIn == OptIn.Annotation && requested != true))
        {
            return new AdmissionDecision(AdmissionOutcome.NotRequested, Allowed: true);
        }
        if (PodInjection.IsWired(pod))
        {
            return new AdmissionDecision(AdmissionOutcome.AlreadyWired, Allowed: true);
        }

        var errors = new List<ManifestError>();
        var warnings = new List<ManifestError>();
        ManifestRewriter.Rewrite(set, settings, errors, warnings);
        if (errors.Count > 0)
        {
            // The lines `emissary rewrite` prints for this pod, so kubectl shows the same text.
            return Refuse(string.Join('\n', errors.Select(e => e.ToString())), code: 400);
        }
        string[]? warningLines = warnings.Count > 0 ? warnings.Select(w => "emissary: " + w).ToArray() : null;
        byte[] patch = JsonPatchDiff.Diff(podElement, set.Documents[0].Root);
        return patch.Length <= 2 // "[]"
            ? new AdmissionDecision(AdmissionOutcome.Unchanged, Allowed: true, Warnings: warningLines)
            : new AdmissionDecision(AdmissionOutcome.Patched, Allowed: true, Patch: patch, Warnings: warningLines);
    }

    private static AdmissionDecision Refuse(string message, int code) =>
        new(AdmissionOutcome.Refused, Allowed: false, Message: message) { Code = code };
}
