using Emissary.Tools.PodSpec;
using static Emissary.Tests.Unit.PodSpec.PodSpecTestKit;

namespace Emissary.Tests.Unit.PodSpec;

/// <summary>
/// Issue #28: what `rewrite` (and so the webhook) passes on from the pod's and the container's
/// restart settings and the container's stop signal, which the kubelet keeps reading too.
/// </summary>
public sealed class RestartFieldsTests
{
    private const string Job = """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: j
        spec:
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: fetch
                  image: x
                  command: [fetch]
                  lifecycle:
                    stopSignal: SIGUSR1
                - name: build
                  image: x
                  command: [build]
                  restartPolicy: Never
                  restartPolicyRules:
                    - action: Restart
                      exitCodes:
                        operator: In
                        values: [42, 43]
                  waitForTermination: [fetch]
        """;

    [Fact]
    public void The_pods_policy_the_containers_own_and_its_rules_become_run_flags()
    {
        PodGraph graph = Graph(Text(Job));

        EmissaryRun.RunArguments(graph.Find("fetch")!, graph).Should().Equal(
            "--name", "fetch", "--stop-signal", "USR1", "--termination-budget", "4096", "--restart-policy", "OnFailure");
        EmissaryRun.RunArguments(graph.Find("build")!, graph).Should().Equal(
            "--name", "build", "--after", "fetch", "--termination-budget", "4096",
            "--restart-rules", """[{"action":"Restart","exitCodes":{"operator":"In","values":[42,43]}}]""");
    }

    [Fact]
    public void Kubernetes_fields_stay_in_the_container_and_a_second_rewrite_changes_nothing()
    {
        string once = Rewrite(Text(Job));
        string twice = Rewrite(once);

        twice.Should().Be(once);
        once.Should().Contain("stopSignal: SIGUSR1").And.Contain("restartPolicyRules:").And.Contain("restartPolicy: OnFailure");
        CommandOf(once, "fetch").Should().ContainInOrder("--stop-signal", "USR1");
    }

    [Fact]
    public void A_pod_that_does_not_say_is_Always_as_the_API_server_makes_it_for_the_webhook()
    {
        PodGraph graph = Graph(Pod("    - {name: a, image: x, command: [a]}"));
        PodGraph never = Graph(Pod("    - {name: a, image: x, command: [a]}").Replace("spec:\n", "spec:\n  restartPolicy: Never\n"));

        EmissaryRun.RunArguments(graph.Find("a")!, graph).Should().Equal("--name", "a", "--termination-budget", "4096", "--restart-policy", "Always");
        graph.Find("a")!.RestartPolicy.Should().BeNull("the step is read as written");
        EmissaryRun.RunArguments(never.Find("a")!, never).Should().Equal(["--name", "a", "--termination-budget", "4096"], "Never is run's default");
    }

    [Fact]
    public void Local_processes_are_not_told_a_policy_nobody_applies_there()
    {
        PodGraph graph = Graph(Text(Job));

        EmissaryRun.RunArguments(graph.Find("fetch")!, graph, StepHost.LocalProcess).Should().NotContain("--restart-policy");
        EmissaryRun.RunArguments(graph.Find("fetch")!, graph, StepHost.Podman).Should().NotContain("--restart-policy", "emissary local's podman pod is restartPolicy Never");
    }

    [Fact]
    public void Local_restart_arguments_are_the_same_flags_kept_apart_for_the_process_engine()
    {
        PodGraph graph = Graph(Text(Job));

        EmissaryRun.LocalRestartArguments(graph.Find("fetch")!).Should().Equal("--restart-policy", "OnFailure");
        EmissaryRun.LocalRestartArguments(graph.Find("build")!).Should().Equal(
            "--restart-rules", """[{"action":"Restart","exitCodes":{"operator":"In","values":[42,43]}}]""");
        PodGraph plain = Graph(Pod("    - {name: a, image: x, command: [a]}"));
        EmissaryRun.LocalRestartArguments(plain.Find("a")!).Should().BeEmpty("a pod that does not say is not restarted locally");
    }
}
