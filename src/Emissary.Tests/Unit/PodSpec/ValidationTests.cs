using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>Every validation error, with its exact text: "[FILE: ]DOCUMENT: PATH: MESSAGE".</summary>
public sealed class ValidationTests
{
    private const string ThreeSteps = """
            - {name: fetch, image: a, command: [a]}
            - {name: build, image: a, command: [a]}
            - {name: test, image: a, command: [a], waitForTermination: [biuld]}
        """;

    [Fact]
    public void An_unknown_container_is_named_with_a_suggestion()
    {
        Errors(Pod(ThreeSteps, name: "build")).Should().Equal(
            "pod/build: spec.containers[2].waitForTermination[0]: unknown container \"biuld\" (did you mean \"build\"?)");
    }

    [Fact]
    public void An_unknown_container_that_resembles_nothing_gets_no_suggestion()
    {
        Errors(Pod("""
                - {name: fetch, image: a, command: [a], waitForTermination: [something-else]}
            """)).Should().Equal("pod/p: spec.containers[0].waitForTermination[0]: unknown container \"something-else\"");
    }

    [Fact]
    public void A_container_is_never_suggested_to_itself()
    {
        Errors(Pod("""
                - {name: build, image: a, command: [a], waitForTermination: [biuld]}
            """)).Should().Equal("pod/p: spec.containers[0].waitForTermination[0]: unknown container \"biuld\"");
    }

    [Fact]
    public void Unknown_containers_in_annotations_are_named_with_the_annotation()
    {
        Errors(Pod("""
                - {name: fetch, image: a, command: [a]}
                - {name: build, image: a, command: [a]}
            """, """
                emissary.dev/biuld.timeout: "1m"
                emissary.dev/build.waitForTermination: "fetch,fecth"
            """)).Should().Equal(
            "pod/p: metadata.annotations[\"emissary.dev/biuld.timeout\"]: unknown container \"biuld\" (did you mean \"build\"?)",
            "pod/p: metadata.annotations[\"emissary.dev/build.waitForTermination\"]: unknown container \"fecth\" (did you mean \"fetch\"?)");
    }

    [Fact]
    public void Unknown_fields_in_annotations_and_misspelt_container_fields_get_a_suggestion()
    {
        Errors(Pod("""
                - {name: a, image: a, command: [a], timeot: 1m, waitForTermintion: [], imagePullPolicy: Always, unrelatedThing: 1}
            """, """
                emissary.dev/a.retrys: "1"
                emissary.dev/proxi: istio
                emissary.dev/whatever: x
            """)).Should().Equal(
            "pod/p: spec.containers[0].timeot: unknown field \"timeot\" (did you mean \"timeout\"?)",
            "pod/p: spec.containers[0].waitForTermintion: unknown field \"waitForTermintion\" (did you mean \"waitForTermination\"?)",
            "pod/p: metadata.annotations[\"emissary.dev/a.retrys\"]: unknown field \"retrys\" (did you mean \"retries\"?)",
            "pod/p: metadata.annotations[\"emissary.dev/proxi\"]: unknown annotation (did you mean \"emissary.dev/proxy\"?) (emissary.dev/ takes native-sidecars, proxy, inject, delivery, breakpoint and CONTAINER.FIELD)",
            "pod/p: metadata.annotations[\"emissary.dev/whatever\"]: unknown annotation (emissary.dev/ takes native-sidecars, proxy, inject, delivery, breakpoint and CONTAINER.FIELD)");
    }

    [Fact]
    public void Container_names_must_be_present_valid_unique_and_not_emissarys_own()
    {
        Errors(Pod("""
                - {image: a, command: [a]}
                - {name: Bad Name, image: a, command: [a]}
                - {name: emissary-init, image: a, command: [a]}
                - {name: a, image: a, command: [a]}
                - {name: a, image: a, command: [a]}
                - {name: init, image: a, command: [a]}
            """).Replace("spec:\n", "spec:\n  initContainers:\n  - {name: init, image: a}\n")).Should().Equal(
            "pod/p: spec.containers[0].name: missing",
            "pod/p: spec.containers[1].name: \"Bad Name\" is not a valid step name: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit",
            "pod/p: spec.containers[2].name: \"emissary-init\" is the name of emissary's init container",
            "pod/p: spec.containers[4].name: duplicate container name \"a\" (also spec.containers[3])",
            "pod/p: spec.containers[5].name: duplicate container name \"init\" (also spec.initContainers[0])");
    }

    [Fact]
    public void A_container_cannot_wait_for_itself()
    {
        Errors(Pod("""
                - {name: a, image: a, command: [a], waitForTermination: [a]}
            """)).Should().Equal("pod/p: spec.containers[0].waitForTermination[0]: container \"a\" cannot wait for itself");
    }

