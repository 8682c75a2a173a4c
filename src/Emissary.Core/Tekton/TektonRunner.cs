using Emissary.Foundation;
using Emissary.Events;
using Emissary.Interop;
using Emissary.Logging;
using Emissary.Output;
using Emissary.Sidecars;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Tekton;

/// <summary>
/// The real <see cref="ITektonRunner"/>: the command posix_spawned in its own process group by the
/// core's supervisor (signals forwarded, every zombie reaped), its output appended to
/// -stdout_path/-stderr_path, killed at -timeout or when the TaskRun is cancelled.
/// </summary>
internal sealed class TektonRunner(TektonStepOptions options, TektonPaths paths, IEventLoop loop, IClock clock, ILogger logger) : ITektonRunner
{
    public ChildOutcome Run(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> environment, TimeSpan? deadline)
    {
        if (argv.Count == 0 || argv[0].Length == 0)
        {
            // Go's exec fails an empty command too (exec: no command); Go() hands the runner whatever it has.
            throw new LaunchException("no command to run: neither -entrypoint nor arguments after --", ExitCodes.NotFound);
        }
        string? path = environment.TryGetValue("PATH", out string? changed) ? changed : Environment.GetEnvironmentVariable("PATH");
        ResolvedCommand command = CommandResolver.Resolve(argv, path, FileProbe.Probe);
        var launch = new LaunchSettings { ExtraEnvironment = environment, Hermetic = Hermetic };
        using OutputCapture? capture = OutputCapture.StartAppending(
            new CaptureOptions(options.StdoutPath, options.StderrPath, false, 0), loop, logger);
        if (capture is not null)
        {
            launch = launch with { StdoutFd = capture.ChildStdout, StderrFd = capture.ChildStderr };
        }
        var policy = new SupervisionPolicy
        {
            // Tekton kills the command with SIGKILL at the deadline; here the group gets SIGTERM and SIGKILL at once.
            Timeout = deadline,
            Grace = TimeSpan.Zero,
            StopSignal = Signals.KILL,
        };
        var supervisor = new Supervisor(new PosixProcessLauncher(), loop, clock, logger);
        try
        {
            return supervisor.Run(command, policy, launch,
                stopWhen: Directory.Exists(Path.GetDirectoryName(paths.CancelFile)) ? new CancelFile(paths.CancelFile) : null);
        }
        finally
        {
            capture?.Finish();
        }
    }

    /// <summary>runner.go: TEKTON_HERMETIC=1 without TEKTON_RESOURCE_NAME runs the command without network (dropNetworking).</summary>
    private static bool Hermetic => Environment.GetEnvironmentVariable("TEKTON_HERMETIC") == "1"
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TEKTON_RESOURCE_NAME"));

    /// <summary>keep-pod-on-cancel: the controller patches tekton.dev/cancel, the kubelet projects it; Tekton polls it every second too.</summary>
    private sealed class CancelFile(string path) : IStopCondition
    {
        public unsafe bool ShouldStop()
        {
            StatX st;
            return Libc.StatX(Libc.AT_FDCWD, path, 0, Libc.STATX_SIZE, &st) == 0 && st.Size > 0;
        }

        public string Reason => "the TaskRun was cancelled (" + path + ")";

        public TimeSpan? RecheckEvery => TimeSpan.FromSeconds(1);
    }
}
