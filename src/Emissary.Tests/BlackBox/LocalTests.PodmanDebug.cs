using System.Text.RegularExpressions;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// `emissary local --debug --engine podman` through a real terminal (tmux) and real containers: the
/// failing step's container pauses, `podman exec -it` opens a shell in that container, and what is
/// fixed there is what the rerun sees.
/// </summary>
public sealed partial class LocalTests
{
    [BlackBoxFact(Needs = Needs.Podman)]
    [Trait("Needs", "podman")]
    public void With_engine_podman_debug_opens_a_shell_in_the_paused_container_and_a_rerun_there_releases_the_dependant()
    {
        Requirements.Podman();
        PodmanImages images = BuildImages();
        string name = $"dbg-{Token[..8]}";
        string marker = $"/fixed-{Token[..8]}"; // the step image (FROM scratch) has no /tmp
        string pod = Manifest($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: {{name}}}
            spec:
              restartPolicy: Never
              containers:
                - name: build
                  image: busybox:1.36
                  command: [sh, -c, "test -f {{marker}} || { echo build fails; exit 3; }; echo build ok"]
                - name: publish
                  image: busybox:1.36
                  waitForTermination: [build]
                  command: [sh, -c, "echo publish runs"]
            """);
        string dir = Path.GetDirectoryName(pod)!;
        File.WriteAllText(Path.Combine(dir, "run.sh"), $"""
            {ToolsPath} local pod.yaml --debug --engine podman --image {images.Emissary} --events events.jsonl --plain --grace 2s
            echo $? > exit
            exec sleep 600
            """);
        using IDisposable podRemoval = RemovesPod(name);
        using var terminal = new Tmux((file, args) => Run(file, args), $"cd {dir} && SHELL=/bin/sh sh ./run.sh");

        terminal.WaitFor("── build: paused on-failure (exit 3)", seconds: 90);
        // The shell is the container's: its files, not this machine's. A marker made here would
        // not be seen by the rerun if the shell ran outside the container.
        terminal.Type($"echo \"host=$(cat /etc/hostname)\"; : > {marker}; exit");
        string screen = terminal.WaitFor("── build: [c]ontinue, [f]ail, [r]erun?", seconds: 30);
        screen.Should().Contain($"host={name}", "podman names the pod's containers' host after the pod\n{0}", screen);
        File.Exists(marker).Should().BeFalse("the marker was made in the container, not here");
        terminal.Type("r");

        LocalDebugTests.ExitCode(dir, terminal, seconds: 90).Should().Be(0, "the rerun in the container succeeded, and so did the dependant\n{0}", terminal.Screen());
        screen = terminal.Screen();
        List<Event> log = ReadEvents(Path.Combine(dir, "events.jsonl"));
        Final(log, "build").Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0);
        Final(log, "publish").Should().Match<Event>(e => e.State == "succeeded" && e.ExitCode == 0);
        log.Count(e => e is { Step: "build", State: "paused" }).Should().Be(1, "{0}", string.Join("\n", log));
        Regex.IsMatch(screen, @"publish \| publish runs").Should().BeTrue("the logs are printed at the end\n{0}", screen);
        Run("podman", "pod", "exists", name).ExitCode.Should().Be(1, "the pod is removed at the end");
    }
}