    [Fact]
    public void A_cycle_is_printed_once_as_who_waits_for_whom()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a], waitForTermination: [c]}
                - {name: b, image: x, command: [a], waitForTermination: [a]}
                - {name: c, image: x, command: [a], waitForTermination: [b]}
                - {name: d, image: x, command: [a], waitForTermination: [e]}
                - {name: e, image: x, command: [a], waitForTermination: [d]}
                - {name: f, image: x, command: [a], waitForTermination: [a, d]}
            """)).Should().Equal(
            "pod/p: spec.containers: cycle: a -> c -> b -> a",
            "pod/p: spec.containers: cycle: d -> e -> d");
    }

    [Theory]
    [InlineData("timeout: 10 parsecs", "timeout: \"10 parsecs\" is not a duration (e.g. 30s, 1m30s, 500ms)")]
    [InlineData("retryDelay: -1s", "retryDelay: \"-1s\" is not a duration (e.g. 30s, 1m30s, 500ms)")]
    [InlineData("grace: soon", "grace: \"soon\" is not a duration (e.g. 30s, 1m30s, 500ms)")]
    [InlineData("retries: -1", "retries: \"-1\" is not a whole number from 0 to 1000")]
    [InlineData("retries: 1001", "retries: \"1001\" is not a whole number from 0 to 1000")]
    [InlineData("retries: three", "retries: \"three\" is not a whole number from 0 to 1000")]
    [InlineData("onError: abort", "onError: unknown policy \"abort\" (use continue or stopAndFail)")]
    [InlineData("sidecar: maybe", "sidecar: \"maybe\" is not true or false")]
    [InlineData("waitForStart: yes", "waitForStart: \"yes\" is not true or false")]
    [InlineData("runOnUpstreamFailure: 1", "runOnUpstreamFailure: \"1\" is not true or false")]
    [InlineData("stopSignal: SIGFOO", "stopSignal: \"SIGFOO\" is not a signal (use a name such as TERM or INT, or a number)")]
    [InlineData("resultFromStdout: a/b", "resultFromStdout: \"a/b\" is not a valid result name (letters, digits, '.', '_', '-'; starting with a letter or digit)")]
    [InlineData("timeout: [1s]", "timeout: expected a single value")]
    [InlineData("timeout: null", "timeout: expected a value")]
    [InlineData("waitForTermination: {a: b}", "waitForTermination: expected a list of container names")]
    [InlineData("waitForTermination: [[a]]", "waitForTermination[0]: expected a container name")]
    [InlineData("args: sh", "args: expected a list of strings")]
    public void Bad_field_values_are_named_with_their_path(string field, string error)
    {
        Errors(Pod($"""
                - {"{"}name: s, image: x, command: [a]{"}"}
                - name: a
                  image: x
                  command: [a]
                  {field}
            """)).Should().Equal("pod/p: spec.containers[1]." + error);
    }

    [Theory]
    [InlineData("emissary.dev/a.timeout: \"forever\"", "emissary.dev/a.timeout", "\"forever\" is not a duration (e.g. 30s, 1m30s, 500ms)")]
    [InlineData("emissary.dev/a.retries: \"x\"", "emissary.dev/a.retries", "\"x\" is not a whole number from 0 to 1000")]
    [InlineData("emissary.dev/a.sidecar: \"on\"", "emissary.dev/a.sidecar", "\"on\" is not true or false")]
    [InlineData("emissary.dev/proxy: envoy", "emissary.dev/proxy", "unknown proxy \"envoy\" (use istio, linkerd or none)")]
    [InlineData("emissary.dev/native-sidecars: \"sure\"", "emissary.dev/native-sidecars", "\"sure\" is not true or false")]
    [InlineData("emissary.dev/a.timeout: {x: 1}", "emissary.dev/a.timeout", "expected a string")]
    public void Bad_annotation_values_are_named_with_the_annotation(string annotation, string key, string error)
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a]}
            """, "    " + annotation + "\n")).Should().Equal($"pod/p: metadata.annotations[\"{key}\"]: {error}");
    }

    [Fact]
    public void A_field_and_an_annotation_that_disagree_are_an_error()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a]}
                - {name: b, image: x, command: [a], timeout: 30s, waitForTermination: [a], sidecar: true}
            """, """
                emissary.dev/b.timeout: "1m"
                emissary.dev/b.waitForTermination: ""
                emissary.dev/b.sidecar: "false"
            """)).Should().Equal(
            "pod/p: spec.containers[1].timeout: \"30s\" disagrees with annotation \"emissary.dev/b.timeout\" (\"1m\")",
            "pod/p: spec.containers[1].waitForTermination: [a] disagrees with annotation \"emissary.dev/b.waitForTermination\" (\"\")",
            "pod/p: spec.containers[1].sidecar: \"true\" disagrees with annotation \"emissary.dev/b.sidecar\" (\"false\")");
    }

    [Fact]
    public void Waiting_for_a_sidecar_is_an_error_because_it_only_ends_after_the_steps()
    {
        Errors(Pod("""
                - {name: db, image: x, command: [a], sidecar: true}
                - {name: test, image: x, command: [a], waitForTermination: [db]}
            """)).Should().Equal(
            "pod/p: spec.containers[1].waitForTermination[0]: \"db\" is a sidecar: it runs until the steps are over, so waiting for it to end would never end");
    }

    [Fact]
    public void A_sidecar_may_wait_for_a_step()
    {
        PodGraph graph = Graph(Pod("""
                - {name: setup, image: x, command: [a]}
                - {name: db, image: x, command: [a], sidecar: true, waitForTermination: [setup]}
            """));

        graph.Find("db")!.Gates.Should().Equal("setup");
    }

    [Fact]
    public void A_pod_of_sidecars_only_is_an_error()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a], sidecar: true}
            """)).Should().Equal("pod/p: spec.containers: every container is a sidecar: there is no step for them to be sidecars of");
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "pod/p: spec: missing: a Pod needs a pod spec here")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", "pod/p: spec.containers: missing: a pod needs at least one container")]
    [InlineData("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {}}\n", "cronjob/c: spec.jobTemplate.spec.template.spec: missing: a CronJob needs a pod spec here")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [x]}\n", "pod/p: spec.containers[0]: expected a container (a mapping)")]
    public void A_pod_without_containers_is_an_error(string text, string error)
    {
        Errors(text).Should().Equal(error);
    }

    [Fact]
    public void Init_containers_of_the_user_take_no_emissary_settings_and_cannot_be_waited_for()
    {
        string text = Pod("""
                - {name: a, image: x, command: [a], waitForTermination: [setup]}
            """, """
                emissary.dev/setup.retries: "1"
            """).Replace("spec:\n", "spec:\n  initContainers:\n  - {name: setup, image: x, timeout: 1m}\n");

        Errors(text).Should().Equal(
            "pod/p: spec.initContainers[0].timeout: emissary settings apply to containers, not to init containers",
            "pod/p: metadata.annotations[\"emissary.dev/setup.retries\"]: \"setup\" is an init container: emissary settings apply to containers only",
            "pod/p: spec.containers[0].waitForTermination[0]: \"setup\" is an init container: it has ended before any container starts, so there is nothing to wait for");
    }

    [Fact]
    public void Asking_for_both_Istio_and_Linkerd_is_an_error()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [a]}
            """, """
                sidecar.istio.io/inject: "true"
                linkerd.io/inject: enabled
            """)).Should().Equal(
            "pod/p: metadata: both Istio (sidecar.istio.io/inject) and Linkerd (linkerd.io/inject) injection are asked for: say which proxy the steps use with the annotation emissary.dev/proxy");
    }

    [Fact]
    public void A_container_whose_command_is_unknown_is_an_error_that_says_what_to_do()
    {
        Errors(Pod("""
                - {name: a, image: "alpine:3.20", args: [echo]}
                - {name: b}
            """)).Should().Equal(
            "pod/p: spec.containers[0]: container \"a\" has no command, and the entrypoint of its image \"alpine:3.20\" is unknown: set command (and args), or list \"alpine:3.20\" in the --entrypoints file",
            "pod/p: spec.containers[1]: container \"b\" has neither command nor image");
    }

    [Fact]
    public void A_broken_rewritten_command_is_an_error()
    {
        Errors(Pod("""
                - {name: a, image: x, command: [/var/run/emissary-bin/emissary, run, --name, a]}
            """)).Should().Equal(
            "pod/p: spec.containers[0].command: starts like a rewritten command (/var/run/emissary-bin/emissary run) but has no \"--\" followed by the command");
    }

    [Fact]
    public void Errors_name_the_file_the_document_and_for_unnamed_list_items_the_item()
    {
        string text = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              spec:
                containers: [{name: a, image: x, command: [a], retries: x}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            spec:
              template:
                spec:
                  containers: [{name: a, image: x, command: [a], onError: x}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                spec:
                  containers: [{name: a, image: x, command: [a], grace: x}]
            """;

        RewriteResult result = ManifestRewriter.Rewrite([("m.yaml", text)], new RewriteSettings());

        result.Errors.Should().Equal(
            "m.yaml: document 1: items[0].spec.containers[0].retries: \"x\" is not a whole number from 0 to 1000",
            "m.yaml: document 2: spec.template.spec.containers[0].onError: unknown policy \"x\" (use continue or stopAndFail)",
            "m.yaml: deployment/web: spec.template.spec.containers[0].grace: \"x\" is not a duration (e.g. 30s, 1m30s, 500ms)");
        result.Output.Should().BeEmpty();
    }

    [Fact]
    public void Every_source_is_checked_and_malformed_ones_are_reported_with_the_others()
    {
        RewriteResult result = ManifestRewriter.Rewrite(
            [("a.yaml", "kind: [\n"), ("b.json", "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}, \"spec\": {}}"), ("c.yaml", "kind: ConfigMap\n")],
            new RewriteSettings());

        result.Errors.Should().Equal(
            "a.yaml: line 2, column 1: malformed YAML: while parsing a node, did not find expected node content",
            "b.json: pod/p: spec.containers: missing: a pod needs at least one container");
        result.Output.Should().BeEmpty();
    }
}
