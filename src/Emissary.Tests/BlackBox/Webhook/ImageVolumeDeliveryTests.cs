using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using Emissary.Tests.Unit.Webhook;

namespace Emissary.Tests.BlackBox.Webhook;

/// <summary>
/// Image-volume delivery (issue #25) through the published binaries: `emissary rewrite
/// --delivery image-volume` (and EMISSARY_DELIVERY) writes the Emissary image as the emissary-bin
/// image volume with no init container, rewriting its output changes nothing, a bad mode is 125
/// with one line; `emissary webhook --delivery image-volume` patches a pod into exactly that pod,
/// honours the pod's emissary.dev/delivery annotation, and lets a pod wired either way through.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ImageVolumeDeliveryTests : BlackBoxTest, IDisposable
{
    private const string Image = "registry.local/emissary:volume-test";
    private readonly TestCertificates _certificates = new();
    private readonly string _dir;

    public ImageVolumeDeliveryTests() => _dir = TempDir("delivery");

    /// <summary>`emissary rewrite ARGS` with <paramref name="pod"/> on stdin.</summary>
    private ProcessResult Rewrite(string pod, string[] args, Dictionary<string, string>? env = null)
    {
        string file = Path.Combine(_dir, $"pod-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, pod);
        return Start("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", file, EmissaryPath, "rewrite", "--image", Image, .. args], env).WaitForExit();
    }

    private static JsonNode BinaryVolume(JsonNode pod) =>
        pod["spec"]!["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == "emissary-bin")!;

    [BlackBoxFact]
    public void Rewrite_mounts_the_image_instead_of_the_init_container_and_a_second_rewrite_changes_nothing()
    {
        ProcessResult once = Rewrite(WebhookFixtures.FiveContainerPod, ["--delivery", "image-volume", "--image-pull-policy", "Always"]);

        once.ExitCode.Should().Be(0, "{0}", once);
        once.Stderr.Should().BeEmpty();
        JsonNode pod = JsonNode.Parse(once.Stdout)!;
        pod["spec"]!["initContainers"].Should().BeNull("no init container");
        BinaryVolume(pod).ToJsonString().Should().Be("{\"name\":\"emissary-bin\",\"image\":{\"reference\":\"" + Image + "\",\"pullPolicy\":\"Always\"}}");
        pod["spec"]!["volumes"]!.AsArray().Should().Contain(v => v!["name"]!.GetValue<string>() == "emissary-control" && v["emptyDir"] != null, "the control directory stays a writable emptyDir");
        foreach (JsonNode? container in pod["spec"]!["containers"]!.AsArray())
        {
            container!["command"]![0]!.GetValue<string>().Should().Be("/var/run/emissary-bin/emissary", "the image's /emissary, mounted at /var/run/emissary-bin");
            container["volumeMounts"]!.AsArray().Should().ContainSingle(m => m!["name"]!.GetValue<string>() == "emissary-bin"
                && m["mountPath"]!.GetValue<string>() == "/var/run/emissary-bin" && m["readOnly"]!.GetValue<bool>());
        }

        ProcessResult twice = Rewrite(once.Stdout, []);
        twice.ExitCode.Should().Be(0, "{0}", twice);
        twice.Stdout.Should().Be(once.Stdout, "a pod wired by image volume keeps its mode and pull policy without the options");
        ProcessResult back = Rewrite(once.Stdout, ["--delivery", "init"]);
        JsonNode.Parse(back.Stdout)!["spec"]!["initContainers"]![0]!["name"]!.GetValue<string>().Should().Be("emissary-init", "asked for, the init container comes back");
    }

    [BlackBoxFact]
    public void The_environment_variable_sets_the_mode_and_a_bad_mode_is_125_with_one_line()
    {
        ProcessResult fromEnv = Rewrite(WebhookFixtures.FiveContainerPod, [], new() { ["EMISSARY_DELIVERY"] = "image-volume" });
        fromEnv.ExitCode.Should().Be(0, "{0}", fromEnv);
        BinaryVolume(JsonNode.Parse(fromEnv.Stdout)!)["image"]!["pullPolicy"]!.GetValue<string>().Should().Be("IfNotPresent");

        ProcessResult bad = Rewrite(WebhookFixtures.FiveContainerPod, ["--delivery", "oci"]);
        bad.ExitCode.Should().Be(125, "{0}", bad);
        AssertOneEmissaryErrorLine(bad);
        bad.Stderr.Should().Contain("--delivery: 'oci' is not one of init, image-volume");
        bad.Stdout.Should().BeEmpty();

        ProcessResult badAnnotation = Rewrite(WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/delivery", "oci"), []);
        badAnnotation.ExitCode.Should().Be(1, "{0}", badAnnotation);
        badAnnotation.Stderr.Should().Contain("unknown delivery \"oci\" (use init or image-volume)");
    }

    [BlackBoxFact]
    public void The_webhook_patches_in_the_image_volume_by_flag_or_annotation_and_leaves_a_pod_wired_either_way_alone()
    {
        string cert = Path.Combine(_dir, "tls.crt");
        string key = Path.Combine(_dir, "tls.key");
        _certificates.WriteServing(cert, key, "delivery");
        int port = WebhookClient.FreePort();
        RunningProcess server = StartEmissary(["webhook", "--tls-cert", cert, "--tls-key", key, "--listen", $"127.0.0.1:{port}", "--image", Image, "--delivery", "image-volume"]);
        using (var client = new WebhookClient(port, _certificates))
        {
            client.WaitUntilReady(server);

            JsonNode response = client.Review(WebhookFixtures.Review(WebhookFixtures.FiveContainerPod));
            JsonNode? patched = JsonPatchApplier.Apply(JsonNode.Parse(WebhookFixtures.FiveContainerPod), JsonNode.Parse(Convert.FromBase64String(response["patch"]!.GetValue<string>()))!.AsArray());
            ProcessResult rewrite = Rewrite(WebhookFixtures.FiveContainerPod, ["--delivery", "image-volume"]);
            JsonNode.DeepEquals(patched, JsonNode.Parse(rewrite.Stdout)).Should().BeTrue("the patched pod is rewrite's pod\npatched: {0}", patched?.ToJsonString());
            patched!["spec"]!["initContainers"].Should().BeNull();

            // The annotation wins over the server's flag, as in rewrite.
            string initPod = WebhookFixtures.Annotated(WebhookFixtures.FiveContainerPod, "emissary.dev/delivery", "init");
            JsonNode initResponse = client.Review(WebhookFixtures.Review(initPod));
            JsonNode? initPatched = JsonPatchApplier.Apply(JsonNode.Parse(initPod), JsonNode.Parse(Convert.FromBase64String(initResponse["patch"]!.GetValue<string>()))!.AsArray());
            initPatched!["spec"]!["initContainers"]![0]!["name"]!.GetValue<string>().Should().Be("emissary-init");

            foreach (string wired in new[] { rewrite.Stdout, Rewrite(WebhookFixtures.FiveContainerPod, []).Stdout })
            {
                JsonNode again = client.Review(WebhookFixtures.Review(wired));
                again["allowed"]!.GetValue<bool>().Should().BeTrue();
                again["patch"].Should().BeNull("a pod already wired, by image volume or by init container, is left alone");
            }
        }
        server.Signal(Libc.SIGTERM);
        ProcessResult stopped = server.WaitForExit();
        stopped.ExitCode.Should().Be(0, "{0}", stopped);
        AssertNoStackTrace(stopped);
    }

    void IDisposable.Dispose()
    {
        _certificates.Dispose();
        Dispose();
    }
}
