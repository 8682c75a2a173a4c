using System.Runtime.InteropServices;
using Emissary.Files;
using Emissary.Foundation;
using Emissary.Foundation.Sequences;
using Emissary.Json;
using Emissary.Logging;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Tekton;

/// <summary>
/// cmd/entrypoint/main.go after the flags: the step lock, credentials, the command, the
/// when-expressions and the refusals, then the composition root of <see cref="TektonStep"/>.
/// </summary>
internal static class TektonHost
{
    /// <summary>main.go after the flags: credentials, the command, when-expressions, refusals, then the step.</summary>
    public static int Run(TektonStepOptions options, TektonPaths paths, TektonCredentials credentials)
    {
        var logger = new StderrLogger(LogLevel.Warning, LogFormat.Text, null);
        // $(step.results.X.path) in -stdout_path goes through /tekton/steps/step-NAME, a link that
        // Tekton's init container made on a volume every step mounts read-only.
        WritePath.TrustLinksIn(paths.Steps);
        // Held until exit, released by the kernel however we end: the next step's crash detector.
        // Taken first, so that a step refused below (Tekton's log.Fatal cases, which write no post
        // file) ends the next step's wait too instead of leaving it hanging.
        string? lockProblem = null;
        using TektonStepLock? stepLock = options.PostFile.Length > 0
            ? TektonStepLock.Take(Path.GetDirectoryName(Path.GetFullPath(options.PostFile)) ?? "/", out lockProblem) : null;
        if (lockProblem is not null)
        {
            GoLog.Print($"warning: {lockProblem}: the next step cannot tell if this one is killed");
        }
        credentials.Write();

        List<string> command;
        if (options.Entrypoint is { } entrypoint)
        {
            command = [entrypoint, .. options.CommandArgs];
        }
        else if (PlatformCommand(out string? problem) is { } platform)
        {
            command = [.. platform, .. options.CommandArgs];
        }
        else
        {
            return Refuse(options, problem!);
        }
        IReadOnlyList<TektonWhenExpression> when;
        try
        {
            when = TektonWhenExpressions.Parse(options.WhenExpressions);
        }
        catch (TektonWhenException e)
        {
            return Refuse(options, e.Message);
        }
        if (options.EnableSpire)
        {
            // Never ignored: the controller asked for signed results and would get unsigned ones.
            return Refuse(options, "Error: -enable_spire: SPIRE signing of results is not supported by this entrypoint (Emissary); refusing to run the step unsigned. Use Tekton's own entrypoint image with enforce-nonfalsifiability: spire.");
        }
        TektonCredentials.CopyToHome(paths);
        return RunStep(options, paths, logger, command, when);
    }

    /// <summary>The one place that builds the real seams of <see cref="TektonStep"/>.</summary>
    private static int RunStep(TektonStepOptions options, TektonPaths paths, ILogger logger,
        List<string> command, IReadOnlyList<TektonWhenExpression> when)
    {
        if (Subreaper.Become() is { } noSubreaper)
        {
            GoLog.Print($"warning: cannot become a child subreaper ({noSubreaper}): orphans of the command will not be reaped here");
        }
        var clock = new SystemClock();
        using var reactor = new Reactor();
        using var waiter = new TektonWaiter(reactor, clock, logger);
        var runner = new TektonRunner(options, paths, reactor, clock, logger);
        return new TektonStep(options, paths, waiter, runner, new TektonPostWriter(options), clock).Go(command, when);
    }

    /// <summary>
    /// Tekton's log.Fatal before the step: one line, exit 1, no post file. The process lived, so the
    /// termination message says when (best effort); the released lock tells the next step.
    /// </summary>
    private static int Refuse(TektonStepOptions options, string message)
    {
        GoLog.Print(message);
        try
        {
            TektonTerminationMessage.Append(options.TerminationPath,
                [new TektonEntry("StartedAt", Rfc3339.Format(DateTimeOffset.UtcNow), TektonResultType.InternalTektonResult)], options.CompressTerminationMessage);
        }
        catch (Exception e) when (e is IOException or TektonMessageTooLongException)
        {
            GoLog.Print($"Error while writing message: {e.Message}");
        }
        return 1;
    }

    /// <summary>TEKTON_PLATFORM_COMMANDS[os/arch[/variant]], falling back to os/arch, as selectCommandForPlatform does.</summary>
    private static string[]? PlatformCommand(out string? problem)
    {
        problem = null;
        string platform = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "linux/amd64",
            Architecture.Arm64 => "linux/arm64/v8",
            Architecture.Arm => "linux/arm/unknown",
            Architecture.S390x => "linux/s390x",
            Architecture.Ppc64le => "linux/ppc64le",
            var other => "linux/" + other.ToString().ToLowerInvariant(),
        };
        string json = Environment.GetEnvironmentVariable("TEKTON_PLATFORM_COMMANDS") ?? "";
        try
        {
            if (TektonCommandLine.SelectCommandForPlatform(JsonValue.Parse(json), platform) is { } command)
            {
                return command;
            }
            problem = $"could not find command for platform \"{platform}\"";
        }
        catch (JsonFormatException e)
        {
            problem = json.Length == 0 ? "unexpected end of JSON input (no -entrypoint and no TEKTON_PLATFORM_COMMANDS)" : e.Message;
        }
        return null;
    }
}
