using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>The webhook's decisions without HTTP: opt-in, opt-out, already wired, refused, and a patch that gives rewrite's pod.</summary>
public sealed class PodAdmissionTests
{
    private static readonly RewriteSettings Settings = new() { Image = "registry.local/emissary:test" };

    /// <summary>The request as the server reads it (the document is left to the collector).</summary>
    private static AdmissionRequest Request(string review) =>
        AdmissionReview.Read(JsonDocument.Parse(review).RootElement)!.Request!;

    private static AdmissionDecision Decide(string pod, OptIn optIn = OptIn.Namespace, string operation = "CREATE") =>
        PodAdmission.Decide(Request(WebhookFixtures.Review(pod, operation: operation)), optIn, Settings);

    /// <summary>What `emissary rewrite` makes of the pod (the same JSON in, JSON out).</summary>
    internal static JsonNode RewriteOutput(string pod, RewriteSettings settings)
    {
        RewriteResult result = ManifestRewriter.Rewrite([(ManifestSet.StandardInput, pod)], settings);
        result.Errors.Should().BeEmpty();
        return JsonNode.Parse(result.Output)!;
    }

    private static JsonNode? Patched(string pod, AdmissionDecision decision) =>
        JsonPatchApplier.Apply(JsonNode.Parse(pod), JsonNode.Parse(Encoding.UTF8.GetString(decision.Patch!))!.AsArray());

    [Fact]
    public void A_pod_in_an_opted_in_namespace_gets_the_patch_that_gives_rewrites_pod()
    {
        AdmissionDecision decision = Decide(WebhookFixtures.FiveContainerPod);

        decision.Outcome.Should().Be(AdmissionOutcome.Patched);
        decision.Allowed.Should().BeTrue();
        JsonNode expected = RewriteOutput(WebhookFixtures.FiveContainerPod, Settings);
        JsonNode.DeepEquals(Patched(WebhookFixtures.FiveContainerPod, decision), expected).Should().BeTrue();
        expected["spec"]!["initContainers"]![0]!["name"]!.GetValue<string>().Should().Be("emissary-init", "the rewrite did wire the pod");
    }

    [Fact]
    public void The_patch_touches_only_what_rewrite_changes()
    {
        AdmissionDecision decision = Decide(WebhookFixtures.FiveContainerPod);
        string[] paths = JsonNode.Parse(Encoding.UTF8.GetString(decision.Patch!))!.AsArray().Select(o => o!["path"]!.GetValue<string>()).ToArray();
        paths.Should().OnlyContain(p => p.StartsWith("/spec/", StringComparison.Ordinal), "metadata, status and ownerReferences stay as the API server sent them");
        paths.Should().Contain("/spec/initContainers");
    }

    [Fact]
    public void Outside_an_opted_in_namespace_only_a_pod_annotated_true_is_wired()
    {
        Decide(WebhookFixtures.FiveContainerPod, OptIn.Annotation).Outcome.Should().Be(AdmissionOutcome.NotRequested);
        Decide(WebhookFixtures.FiveContainerPod, OptIn.Annotation).Patch.Should().BeNull();
        string annotated = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/inject", "true");
        AdmissionDecision decision = Decide(annotated, OptIn.Annotation);
        decision.Outcome.Should().Be(AdmissionOutcome.Patched);
        JsonNode.DeepEquals(Patched(annotated, decision), RewriteOutput(annotated, Settings)).Should().BeTrue();
    }

    [Fact]
    public void A_pod_annotated_false_is_left_alone_even_in_an_opted_in_namespace_and_by_rewrite()
    {
        string optedOut = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/inject", "false");
        AdmissionDecision decision = Decide(optedOut);
        decision.Should().Be(new AdmissionDecision(AdmissionOutcome.NotRequested, Allowed: true));
        JsonNode.DeepEquals(RewriteOutput(optedOut, Settings), JsonNode.Parse(optedOut)).Should().BeTrue("rewrite honours the same annotation");
    }

    [Fact]
    public void A_pod_already_wired_is_left_alone_with_no_patch()
    {
        string wired = RewriteOutput(WebhookFixtures.FiveContainerPod, new RewriteSettings { Image = "other.registry/emissary:1" }).ToJsonString();
        AdmissionDecision decision = Decide(wired);
        decision.Outcome.Should().Be(AdmissionOutcome.AlreadyWired);
        decision.Allowed.Should().BeTrue();
        decision.Patch.Should().BeNull("not even the init container's image is changed");
    }

