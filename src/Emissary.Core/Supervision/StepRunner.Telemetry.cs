using Emissary.Telemetry;

namespace Emissary.Supervision;

internal sealed partial class StepRunner
{
    /// <summary>Told when the wait ends, when each attempt starts and ends, and at the end (measured resources, spans).</summary>
    public IStepObserver Observer { get; init; } = NoObserver.Instance;

    /// <summary>The launch settings of one attempt: the observer's variables (the attempt's TRACEPARENT) over the step's own.</summary>
    private LaunchSettings WithAttemptEnvironment(LaunchSettings launch)
    {
        IReadOnlyDictionary<string, string> extra = Observer.AttemptStarting();
        if (extra.Count == 0)
        {
            return launch;
        }
        var environment = new Dictionary<string, string>(launch.ExtraEnvironment);
        foreach ((string name, string value) in extra)
        {
            environment[name] = value;
        }
        return launch with { ExtraEnvironment = environment };
    }
}
