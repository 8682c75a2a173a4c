using System.Text.Json;
using System.Text.Json.Nodes;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>What one review may cost (issue #22): the container count, the patch size, cancellation, the shared byte budget.</summary>
public sealed class ReviewLimitsTests
{
    private static readonly RewriteSettings Settings = new() { Image = "registry.local/emissary:test" };

    private static AdmissionRequest Request(string pod, string operation = "CREATE") =>
        AdmissionReview.Read(JsonDocument.Parse(WebhookFixtures.Review(pod, operation: operation)).RootElement)!.Request!;

    [Fact]
    public void Containers_are_counted_over_init_regular_and_ephemeral_lists()
    {
        JsonNode pod = JsonNode.Parse(WebhookFixtures.ChainPod(3))!;
        pod["spec"]!["initContainers"] = new JsonArray(new JsonObject { ["name"] = "i" });
        pod["spec"]!["ephemeralContainers"] = new JsonArray(new JsonObject { ["name"] = "e1" }, new JsonObject { ["name"] = "e2" });
        using JsonDocument document = JsonDocument.Parse(pod.ToJsonString());
        PodAdmission.ContainerCount(document.RootElement).Should().Be(6);

        using JsonDocument odd = JsonDocument.Parse("""{"spec": {"containers": {"not": "a list"}}}""");
        PodAdmission.ContainerCount(odd.RootElement).Should().Be(0, "anything but a list is the reader's error to report, with its path");
    }

    [Fact]
    public void A_pod_over_the_limit_is_refused_with_the_count_and_the_limit_unless_it_does_not_ask_to_be_wired()
    {
        string pod = WebhookFixtures.ChainPod(ReviewLimits.MaxContainers + 1);

        AdmissionDecision refused = PodAdmission.Decide(Request(pod), OptIn.Namespace, Settings);
        refused.Outcome.Should().Be(AdmissionOutcome.Refused);
        refused.Code.Should().Be(400);
        refused.Message.Should().Contain($"{ReviewLimits.MaxContainers + 1} containers").And.Contain($"at most {ReviewLimits.MaxContainers}");

        PodAdmission.Decide(Request(pod), OptIn.Annotation, Settings).Outcome.Should().Be(AdmissionOutcome.NotRequested);
        PodAdmission.Decide(Request(WebhookFixtures.Annotated(pod, "emissary.dev/inject", "false")), OptIn.Namespace, Settings).Outcome.Should().Be(AdmissionOutcome.NotRequested);
        PodAdmission.Decide(Request(WebhookFixtures.Annotated(pod, "emissary.dev/inject", " True ")), OptIn.Annotation, Settings).Outcome.Should().Be(AdmissionOutcome.Refused,
            "the annotation is read by the same rule as for a pod under the limit");
    }

    [Fact]
    public void A_patch_over_what_etcd_stores_is_refused_with_the_reason_instead_of_sent()
    {
        // 48 containers of 40 KB scripts: the rewritten commands, which the patch carries whole, come to ~1.9 MB.
        string pod = WebhookFixtures.ChainPod(48, padding: 40 * 1024);
        AdmissionDecision decision = PodAdmission.Decide(Request(pod), OptIn.Namespace, Settings);

        decision.Outcome.Should().Be(AdmissionOutcome.Refused);
        decision.Patch.Should().BeNull();
        decision.Message.Should().Contain("JSON Patch of more than 1536 KiB").And.Contain("1.5 MiB");

        PodAdmission.Decide(Request(WebhookFixtures.ChainPod(48, padding: 1024)), OptIn.Namespace, Settings).Outcome.Should().Be(AdmissionOutcome.Patched, "a smaller pod of as many containers is wired");
    }

    [Fact]
    public void The_diff_stops_at_its_size_limit()
    {
        using JsonDocument from = JsonDocument.Parse("""{"a": 1}""");
        YamlNode to = JsonManifests.Read($$"""{"a": 2, "b": "{{new string('x', 1000)}}"}""", ManifestSet.StandardInput).Single();

        JsonPatchDiff.Diff(from.RootElement, to, maxBytes: 500).Should().BeNull();
        JsonPatchDiff.Diff(from.RootElement, to, maxBytes: 2000).Should().NotBeNull();
    }

    [Fact]
    public void A_cancelled_review_stops_with_OperationCanceledException()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        FluentActions.Invoking(() => PodAdmission.Decide(Request(WebhookFixtures.FiveContainerPod), OptIn.Namespace, Settings, cancelled.Token))
            .Should().Throw<OperationCanceledException>();
        using JsonDocument from = JsonDocument.Parse("""{"a": [1, 2]}""");
        YamlNode to = JsonManifests.Read("""{"a": [1, 3]}""", ManifestSet.StandardInput).Single();
        FluentActions.Invoking(() => JsonPatchDiff.Diff(from.RootElement, to, cancellation: cancelled.Token)).Should().Throw<OperationCanceledException>();
        // Decisions that need no rewrite are not cut short: they cost nothing.
        PodAdmission.Decide(Request(WebhookFixtures.FiveContainerPod, operation: "UPDATE"), OptIn.Namespace, Settings, cancelled.Token).Outcome.Should().Be(AdmissionOutcome.NotACreate);
    }

    [Fact]
    public void The_byte_budget_never_goes_past_its_capacity_even_when_taken_from_many_threads()
    {
        var budget = new ByteBudget(1000);
        budget.TryTake(600).Should().BeTrue();
        budget.TryTake(401).Should().BeFalse("nothing is taken when it does not fit");
        budget.Held.Should().Be(600);
        budget.TryTake(400).Should().BeTrue();
        budget.Give(1000);
        budget.Held.Should().Be(0);

        long over = 0;
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                if (budget.TryTake(100))
                {
                    if (budget.Held > budget.Capacity)
                    {
                        Interlocked.Increment(ref over);
                    }
                    budget.Give(100);
                }
            }
        });
        over.Should().Be(0);
        budget.Held.Should().Be(0);
    }
}
