using Emissary.Control;
using Emissary.Json;

namespace Emissary.Results;

internal static partial class TerminationMessage
{
    /// <summary>
    /// The termination message's "usage": the step's totals only (no attempt list), about 130
    /// bytes: <c>{"waitMs","runMs","attempts","userCpuMs","systemCpuMs","maxRssKiB"}</c> plus the
    /// cgroup figures and the trace id when there are some.
    /// </summary>
    private static void WriteUsage(BoundedJsonWriter json, StepUsage usage)
    {
        json.PropertyName("usage");
        json.StartObject();
        Number(json, "waitMs", usage.WaitMs);
        Number(json, "runMs", usage.RunMs);
        Number(json, "attempts", usage.Attempts);
        Number(json, "userCpuMs", usage.UserCpuMs);
        Number(json, "systemCpuMs", usage.SystemCpuMs);
        Number(json, "maxRssKiB", usage.MaxRssKiB);
        if (usage.CgroupMemoryPeakBytes is { } peak) Number(json, "cgroupMemoryPeakBytes", peak);
        if (usage.CgroupCpuMs is { } cpu) Number(json, "cgroupCpuMs", cpu);
        if (usage.TraceId is { } trace)
        {
            json.PropertyName("traceId");
            json.StringValue(trace);
        }
        json.EndObject();
    }

    private static void Number(BoundedJsonWriter json, string name, long value)
    {
        json.PropertyName(name);
        json.NumberValue(value);
    }
}
