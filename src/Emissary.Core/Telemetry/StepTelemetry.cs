using Emissary.Logging;
using System.Diagnostics;
using Emissary.Control;

namespace Emissary.Telemetry;

/// <summary>What the step runner tells telemetry, in order: gates done, then per attempt started/ended, then the end.</summary>
internal interface IStepObserver
{
    /// <summary>The wait for gates is over (open, skipped, failed or interrupted).</summary>
    void GatesDone();

    /// <summary>An attempt is about to start: variables to add to the child's environment (its TRACEPARENT).</summary>
    IReadOnlyDictionary<string, string> AttemptStarting();

    /// <summary>The attempt's command is running: emissary has nothing else to do until it ends.</summary>
    void AttemptRunning();

    /// <summary>The attempt ended (pid 0 when it could not be started).</summary>
    void AttemptEnded(int pid, int exitCode);

    /// <summary>The final status with what the step cost attached, before it is recorded.</summary>
    StepStatus Ended(StepStatus final);
}

/// <summary>For callers that measure nothing (unit tests of the runner, plain uses).</summary>
internal sealed class NoObserver : IStepObserver
{
    public static readonly NoObserver Instance = new();

    private static readonly Dictionary<string, string> None = [];

    public void GatesDone()
    {
    }

    public IReadOnlyDictionary<string, string> AttemptStarting() => None;

    public void AttemptRunning()
    {
    }

    public void AttemptEnded(int pid, int exitCode)
    {
    }

    public StepStatus Ended(StepStatus final) => final;
}

/// <summary>
/// One step's telemetry: wall times split into waiting and running, each attempt's CPU time and
/// peak memory from the kernel's accounting of reaped descendants, the container cgroup's figures
/// at the end, and — when an OTLP endpoint is set — a span for the step with a child span for the
/// wait and one per attempt, joined to the trace of TRACEPARENT. Measuring costs two getrusage
/// calls per attempt and, in a container, two small reads at the end; spans are exported only
/// after the step is recorded (dependants already released), within a bounded time.
/// </summary>
internal sealed partial class StepTelemetry : IStepObserver
{
    private readonly string _step;
    private readonly string? _command;
    private readonly OtlpSettings? _export;
    private readonly TraceContext? _parent;
    private readonly Func<string, string?> _env;
    private readonly ILogger _logger;
    private readonly long _created = Stopwatch.GetTimestamp();
    private readonly DateTimeOffset _createdAt = DateTimeOffset.UtcNow;
    private readonly List<Attempt> _attempts = [];
    private DateTimeOffset? _gatesDoneAt;
    private long _gatesDone;
    private Attempt? _current;
    private string? _traceId;
    private string? _spanId;
    private string? _waitSpanId;

    private sealed class Attempt
    {
        public required string SpanId { get; init; }

        public required DateTimeOffset StartedAt { get; init; }

        public required long Start { get; init; }

        public required ChildrenUsage Before { get; init; }

        public DateTimeOffset FinishedAt { get; set; }

        public long End { get; set; }

        public ChildrenUsage After { get; set; }

        public int Pid { get; set; }

        public int ExitCode { get; set; }
    }

    public StepTelemetry(string step, string? command, Func<string, string?> env, ILogger logger)
    {
        _step = step;
        _command = command;
        _env = env;
        _logger = logger;
        _export = OtlpSettings.FromEnvironment(env);
        string? traceparent = env("TRACEPARENT");
        _parent = TraceContext.Parse(traceparent);
        if (_export is not null)
        {
            foreach (string note in _export.Notes)
            {
                Log.Note(_logger, note);
            }
            if (traceparent is { Length: > 0 } && _parent is null)
            {
                Log.Note(_logger, $"TRACEPARENT '{traceparent}' is not a W3C traceparent: starting a new trace");
            }
        }
    }

    /// <summary>Whether spans are exported (an endpoint is set and the parent, if any, is sampled).</summary>
    public bool Tracing => _export is not null && _parent?.Sampled != false;

    /// <summary>Whether anything is exported at all (an endpoint is set): then the child gets its TRACEPARENT.</summary>
    public bool Exporting => _export is not null;

    // Ids are drawn only when spans are exported: without an endpoint a step costs no getrandom.
    public string TraceId => _traceId ??= _parent?.TraceId ?? TraceContext.NewTraceId();

    public string SpanId => _spanId ??= TraceContext.NewSpanId();

    public string WaitSpanId => _waitSpanId ??= TraceContext.NewSpanId();

    public void GatesDone()
    {
        if (_gatesDoneAt is null)
        {
            _gatesDone = Stopwatch.GetTimestamp();
            _gatesDoneAt = DateTimeOffset.UtcNow;
        }
    }

    public IReadOnlyDictionary<string, string> AttemptStarting()
    {
        GatesDone();
        _current = new Attempt { SpanId = _export is null ? "" : TraceContext.NewSpanId(), StartedAt = DateTimeOffset.UtcNow, Start = Stopwatch.GetTimestamp(), Before = ChildrenUsage.Now() };
        _attempts.Add(_current);
        // The child joins the trace under its attempt's span, so its own spans nest there. Only
        // when spans are exported: otherwise the child inherits emissary's TRACEPARENT unchanged.
        return _export is null
            ? new Dictionary<string, string>()
            : new Dictionary<string, string> { ["TRACEPARENT"] = new TraceContext(TraceId, _current.SpanId, _parent?.Sampled ?? true).Format() };
    }