    [Fact]
    public void A_pod_wired_by_image_volume_is_left_alone_too()
    {
        string wired = RewriteOutput(WebhookFixtures.FiveContainerPod, Settings with { Delivery = BinaryDelivery.ImageVolume }).ToJsonString();
        wired.Should().NotContain("emissary-init");

        AdmissionDecision decision = Decide(wired);

        decision.Outcome.Should().Be(AdmissionOutcome.AlreadyWired);
        decision.Patch.Should().BeNull();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Image_volume_delivery_by_annotation_or_option_patches_in_the_image_volume_and_no_init_container(bool byAnnotation)
    {
        string pod = byAnnotation ? WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/delivery", "image-volume") : WebhookFixtures.FiveContainerPod;
        RewriteSettings settings = byAnnotation ? Settings : Settings with { Delivery = BinaryDelivery.ImageVolume, ImagePullPolicy = "Always" };

        AdmissionDecision decision = PodAdmission.Decide(Request(WebhookFixtures.Review(pod)), OptIn.Namespace, settings);

        decision.Outcome.Should().Be(AdmissionOutcome.Patched);
        JsonNode patched = Patched(pod, decision)!;
        JsonNode.DeepEquals(patched, RewriteOutput(pod, settings)).Should().BeTrue();
        patched["spec"]!["initContainers"].Should().BeNull("no init container, and no empty list");
        JsonNode binary = patched["spec"]!["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "emissary-bin")!;
        binary.ToJsonString().Should().Be($"{{\"name\":\"emissary-bin\",\"image\":{{\"reference\":\"registry.local/emissary:test\",\"pullPolicy\":\"{(byAnnotation ? "IfNotPresent" : "Always")}\"}}}}");
        foreach (JsonNode? container in patched["spec"]!["containers"]!.AsArray())
        {
            container!["volumeMounts"]!.AsArray().Should().ContainSingle(m => m!["name"]!.GetValue<string>() == "emissary-bin"
                && m["mountPath"]!.GetValue<string>() == "/var/run/emissary-bin" && m["readOnly"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void A_pod_with_an_invalid_graph_is_refused_with_the_lines_rewrite_prints()
    {
        AdmissionDecision decision = Decide(WebhookFixtures.InvalidGraphPod);
        decision.Outcome.Should().Be(AdmissionOutcome.Refused);
        decision.Allowed.Should().BeFalse();
        decision.Code.Should().Be(400);
        RewriteResult rewrite = ManifestRewriter.Rewrite([(ManifestSet.StandardInput, WebhookFixtures.InvalidGraphPod)], Settings);
        decision.Message.Should().Be(string.Join('\n', rewrite.Errors));
        decision.Message.Should().Contain("metadata.annotations").And.Contain("did you mean \"migrate\"");
    }

    [Fact]
    public void An_invalid_inject_annotation_is_refused_like_any_invalid_setting()
    {
        string pod = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/inject", "yes");
        AdmissionDecision decision = Decide(pod);
        decision.Outcome.Should().Be(AdmissionOutcome.Refused);
        decision.Message.Should().Contain("\"yes\" is not true or false");
    }

    [Fact]
    public void Anything_but_the_creation_of_a_pod_is_allowed_untouched()
    {
        Decide(WebhookFixtures.FiveContainerPod, operation: "UPDATE").Should().Be(new AdmissionDecision(AdmissionOutcome.NotACreate, Allowed: true));
        string deployment = WebhookFixtures.Review("""{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}""", kind: "Deployment", resource: "deployments");
        PodAdmission.Decide(Request(deployment), OptIn.Namespace, Settings).Should().Be(new AdmissionDecision(AdmissionOutcome.NotAPod, Allowed: true));
        string ephemeral = WebhookFixtures.Review(WebhookFixtures.FiveContainerPod, subResource: "ephemeralcontainers");
        PodAdmission.Decide(Request(ephemeral), OptIn.Namespace, Settings).Outcome.Should().Be(AdmissionOutcome.NotAPod);
    }

    [Fact]
    public void A_review_whose_object_is_not_a_pod_is_refused_not_thrown()
    {
        string review = WebhookFixtures.Review("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        AdmissionDecision decision = PodAdmission.Decide(Request(review), OptIn.Namespace, Settings);
        decision.Outcome.Should().Be(AdmissionOutcome.Refused);
        decision.Message.Should().Be("request.object is not a pod");
    }

    [Fact]
    public void The_review_is_read_by_the_serializers_rules_and_a_field_of_the_wrong_type_is_malformed()
    {
        AdmissionRequest request = Request(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod));
        AdmissionRequest expected = JsonSerializer.Deserialize(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod), AdmissionJson.Default.AdmissionReview)!.Request!;
        (request.Uid, request.Kind?.Kind, request.Resource?.Resource, request.SubResource, request.Name, request.Namespace, request.Operation, request.DryRun)
            .Should().Be((expected.Uid, expected.Kind?.Kind, expected.Resource?.Resource, expected.SubResource, expected.Name, expected.Namespace, expected.Operation, expected.DryRun));
        JsonElement.DeepEquals(request.Object!.Value, expected.Object!.Value).Should().BeTrue();

        AdmissionReview Read(string json) => AdmissionReview.Read(JsonDocument.Parse(json).RootElement)!;
        Read("""{"apiVersion":"admission.k8s.io/v1","Kind":"x","request":{"uid":"u","object":null,"dryRun":true,"extra":[1]}}""")
            .Should().BeEquivalentTo(new { ApiVersion = "admission.k8s.io/v1", Kind = (string?)null, Request = new { Uid = "u", Object = (JsonElement?)null, DryRun = (bool?)true } },
                "names are case-sensitive, unknown members ignored, null is absent");
        AdmissionReview.Read(JsonDocument.Parse("null").RootElement).Should().BeNull();
        foreach (string malformed in new[] { """{"request":{"uid":["x"]}}""", """{"request":"r"}""", """{"request":{"dryRun":"yes"}}""", """{"request":{"kind":{"kind":1}}}""", "[]" })
        {
            FluentActions.Invoking(() => Read(malformed)).Should().Throw<JsonException>(malformed);
        }
    }
}
