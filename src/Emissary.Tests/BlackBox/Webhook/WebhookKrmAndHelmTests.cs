using System.Runtime.Versioning;
using Emissary.Tools.PodSpec;
using YamlDotNet.RepresentationModel;

namespace Emissary.Tests.BlackBox.Webhook;

/// <summary>
/// `emissary rewrite` in the two pipelines a platform team already has (issue #16): as a KRM
/// function (a ResourceList on stdin, one on stdout, problems in results; with the real
/// `kubectl kustomize` when Debian's kubectl is installed) and as a Helm post-renderer (the
/// rendered chart, a multi-document YAML stream, on stdin; the stream to install on stdout).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class WebhookKrmAndHelmTests : BlackBoxTest
{
    private const string Job = """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: pipeline
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
        """;

    private string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private ProcessResult WithStdin(string stdinFile, params string[] args) =>
        Run("/bin/sh", ["-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", stdinFile, EmissaryPath, .. args]);

    private static YamlMappingNode Root(string yaml) => (YamlMappingNode)ManifestSet.Read(yaml, "-").Documents[0].Root;

    [BlackBoxFact]
    public void A_ResourceList_on_stdin_comes_back_as_a_ResourceList_with_its_pods_wired()
    {
        string dir = TempDir("krm");
        string indented = string.Join('\n', Job.Split('\n').Select(l => "  " + l));
        string input = Write(dir, "in.yaml", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " + indented.TrimStart() + "\n");

        ProcessResult result = WithStdin(input, "rewrite");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty();
        YamlMappingNode list = Root(result.Stdout);
        list.GetText("kind").Should().Be("ResourceList");
        list.GetText("apiVersion").Should().Be("config.kubernetes.io/v1");
        var job = (YamlMappingNode)((YamlSequenceNode)list.Get("items")!).Children.Single();
        ProcessResult direct = WithStdin(Write(dir, "job.yaml", Job), "rewrite");
        YamlManifests.Write([job]).TrimEnd().Should().Be(direct.Stdout.TrimEnd(), "the item is rewritten exactly as the same Job given alone");
    }

    [BlackBoxFact]
    public void An_invalid_item_gives_an_error_result_on_stdout_and_exit_1()
    {
        string dir = TempDir("krm");
        string broken = Job.Replace("[first]", "[frist]", StringComparison.Ordinal);
        string indented = string.Join('\n', broken.Split('\n').Select(l => "  " + l));
        string input = Write(dir, "in.yaml", "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " + indented.TrimStart() + "\n");

        ProcessResult result = WithStdin(input, "rewrite");

        result.ExitCode.Should().Be(1, "{0}", result);
        var entry = (YamlMappingNode)((YamlSequenceNode)Root(result.Stdout).Get("results")!).Children.Single();
        entry.GetText("severity").Should().Be("error");
        entry.GetText("message").Should().Contain("did you mean \"first\"");
        result.StderrLines.Should().ContainSingle().Which.Should().Contain("job/pipeline: spec.template.spec.containers[1].waitForTermination[0]");
    }

    [BlackBoxFact]
    public void As_a_Helm_post_renderer_a_rendered_chart_on_stdin_is_written_wired_to_stdout()
    {
        // What `helm template`/`helm install --post-renderer` hands over: '# Source:' comments, '---' separators, an empty document.
        string rendered = "---\n# Source: shop/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  a: b\n---\n# Source: shop/templates/empty.yaml\n---\n# Source: shop/templates/job.yaml\n" + Job + "\n";
        string dir = TempDir("helm");
        ProcessResult result = WithStdin(Write(dir, "rendered.yaml", rendered), "rewrite");

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stderr.Should().BeEmpty();
        var documents = ManifestSet.Read(result.Stdout, "-").Documents;
        documents.Select(d => ((YamlMappingNode)d.Root).GetText("kind")).Should().Equal("ConfigMap", "Job");
        result.Stdout.Should().Contain("emissary-init").And.Contain("/var/run/emissary-bin/emissary");
    }

    /// <summary>
    /// kubectl's kustomize (Debian's kubectl 1.32, kustomize 5.5) has no --enable-exec, so it skips
    /// exec KRM functions; it does run exec transformer plugins, which get the resources as a YAML
    /// stream on stdin and write them to stdout: the Helm post-renderer contract, with the real tool.
    /// </summary>
    [BlackBoxFact]
    public void The_real_kubectl_kustomize_runs_rewrite_as_an_exec_transformer_plugin_when_kubectl_is_installed()
    {
        string? kubectl = new[] { "/usr/bin/kubectl", "/usr/local/bin/kubectl" }.FirstOrDefault(File.Exists);
        if (kubectl is null)
        {
            // kubectl (which ships kustomize) is optional for a developer; scripts/test.sh installs it and requires it.
            Requirements.IsRequired("kubectl").Should().BeFalse("scripts/test.sh installs kubectl (apt-get install kubectl)");
            return;
        }
        string dir = TempDir("kustomize");
        Write(dir, "job.yaml", Job);
        string pluginDir = Path.Combine(dir, "plugins", "emissary.dev", "v1", "rewriter");
        Directory.CreateDirectory(pluginDir);
        // $1 is the plugin's config file; the resources come on stdin.
        string plugin = Write(pluginDir, "Rewriter", $"#!/bin/sh\nexec {EmissaryPath} rewrite --image registry.local/emissary:kustomize\n");
        File.SetUnixFileMode(plugin, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        Write(dir, "emissary.yaml", "apiVersion: emissary.dev/v1\nkind: Rewriter\nmetadata:\n  name: emissary\n");
        Write(dir, "kustomization.yaml", "resources:\n- job.yaml\ntransformers:\n- emissary.yaml\n");

        ProcessResult result = Run("/usr/bin/env", $"KUSTOMIZE_PLUGIN_HOME={Path.Combine(dir, "plugins")}", kubectl, "kustomize", "--enable-alpha-plugins", dir);

        result.ExitCode.Should().Be(0, "{0}", result);
        result.Stdout.Should().Contain("image: registry.local/emissary:kustomize").And.Contain("name: emissary-init");
        Root(result.Stdout).GetText("kind").Should().Be("Job");
        result.Stdout.Should().Contain("- --after\n").And.Contain("- first\n", "the graph survived the trip through kustomize");
    }
}
