using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.Unit.Webhook;

/// <summary>
/// `emissary rewrite` as a KRM function, against the functions specification's ResourceList
/// (config.kubernetes.io/v1): items rewritten in place, problems as results with severity,
/// message, resourceRef, field.path and file, functionConfig honoured.
/// </summary>
public sealed class ResourceListRewriterTests
{
    // As kustomize hands a function its resources: each item annotated with where it came from.
    private const string ResourceList = """
        apiVersion: config.kubernetes.io/v1
        kind: ResourceList
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: settings
            annotations:
              config.kubernetes.io/index: '0'
              internal.config.kubernetes.io/path: 'settings.yaml'
          data:
            key: value
        - apiVersion: batch/v1
          kind: Job
          metadata:
            name: pipeline
            namespace: ci
            annotations:
              config.kubernetes.io/index: '0'
              internal.config.kubernetes.io/path: 'job.yaml'
          spec:
            template:
              spec:
                restartPolicy: Never
                containers:
                - name: first
                  image: busybox
                  command: [echo, first]
                - name: second
                  image: busybox
                  waitForTermination: [first]
                  command: [echo, second]
        functionConfig:
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: emissary
          data:
            image: registry.local/emissary:krm
        """;

    private static YamlMappingNode Root(string text) => (YamlMappingNode)ManifestSet.Read(text, "-").Documents[0].Root;

    private static YamlMappingNode Item(YamlMappingNode list, int index) => (YamlMappingNode)((YamlSequenceNode)list.Get("items")!).Children[index];

    [Fact]
    public void Items_are_rewritten_in_place_with_their_orchestrator_annotations_and_the_function_config_is_applied()
    {
        ManifestSet list = ResourceListRewriter.Read(ResourceList, "-")!;
        ResourceListResult result = ResourceListRewriter.Rewrite(list, new RewriteSettings());

        result.Errors.Should().BeEmpty();
        YamlMappingNode output = Root(result.Output);
        output.GetText("kind").Should().Be("ResourceList");
        output.Get("results").Should().BeNull("there is nothing to report");
        YamlMappingNode job = Item(output, 1);
        string expected = ManifestRewriter.Rewrite([("-", JobOnly())], new RewriteSettings { Image = "registry.local/emissary:krm" }).Output;
        YamlManifests.Write([job]).Should().Be(expected, "an item comes out as rewrite writes the same object alone");
        ((YamlMappingNode)((YamlMappingNode)job.Get("metadata")!).Get("annotations")!).GetText("internal.config.kubernetes.io/path").Should().Be("job.yaml");
        YamlManifests.Write([Item(output, 0)]).Should().Be(YamlManifests.Write([Item(Root(ResourceList), 0)]), "an object without a pod passes unchanged");
        YamlManifests.Write([output.Get("functionConfig")!]).Should().Contain("registry.local/emissary:krm");
    }

    private static string JobOnly() => YamlManifests.Write([Item(Root(ResourceList), 1)]);

    [Fact]
    public void An_invalid_graph_becomes_an_error_result_with_resource_ref_field_path_and_file()
    {
        string broken = ResourceList.Replace("waitForTermination: [first]", "waitForTermination: [frist]", StringComparison.Ordinal);
        ResourceListResult result = ResourceListRewriter.Rewrite(ResourceListRewriter.Read(broken, "-")!, new RewriteSettings());

        RewriteResult rewrite = ManifestRewriter.Rewrite([("-", broken.Replace("kind: ResourceList", "kind: NotAResourceList", StringComparison.Ordinal))], new RewriteSettings());
        result.Errors.Should().ContainSingle().Which.Should().Contain("did you mean \"first\"");
        var results = (YamlSequenceNode)Root(result.Output).Get("results")!;
        var entry = (YamlMappingNode)results.Children.Should().ContainSingle().Subject;
        entry.GetText("severity").Should().Be("error");
        entry.GetText("message").Should().Contain("unknown container \"frist\"").And.Contain("did you mean \"first\"");
        var reference = (YamlMappingNode)entry.Get("resourceRef")!;
        (reference.GetText("apiVersion"), reference.GetText("kind"), reference.GetText("name"), reference.GetText("namespace"))
            .Should().Be(("batch/v1", "Job", "pipeline", "ci"));
        ((YamlMappingNode)entry.Get("field")!).GetText("path").Should().Be("spec.template.spec.containers[1].waitForTermination[0]");
        ((YamlMappingNode)entry.Get("file")!).GetText("path").Should().Be("job.yaml");
        result.Errors[0].Should().EndWith(entry.GetText("message")!, "stderr carries the same message as the result");
    }

    [Fact]
    public void A_bad_function_config_key_is_an_error_result_with_a_suggestion()
    {
        string list = ResourceList.Replace("    image: registry.local", "    imagee: registry.local", StringComparison.Ordinal);
        ResourceListResult result = ResourceListRewriter.Rewrite(ResourceListRewriter.Read(list, "-")!, new RewriteSettings());
        result.Errors.Should().ContainSingle().Which.Should().Contain("did you mean \"image\"");
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ResourceList}\n")]
    [InlineData("apiVersion: v1\nkind: ResourceList\nitems: []\n")]
    [InlineData("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\napiVersion: v1\nkind: ConfigMap\n")]
    [InlineData("kind: ResourceList\nitems: [\n")]
    public void Only_one_document_that_is_a_config_kubernetes_io_ResourceList_is_one(string text)
    {
        ResourceListRewriter.Read(text, "-").Should().BeNull();
    }
}
