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

    /// <summary>
    /// A review's body as one document over <paramref name="body"/> (not copied): what the endpoint
    /// and the fuzz target parse alike. Anything that is not UTF-8 JSON, or nests deeper than 256, is a
    /// <see cref="JsonException"/>.
    /// </summary>
    public static JsonDocument ParseBody(ReadOnlyMemory<byte> body)
    {
        // JsonDocument checks a string's UTF-8 only when it is read (an InvalidOperationException
        // then, past every handler of bad input): RFC 8259 text is UTF-8, so the whole body is checked once.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            throw new JsonException("the review is not UTF-8");
        }
        return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 256 });
    }

    /// <summary>
    /// The review's fields from a parsed review, by the rules the serializer follows (exact camelCase
    /// names, unknown members ignored, null as absent). request.object stays an element of
    /// <paramref name="review"/>'s document, not a copy: the pod is parsed once per review. Throws
    /// <see cref="JsonException"/> (with no line) when a field the webhook reads has the wrong type.
    /// </summary>
    public static AdmissionReview? Read(JsonElement review)
    {
        if (review.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        Expect(review, JsonValueKind.Object, "the review");
        return new AdmissionReview
        {
            ApiVersion = Text(review, "apiVersion"),
            Kind = Text(review, "kind"),
            Request = Member(review, "request", JsonValueKind.Object) is { } request
                ? new AdmissionRequest
                {
                    Uid = Text(request, "uid"),
                    Kind = Member(request, "kind", JsonValueKind.Object) is { } kind
                        ? new GroupVersionKind { Group = Text(kind, "group"), Version = Text(kind, "version"), Kind = Text(kind, "kind") }
                        : null,
                    Resource = Member(request, "resource", JsonValueKind.Object) is { } resource
                        ? new GroupVersionResource { Group = Text(resource, "group"), Version = Text(resource, "version"), Resource = Text(resource, "resource") }
                        : null,
                    SubResource = Text(request, "subResource"),
                    Name = Text(request, "name"),
                    Namespace = Text(request, "namespace"),
                    Operation = Text(request, "operation"),
                    Object = request.TryGetProperty("object", out JsonElement pod) && pod.ValueKind != JsonValueKind.Null ? pod : null,
                    DryRun = Member(request, "dryRun", JsonValueKind.True) is { } dryRun ? dryRun.GetBoolean() : null,
                }
                : null,
        };
    }

    /// <summary>The member, or null when absent or null; of the expected kind (true stands for either boolean) or a <see cref="JsonException"/>.</summary>
    private static JsonElement? Member(JsonElement parent, string name, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        Expect(value, kind, name);
        return value;
    }

    private static string? Text(JsonElement parent, string name) => Member(parent, name, JsonValueKind.String)?.GetString();

    private static void Expect(JsonElement value, JsonValueKind kind, string name)
    {
        bool expected = kind == JsonValueKind.True ? value.ValueKind is JsonValueKind.True or JsonValueKind.False : value.ValueKind == kind;
        if (!expected)
        {
            string what = kind switch
            {
                JsonValueKind.Object => "an object",
                JsonValueKind.String => "a string",
                _ => "true or false",
            };
            throw new JsonException($"{name} is not {what}");
        }
    }
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

/// <summary>Source-generated serialization of the answer: no reflection, so the NativeAOT build stays free of trim warnings.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 256)]
[JsonSerializable(typeof(AdmissionReview))]
internal sealed partial class AdmissionJson : JsonSerializerContext;
