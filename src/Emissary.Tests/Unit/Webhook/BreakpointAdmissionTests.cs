using System.Text;
using System.Text.Json.Nodes;
using Emissary.Tools.PodSpec;
using Emissary.Webhook;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>
/// The webhook honours <c>emissary.dev/breakpoint</c> as rewrite does (the same reader), and refuses
/// a bad one as it refuses any bad emissary.dev/ annotation: 400 with rewrite's error line.
/// </summary>
public sealed class BreakpointAdmissionTests
{
    private static readonly RewriteSettings Settings = new() { Image = "registry.local/emissary:test" };

    private static AdmissionDecision Decide(string pod) =>
        PodAdmission.Decide(
            Emissary.Webhook.AdmissionReview.Read(System.Text.Json.JsonDocument.Parse(WebhookFixtures.Review(pod)).RootElement)!.Request!,
            OptIn.Namespace, Settings);

    private static string[] CommandOf(JsonNode pod, string container) =>
        pod["spec"]!["containers"]!.AsArray().First(c => c!["name"]!.GetValue<string>() == container)!["command"]!.AsArray().Select(a => a!.GetValue<string>()).ToArray();

    [Fact]
    public void The_breakpoint_annotation_becomes_the_steps_breakpoint_flag_in_the_patch()
    {
        string pod = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/breakpoint", "migrate=on-failure+before,app=after");

        AdmissionDecision decision = Decide(pod);

        decision.Outcome.Should().Be(AdmissionOutcome.Patched);
        JsonNode patched = JsonPatchApplier.Apply(JsonNode.Parse(pod), JsonNode.Parse(Encoding.UTF8.GetString(decision.Patch!))!.AsArray())!;
        JsonNode.DeepEquals(patched, PodAdmissionTests.RewriteOutput(pod, Settings)).Should().BeTrue("the webhook gives rewrite's pod");
        string migrate = string.Join(' ', CommandOf(patched, "migrate"));
        migrate.Should().Contain("--breakpoint before,on-failure --");
        string.Join(' ', CommandOf(patched, "app")).Should().Contain("--breakpoint after --");
        string.Join(' ', CommandOf(patched, "warm")).Should().NotContain("--breakpoint");
    }

    [Fact]
    public void A_bad_breakpoint_annotation_refuses_the_pod_with_rewrites_line()
    {
        string pod = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/breakpoint", "migrate=on-fail");

        AdmissionDecision decision = Decide(pod);

        decision.Outcome.Should().Be(AdmissionOutcome.Refused);
        decision.Allowed.Should().BeFalse();
        decision.Code.Should().Be(400);
        decision.Message.Should().Contain("metadata.annotations[\"emissary.dev/breakpoint\"]").And.Contain("\"on-fail\" is not a list of breakpoints");
        decision.Message.Should().NotContain("\n", "one line");
    }
}