    /// <summary>
    /// Whether the container's cgroup figures are the step's is found out while the command runs,
    /// so that the path from its exit to the dependants' release reads only the figures themselves.
    /// </summary>
    public void AttemptRunning() => _ = ContainerRoot;

    private bool? _containerRoot;

    private bool ContainerRoot => _containerRoot ??= CgroupUsage.IsContainerRoot();

    public void AttemptEnded(int pid, int exitCode)
    {
        if (_current is null)
        {
            return;
        }
        _current.End = Stopwatch.GetTimestamp();
        _current.FinishedAt = DateTimeOffset.UtcNow;
        _current.After = ChildrenUsage.Now();
        _current.Pid = pid;
        _current.ExitCode = exitCode;
        _current = null;
    }

    public StepStatus Ended(StepStatus final)
    {
        GatesDone();
        List<Attempt> done = Done();
        ChildrenUsage total = done.Count == 0 ? default : Diff(done[0].Before, done[^1].After);
        CgroupUsage? cgroup = ContainerRoot ? CgroupUsage.ReadFigures() : null;
        var usage = new StepUsage
        {
            WaitMs = Ms(_created, _gatesDone),
            RunMs = done.Count == 0 ? 0 : Ms(done[0].Start, done[^1].End),
            Attempts = done.Count,
            UserCpuMs = total.UserMicros / 1000,
            SystemCpuMs = total.SystemMicros / 1000,
            MaxRssKiB = total.MaxRssKiB,
            CgroupMemoryPeakBytes = cgroup?.MemoryPeakBytes,
            CgroupCpuMs = cgroup?.CpuMicros / 1000,
            TraceId = Tracing ? TraceId : null,
            SpanId = Tracing ? SpanId : null,
            AttemptList = Kept(done),
        };
        return final with { Usage = usage };
    }

    /// <summary>Exports the spans of the recorded step (<paramref name="recorded"/>: its final status), if tracing; one warning on failure, never an exception.</summary>
    public void Export(StepStatus recorded, NameResolver? resolver = null)
    {
        if (!Tracing || recorded.Usage is null)
        {
            return;
        }
        string? failure;
        try
        {
            failure = new OtlpExporter(_export!, resolver ?? new NameResolver()).Export(Resource(), Spans(recorded));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever went wrong, the step has been recorded and its exit code stands.
            failure = e.Message;
        }
        if (failure is not null)
        {
            Log.ExportFailed(_logger, _export!.Endpoint, failure);
        }
    }

    /// <summary>The resource: the service, the pod and container (downward API variables, when the pod spec sets them), then OTEL_RESOURCE_ATTRIBUTES.</summary>
    internal List<SpanAttribute> Resource()
    {
        var attributes = new List<SpanAttribute> { SpanAttribute.Of("service.name", _export?.ServiceName ?? "emissary") };
        void FromEnv(string key, string variable)
        {
            if (_env(variable) is { Length: > 0 } value)
            {
                attributes.Add(SpanAttribute.Of(key, value));
            }
        }
        FromEnv("k8s.pod.name", "POD_NAME");
        FromEnv("k8s.namespace.name", "POD_NAMESPACE");
        FromEnv("k8s.pod.uid", "POD_UID");
        FromEnv("k8s.node.name", "NODE_NAME");
        FromEnv("host.name", "HOSTNAME");
        if (_env("CONTAINER_NAME") is { Length: > 0 } container)
        {
            attributes.Add(SpanAttribute.Of("k8s.container.name", container));
            attributes.Add(SpanAttribute.Of("container.name", container));
        }
        else if (_env("KUBERNETES_SERVICE_HOST") is { Length: > 0 })
        {
            // In a pod `emissary rewrite` made, a step is named after its container.
            attributes.Add(SpanAttribute.Of("k8s.container.name", _step));
        }
        foreach (Setting setting in _export?.ResourceAttributes ?? [])
        {
            attributes.RemoveAll(a => a.Key == setting.Key);
            attributes.Add(SpanAttribute.Of(setting.Key, setting.Value));
        }
        return attributes;
    }

