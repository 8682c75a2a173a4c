using Emissary.Cli;
using Emissary.Foundation;
using Emissary.Logging;

namespace Emissary.Tools.Kubectl;

/// <summary>A failure of the plugin: one line on stderr, and its exit code (<see cref="PluginExitCodes"/>).</summary>
internal sealed class PluginException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The plugin's own exit codes (docs/kubectl-plugin.md); <c>debug</c> and <c>signal</c> otherwise exit as the command in the container did.</summary>
internal static class PluginExitCodes
{
    /// <summary>The step's container is not running, so nothing can be run in it (emissary's "wrong state").</summary>
    public const int NotRunning = 1;

    /// <summary>The pod has no such step (emissary's "unknown step"), or no emissary step at all.</summary>
    public const int UnknownStep = 2;

    /// <summary>kubectl failed (no such pod, forbidden, no cluster), or printed something that is not the pod.</summary>
    public const int KubectlFailed = 3;
}

/// <summary>
/// <c>kubectl emissary</c>: the steps of a live pod seen and steered from outside it, through
/// kubectl alone. The pod's spec (<c>kubectl get pod -o json</c>) says which containers are steps
/// and where their binary is; everything else is <c>emissary status|debug|signal</c> run in a
/// step's own container with <c>kubectl exec</c>, so the plugin needs no access beyond kubectl's
/// (get pods, pods/exec) and the requests go through the control directory as from inside.
/// </summary>
internal sealed class KubectlPlugin(IKubectl kubectl, Action<string> stdout, Action<string> warn)
{
    /// <summary>Most a pod's JSON may be (the API server stores objects of at most 1.5 MiB).</summary>
    public const int MaxPodJson = 4 * 1024 * 1024;

    /// <summary>Most <c>emissary status --json</c> may print in one container (a step's container may be hostile).</summary>
    public const int MaxStatusJson = 1024 * 1024;

    /// <summary>The executable's name that makes emissary-tools the plugin (kubectl runs <c>kubectl-emissary</c> for <c>kubectl emissary</c>).</summary>
    public const string ExecutableName = "kubectl-emissary";

    /// <summary>Whether the binary was started as the plugin: argv[0]'s file name is <see cref="ExecutableName"/>.</summary>
    public static bool StartedAsPlugin(string? argv0) => argv0 is not null && Path.GetFileName(argv0) == ExecutableName;

