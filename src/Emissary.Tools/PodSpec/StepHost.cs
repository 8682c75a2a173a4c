namespace Emissary.Tools.PodSpec;

/// <summary>Where a wrapped step runs, which decides the <c>emissary run</c> flags that make sense there.</summary>
internal enum StepHost
{
    /// <summary>A Kubernetes pod (<c>emissary rewrite</c>): everything, including an injected mesh proxy.</summary>
    Kubernetes,

    /// <summary>A podman pod (<c>emissary local --engine podman</c>): containers, but no mesh proxy.</summary>
    Podman,

    /// <summary>A process on this machine (<c>emissary local</c>): no proxy, no container paths; the engine names the step.</summary>
    LocalProcess,
}

internal static class StepHostExtensions
{
    /// <summary>Whether a mesh may inject a proxy the steps wait for and tell to quit.</summary>
    public static bool HasMeshProxy(this StepHost host) => host == StepHost.Kubernetes;

    /// <summary>Whether paths a container declares (its termination message file) exist where the step runs.</summary>
    public static bool HasContainerPaths(this StepHost host) => host != StepHost.LocalProcess;

    /// <summary>
    /// Whether the binary may come from an image volume: a Kubernetes pod may; the podman pod of
    /// <c>emissary local</c> fills its own named volume through the init container.
    /// </summary>
    public static bool MountsImageVolumes(this StepHost host) => host == StepHost.Kubernetes;

    /// <summary>
    /// Whether something restarts a failed container as its <c>restartPolicy</c> says (the kubelet): then the step is told the
    /// policy. Not through these arguments under <c>emissary local</c>: its podman pod is made restartPolicy Never (a
    /// failure told it will be restarted would keep its dependants waiting for a run that never comes), and the process
    /// engine restarts steps itself, with the flags of <see cref="EmissaryRun.LocalRestartArguments"/>.
    /// </summary>
    public static bool RestartsContainers(this StepHost host) => host == StepHost.Kubernetes;

    /// <summary>Whether the arguments carry <c>--name</c> (a local process engine passes it, with its control directory).</summary>
    public static bool NamesSteps(this StepHost host) => host != StepHost.LocalProcess;
}