    internal List<SpanRecord> Spans(StepStatus recorded)
    {
        StepUsage usage = recorded.Usage!;
        DateTimeOffset end = recorded.FinishedAt ?? DateTimeOffset.UtcNow;
        var stepAttributes = new List<SpanAttribute>
        {
            SpanAttribute.Of("emissary.step", _step),
            SpanAttribute.Of("emissary.state", recorded.State.JsonName()),
            SpanAttribute.Of("emissary.attempts", usage.Attempts),
            SpanAttribute.Of("emissary.wait_ms", usage.WaitMs),
            SpanAttribute.Of("emissary.run_ms", usage.RunMs),
            SpanAttribute.Of("emissary.cpu.user_ms", usage.UserCpuMs),
            SpanAttribute.Of("emissary.cpu.system_ms", usage.SystemCpuMs),
            SpanAttribute.Of("emissary.memory.max_rss_kib", usage.MaxRssKiB),
        };
        if (recorded.Reason is { } reason) stepAttributes.Add(SpanAttribute.Of("emissary.reason", reason));
        if (recorded.ExitCode is { } code) stepAttributes.Add(SpanAttribute.Of("process.exit.code", code));
        if (_command is not null) stepAttributes.Add(SpanAttribute.Of("process.command", _command));
        if (usage.CgroupMemoryPeakBytes is { } peak) stepAttributes.Add(SpanAttribute.Of("emissary.cgroup.memory_peak_bytes", peak));
        if (usage.CgroupCpuMs is { } cgroupCpu) stepAttributes.Add(SpanAttribute.Of("emissary.cgroup.cpu_ms", cgroupCpu));

        var spans = new List<SpanRecord>
        {
            new()
            {
                TraceId = TraceId,
                SpanId = SpanId,
                ParentSpanId = _parent?.SpanId,
                Name = _step,
                Start = _createdAt,
                End = end,
                Attributes = stepAttributes,
                Status = recorded.State switch
                {
                    StepState.Succeeded => SpanStatusCode.Ok,
                    StepState.Failed => SpanStatusCode.Error,
                    _ => SpanStatusCode.Unset, // skipped: nothing ran, nothing failed here
                },
                StatusMessage = recorded.State == StepState.Failed ? recorded.Message ?? recorded.Reason : null,
            },
            new()
            {
                TraceId = TraceId,
                SpanId = WaitSpanId,
                ParentSpanId = SpanId,
                Name = "wait",
                Start = _createdAt,
                End = _gatesDoneAt ?? end,
                Attributes = recorded.State == StepState.Skipped && recorded.Message is { } why ? [SpanAttribute.Of("emissary.skipped", why)] : [],
            },
        };
        int number = 0;
        foreach (Attempt a in Done())
        {
            number++;
            ChildrenUsage d = Diff(a.Before, a.After);
            var attributes = new List<SpanAttribute>
            {
                SpanAttribute.Of("emissary.attempt", number),
                SpanAttribute.Of("process.exit.code", a.ExitCode),
                SpanAttribute.Of("emissary.cpu.user_ms", d.UserMicros / 1000),
                SpanAttribute.Of("emissary.cpu.system_ms", d.SystemMicros / 1000),
                SpanAttribute.Of("emissary.memory.max_rss_kib", d.MaxRssKiB),
            };
            if (a.Pid > 0) attributes.Add(SpanAttribute.Of("process.pid", a.Pid));
            if (_command is not null) attributes.Add(SpanAttribute.Of("process.command", _command));
            spans.Add(new SpanRecord
            {
                TraceId = TraceId,
                SpanId = a.SpanId,
                ParentSpanId = SpanId,
                Name = $"attempt {number}",
                Start = a.StartedAt,
                End = a.FinishedAt,
                Attributes = attributes,
                Status = a.ExitCode == 0 ? SpanStatusCode.Ok : SpanStatusCode.Error,
                StatusMessage = a.ExitCode == 0 ? null : $"exit code {a.ExitCode}",
            });
        }
        return spans;
    }

    private List<Attempt> Done() => _attempts.FindAll(a => a.End != 0);

    /// <summary>The latest attempts, at most <see cref="StepUsage.AttemptsKept"/>, for status.json.</summary>
    private static AttemptUsage[] Kept(List<Attempt> done)
    {
        int from = Math.Max(done.Count - StepUsage.AttemptsKept, 0);
        var kept = new AttemptUsage[done.Count - from];
        for (int i = from; i < done.Count; i++)
        {
            Attempt a = done[i];
            ChildrenUsage d = Diff(a.Before, a.After);
            kept[i - from] = new AttemptUsage
            {
                ExitCode = a.ExitCode,
                StartedAt = a.StartedAt,
                FinishedAt = a.FinishedAt,
                UserCpuMs = d.UserMicros / 1000,
                SystemCpuMs = d.SystemMicros / 1000,
                MaxRssKiB = d.MaxRssKiB,
            };
        }
        return kept;
    }

    /// <summary>CPU times are differences; the peak is the later figure (a maximum cannot be subtracted).</summary>
    private static ChildrenUsage Diff(ChildrenUsage before, ChildrenUsage after) =>
        new(Math.Max(after.UserMicros - before.UserMicros, 0), Math.Max(after.SystemMicros - before.SystemMicros, 0), after.MaxRssKiB);

    private static long Ms(long from, long to) => to <= from ? 0 : (long)Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    private static class Log
    {
        public static void Note(ILogger logger, string note)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"telemetry: {note}");
            }
        }

        public static void ExportFailed(ILogger logger, string endpoint, string reason)
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                logger.Write(LogLevel.Warning, $"telemetry: cannot export spans to {endpoint}: {reason} (the step's outcome is unchanged)");
            }
        }
    }
}
