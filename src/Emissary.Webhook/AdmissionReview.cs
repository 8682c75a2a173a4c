using System.Text.Json;
using System.Text.Json.Serialization;

namespace Emissary.Webhook;

/// <summary>
/// The parts of an <c>admission.k8s.io/v1</c> AdmissionReview the webhook reads and writes
/// (Kubernetes' "Dynamic Admission Control" documentation): the API server posts one with a
/// <c>request</c>, the webhook answers with the same apiVersion and kind, and a <c>response</c>
/// carrying the request's uid.
/// </summary>
internal sealed class AdmissionReview
{
    public const string Version = "admission.k8s.io/v1";
    public const string ReviewKind = "AdmissionReview";

    public string? ApiVersion { get; set; }
    public string? Kind { get; set; }
    public AdmissionRequest? Request { get; set; }
    public AdmissionResponse? Response { get; set; }
}

internal sealed class AdmissionRequest
{
    public string? Uid { get; set; }
    public GroupVersionKind? Kind { get; set; }
    public GroupVersionResource? Resource { get; set; }
    public string? SubResource { get; set; }
    public string? Name { get; set; }
    public string? Namespace { get; set; }
    public string? Operation { get; set; }
    public JsonElement? Object { get; set; }
    public bool? DryRun { get; set; }
}

internal sealed class GroupVersionKind
{
    public string? Group { get; set; }
    public string? Version { get; set; }
    public string? Kind { get; set; }
}

internal sealed class GroupVersionResource
{
    public string? Group { get; set; }
    public string? Version { get; set; }
    public string? Resource { get; set; }
}

internal sealed class AdmissionResponse
{
    public required string Uid { get; set; }
    public bool Allowed { get; set; }

    /// <summary>"JSONPatch" when <see cref="Patch"/> is set.</summary>
    public string? PatchType { get; set; }

    /// <summary>The JSON Patch's bytes (System.Text.Json writes a byte[] as base64, as the API expects).</summary>
    public byte[]? Patch { get; set; }

    public AdmissionStatus? Status { get; set; }
    public IReadOnlyList<string>? Warnings { get; set; }
}

/// <summary>The metav1.Status of a refusal: <c>kubectl apply</c> prints its message.</summary>
internal sealed class AdmissionStatus
{
    public int Code { get; set; }
    public string? Message { get; set; }
}

/// <summary>Source-generated (de)serialization: no reflection, so the NativeAOT build stays free of trim warnings.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 256)]
[JsonSerializable(typeof(AdmissionReview))]
internal sealed partial class AdmissionJson : JsonSerializerContext;
