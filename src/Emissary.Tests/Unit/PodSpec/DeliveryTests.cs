using Emissary.Cli;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// How the binary reaches the containers: the emissary-init container and its emptyDir (init), or
/// the Emissary image as an image volume (image-volume); the option, the annotation, the pull
/// policy, switching modes, and rewriting a rewritten pod of either mode.
/// </summary>
public sealed class DeliveryTests
{
    private static readonly RewriteSettings ImageVolume = new() { Image = "registry.local/emissary:dev", Delivery = BinaryDelivery.ImageVolume };

    private const string TwoSteps = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          containers:
          - name: fetch
            image: alpine
            command: [fetch]
          - name: build
            image: alpine
            command: [make]
            waitForTermination: [fetch]
        """;

    [Fact]
    public void With_image_volume_the_image_is_the_binarys_volume_mounted_read_only_in_every_wrapped_container_and_there_is_no_init_container()
    {
        Rewrite(TwoSteps, ImageVolume).Should().Be(Text("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
              - name: fetch
                image: alpine
                command:
                - /var/run/emissary-bin/emissary
                - run
                - --name
                - fetch
                - --termination-budget
                - "4096"
                - --restart-policy
                - Always
                - --
                - fetch
                volumeMounts:
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
                  readOnly: true
                - name: emissary-control
                  mountPath: /var/run/emissary
                - name: emissary-step-fetch
                  mountPath: /var/run/emissary/fetch
              - name: build
                image: alpine
                command:
                - /var/run/emissary-bin/emissary
                - run
                - --name
                - build
                - --after
                - fetch
                - --termination-budget
                - "4096"
                - --restart-policy
                - Always
                - --
                - make
                volumeMounts:
                - name: emissary-bin
                  mountPath: /var/run/emissary-bin
                  readOnly: true
                - name: emissary-control
                  mountPath: /var/run/emissary
                - name: emissary-step-build
                  mountPath: /var/run/emissary/build
                - name: emissary-step-fetch
                  mountPath: /var/run/emissary/fetch
                  readOnly: true
              volumes:
              - name: emissary-bin
                image: {reference: 'registry.local/emissary:dev', pullPolicy: IfNotPresent}
              - name: emissary-control
                emptyDir: {medium: Memory}
              - name: emissary-step-fetch
                emptyDir: {medium: Memory, sizeLimit: "64Mi"}
              - name: emissary-step-build
                emptyDir: {medium: Memory, sizeLimit: "64Mi"}
            """));
    }

    [Fact]
    public void The_default_is_the_init_container_and_its_emptyDir()
    {
        string rewritten = Rewrite(TwoSteps, new RewriteSettings { Image = "registry.local/emissary:dev" });

        rewritten.Should().Contain("  initContainers:\n  - name: emissary-init\n    image: registry.local/emissary:dev\n");
        rewritten.Should().Contain("  - name: emissary-bin\n    emptyDir: {}\n");
        rewritten.Should().NotContain("reference:").And.NotContain("imagePullPolicy");
    }

    [Fact]
    public void The_users_init_containers_stay_and_native_sidecars_still_come_after_them()
    {
        string pod = Pod("""
                - {name: log, image: x, command: [tail], sidecar: true}
                - {name: a, image: x, command: [a]}
            """) + "  initContainers:\n  - {name: setup, image: busybox, command: [sh]}\n";

        string rewritten = Rewrite(pod, ImageVolume with { NativeSidecars = true });

        ManifestObject manifest = ManifestSet.Read(rewritten, "-").Documents.Single().Objects.Single();
        var inits = (YamlDotNet.RepresentationModel.YamlSequenceNode)manifest.At("spec.initContainers")!;
        inits.Children.Select(c => ((YamlDotNet.RepresentationModel.YamlMappingNode)c).GetText("name")).Should().Equal("setup", "log");
        Rewrite(rewritten, new RewriteSettings { Image = ImageVolume.Image }).Should().Be(rewritten);
    }

    [Theory]
    [InlineData("image-volume", null, "image")]
    [InlineData("image-volume", "init", "image")]
    [InlineData("Image-Volume", "init", "image")]
    [InlineData("init", "image-volume", "emptyDir")]
    public void The_pods_annotation_wins_over_the_option(string annotation, string? option, string binarySource)
    {
        string pod = Pod("    - {name: a, image: x, command: [a]}", $"    emissary.dev/delivery: {annotation}");

        string rewritten = Rewrite(pod, new RewriteSettings { Delivery = option is null ? null : BinaryDeliveries.Parse(option) });

        rewritten.Should().Contain($"  - name: emissary-bin\n    {binarySource}:");
        rewritten.Contains("emissary-init", StringComparison.Ordinal).Should().Be(binarySource == "emptyDir");
        rewritten.Should().Contain("emissary.dev/delivery", "the annotation is kept, like every emissary.dev/ annotation");
    }

    [Fact]
    public void An_unknown_delivery_annotation_is_an_error_naming_the_modes()
    {
        Errors(Pod("    - {name: a, image: x, command: [a]}", "    emissary.dev/delivery: volume")).Should().Equal(
            "pod/p: metadata.annotations[\"emissary.dev/delivery\"]: unknown delivery \"volume\" (use init or image-volume)");
    }

    [Theory]
    [InlineData("Always")]
    [InlineData("Never")]
    public void The_pull_policy_goes_to_the_image_volume_or_the_init_container(string policy)
    {
        Rewrite(TwoSteps, ImageVolume with { ImagePullPolicy = policy })
            .Should().Contain($"  - name: emissary-bin\n    image: {{reference: 'registry.local/emissary:dev', pullPolicy: {policy}}}\n");
        Rewrite(TwoSteps, new RewriteSettings { Image = "e:1", ImagePullPolicy = policy })
            .Should().Contain($"  - name: emissary-init\n    image: e:1\n    imagePullPolicy: {policy}\n");
    }

    [Fact]
    public void Rewriting_a_rewritten_image_volume_pod_changes_nothing_even_without_the_option()
    {
        string once = Rewrite(TwoSteps, ImageVolume with { ImagePullPolicy = "Always" });

        Rewrite(once, ImageVolume).Should().Be(once, "the pull policy of the earlier rewrite is kept when none is given");
        Rewrite(once, new RewriteSettings { Image = ImageVolume.Image }).Should().Be(once, "a pod wired by image volume stays so");
        string json = Rewrite("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"command\":[\"a\"]}]}}", ImageVolume);
        json.Should().Contain("\"name\": \"emissary-bin\",\n        \"image\": {\n          \"reference\": \"registry.local/emissary:dev\",\n          \"pullPolicy\": \"IfNotPresent\"\n        }").And.NotContain("initContainers");
        Rewrite(json, new RewriteSettings { Image = ImageVolume.Image }).Should().Be(json);
    }

    [Fact]
    public void A_pod_switches_modes_when_asked_and_comes_back_as_it_was()
    {
        string init = Rewrite(TwoSteps, new RewriteSettings { Image = ImageVolume.Image });
        string volume = Rewrite(TwoSteps, ImageVolume);

        Rewrite(init, ImageVolume).Should().Be(volume, "the init container goes, and the emptyDir becomes the image");
        Rewrite(volume, ImageVolume with { Delivery = BinaryDelivery.Init }).Should().Be(init, "the image becomes the emptyDir again, and the init container comes back");
    }

    [Fact]
    public void A_volume_of_the_binarys_name_is_made_the_image_volume_whatever_its_source_was()
    {
        string pod = TwoSteps + "\n  volumes:\n  - name: emissary-bin\n    hostPath: {path: /opt/emissary}\n";

        Rewrite(pod, ImageVolume).Should().Contain("  - name: emissary-bin\n    image: {reference: 'registry.local/emissary:dev', pullPolicy: IfNotPresent}\n")
            .And.NotContain("hostPath");
    }

    [Fact]
    public void Emissary_local_with_podman_keeps_the_init_container_whatever_the_pod_says()
    {
        string pod = Pod("    - {name: a, image: x, command: [a]}", "    emissary.dev/delivery: image-volume");

        string rewritten = Rewrite(pod, new RewriteSettings { Host = StepHost.Podman });

        rewritten.Should().Contain("- name: emissary-init").And.Contain("  - name: emissary-bin\n    emptyDir: {}\n");
    }

    [Fact]
    public void A_pod_is_wired_in_either_mode_and_says_which()
    {
        ManifestObject Object(string text) => ManifestSet.Read(text, "-").Documents.Single().Objects.Single();

        PodInjection.WiredDelivery(Object(TwoSteps)).Should().BeNull();
        PodInjection.IsWired(Object(TwoSteps)).Should().BeFalse();
        PodInjection.WiredDelivery(Object(Rewrite(TwoSteps))).Should().Be(BinaryDelivery.Init);
        PodInjection.WiredDelivery(Object(Rewrite(TwoSteps, ImageVolume))).Should().Be(BinaryDelivery.ImageVolume);
        PodInjection.IsWired(Object(Rewrite(TwoSteps, ImageVolume))).Should().BeTrue();
        PodInjection.IsWired(Object(TwoSteps + "\n  volumes:\n  - {name: emissary-bin, emptyDir: {}}\n")).Should().BeFalse("an emptyDir of that name alone is not a wiring");
    }

    private static RewriteOptions Bind(string[] args, Dictionary<string, string>? environment = null)
    {
        ParsedCommand parsed = CliParser.Parse(RewriteCli.Build(), OptionValues.Global, args, payload: null);
        return RewriteCli.Bind(new OptionValues(parsed, name => environment?.GetValueOrDefault(name)));
    }

    [Fact]
    public void The_options_take_the_modes_and_policies_in_any_case_or_from_the_environment()
    {
        Bind([]).Delivery.Should().BeNull();
        Bind([]).ImagePullPolicy.Should().BeNull();
        Bind(["--delivery", "image-volume"]).Delivery.Should().Be(BinaryDelivery.ImageVolume);
        Bind(["--delivery=INIT"]).Delivery.Should().Be(BinaryDelivery.Init);
        Bind(["--image-pull-policy", "always"]).ImagePullPolicy.Should().Be("Always", "written as the API spells it");
        Bind([], new() { ["EMISSARY_DELIVERY"] = "image-volume", ["EMISSARY_IMAGE_PULL_POLICY"] = "Never" })
            .Should().Match<RewriteOptions>(o => o.Delivery == BinaryDelivery.ImageVolume && o.ImagePullPolicy == "Never");
    }

    [Theory]
    [InlineData("--delivery", "volume", "--delivery: 'volume' is not one of init, image-volume")]
    [InlineData("--image-pull-policy", "Sometimes", "--image-pull-policy: 'Sometimes' is not one of Always, IfNotPresent, Never")]
    public void A_bad_value_is_a_usage_error_naming_the_choices(string option, string value, string message)
    {
        FluentActions.Invoking(() => Bind([option, value])).Should().Throw<UsageException>().WithMessage(message);
    }
}