    /// <summary>The plugin's Main: one line on stderr and an exit code for every failure, never a stack trace.</summary>
    public static int Execute(string[] args)
    {
        try
        {
            PluginRequest request = PluginArguments.Parse(args);
            switch (request.Verb)
            {
                case PluginVerb.Help:
                    StderrWriter.Write(1, PluginArguments.Usage);
                    return ExitCodes.Success;
                case PluginVerb.Version:
                    StderrWriter.Write(1, CommandLine.Version + "\n");
                    return ExitCodes.Success;
            }
            using KubectlProcess kubectl = KubectlProcess.Find(request.Timeout);
            return new KubectlPlugin(kubectl, text => StderrWriter.Write(1, text), line => StderrWriter.WriteLine(ExecutableName + ": " + line)).Run(request);
        }
        catch (UsageException e)
        {
            StderrWriter.WriteLine($"{ExecutableName}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (PluginException e)
        {
            StderrWriter.WriteLine($"{ExecutableName}: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e)
        {
            StderrWriter.WriteLine($"{ExecutableName}: internal error: {e.GetType().Name}: {ErrorText.Reason(e)}");
            return ExitCodes.EmissaryFailure;
        }
    }

    public int Run(PluginRequest request)
    {
        PodSteps pod = GetPod(request);
        return request.Verb switch
        {
            PluginVerb.Status => Status(request, pod),
            PluginVerb.Debug => InStep(request, pod, ["debug", request.DebugAction!, .. request.DebugFlags]),
            PluginVerb.Signal => InStep(request, pod, ["signal"], request.Signal!),
            _ => throw new InvalidOperationException($"verb {request.Verb} has no action"),
        };
    }

    /// <summary>The table (or JSON) of every step: one <c>emissary status --json</c> per running step container, at once.</summary>
    private int Status(PluginRequest request, PodSteps pod)
    {
        PodStep[] running = pod.Steps.Where(s => s.Report.Phase == ContainerPhase.Running).ToArray();
        IReadOnlyList<KubectlOutput> outputs = running.Length == 0 ? [] : kubectl.Capture(
            running.Select(s => KubectlCalls.Exec(request, s.Container, [s.Binary, "status", "--json", .. ControlDirectory(s)])).ToArray(), MaxStatusJson);
        var rows = new List<StepRow>(pod.Steps.Count);
        foreach (PodStep step in pod.Steps)
        {
            int i = Array.IndexOf(running, step);
            if (i < 0)
            {
                rows.Add(StatusGraph.FromContainer(step));
                continue;
            }
            string? problem = outputs[i].Succeeded ? null : outputs[i].Problem;
            StepRow? row = problem is null ? StatusGraph.FromStatusOutput(step, outputs[i].Text, out problem) : null;
            if (row is null)
            {
                warn($"step '{step.Step}': cannot read its status in container '{step.Container}': {problem}");
                row = StatusGraph.FromContainer(step, "status unknown: " + problem);
            }
            rows.Add(row);
        }
        stdout(request.Json ? StatusGraph.RenderJson(rows) : StatusGraph.Render(pod, rows, DateTimeOffset.UtcNow));
        return ExitCodes.Success;
    }

    /// <summary>
    /// <c>BINARY VERB... [--control-dir DIR] STEP [OPERAND]</c> in the step's container, with the
    /// plugin's stdout and stderr; exits as that command did (kubectl exec passes its code on).
    /// </summary>
    private int InStep(PluginRequest request, PodSteps pod, IReadOnlyList<string> verb, params string[] operands)
    {
        PodStep step = pod.Find(request.Step!) ?? throw UnknownStep(pod, request.Step!);
        if (step.Report.Phase != ContainerPhase.Running)
        {
            string state = step.Report.Phase switch
            {
                ContainerPhase.Terminated => $"it has ended (exit code {step.Report.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"})",
                ContainerPhase.Waiting => $"it is waiting to start ({step.Report.Reason ?? "no reason given"})",
                _ => "it has not started",
            };
            throw new PluginException($"step '{step.Step}': container '{step.Container}' is not running, {state}: nothing can be run in it", PluginExitCodes.NotRunning);
        }
        return kubectl.PassThrough(KubectlCalls.Exec(request, step.Container, [step.Binary, .. verb, .. ControlDirectory(step), step.Step, .. operands]));
    }

    private PodSteps GetPod(PluginRequest request)
    {
        KubectlOutput output = kubectl.Capture([KubectlCalls.GetPod(request)], MaxPodJson)[0];
        if (!output.Succeeded)
        {
            throw new PluginException($"kubectl get pod {request.Pod}: {output.Problem}", output.TimedOut ? ExitCodes.TimedOut : PluginExitCodes.KubectlFailed);
        }
        PodSteps pod;
        try
        {
            pod = PodSteps.Parse(output.Text);
        }
        catch (FormatException e)
        {
            throw new PluginException($"kubectl get pod {request.Pod} -o json: not a pod ({e.Message})", PluginExitCodes.KubectlFailed);
        }
        if (pod.Steps.Count == 0)
        {
            throw new PluginException($"pod {request.Pod} has no emissary steps (no container runs '/.../emissary run --name STEP': is it wired by emissary rewrite or the webhook?)", PluginExitCodes.UnknownStep);
        }
        return pod;
    }

    private static PluginException UnknownStep(PodSteps pod, string name)
    {
        string? guess = DidYouMean.Closest(name, pod.Steps.Select(s => s.Step));
        return new PluginException(
            $"pod {pod.Name} has no step '{name}'{(guess is null ? "" : $" (did you mean '{guess}'?)")}; its steps: {string.Join(", ", pod.Steps.Select(s => s.Step))}",
            PluginExitCodes.UnknownStep);
    }

    private static IReadOnlyList<string> ControlDirectory(PodStep step) => step.ControlDirectory is { } dir ? ["--control-dir", dir] : [];
}
