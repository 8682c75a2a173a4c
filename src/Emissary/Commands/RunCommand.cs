using Emissary.Interop;
using Emissary.Supervision;
using Emissary.Supervision.Posix;
using Microsoft.Extensions.Logging;

namespace Emissary.Commands;

/// <summary>Everything <c>emissary run</c> was asked to do, after parsing and validation.</summary>
internal sealed record RunOptions
{
    public required IReadOnlyList<string> Command { get; init; }

    public SupervisionPolicy Policy { get; init; } = new();
}

/// <summary><c>emissary run [options] -- COMMAND [ARGS...]</c>.</summary>
internal static partial class RunCommand
{
    public static int Execute(RunOptions options, ILogger logger)
    {
        BecomeReaper(logger);

        ResolvedCommand command;
        try
        {
            command = CommandResolver.Resolve(options.Command, Environment.GetEnvironmentVariable("PATH"), FileProbe.Probe);
        }
        catch (LaunchException e)
        {
            Log.CannotStart(logger, e.Message);
            return e.ExitCode;
        }

        using var reactor = new Reactor();
        var supervisor = new Supervisor(new PosixProcessLauncher(), reactor, new SystemClock(), logger);
        try
        {
            return supervisor.Run(command, options.Policy, new LaunchSettings()).ExitCode;
        }
        catch (LaunchException e)
        {
            Log.CannotStart(logger, e.Message);
            return e.ExitCode;
        }
    }

    /// <summary>
    /// As PID 1 the kernel re-parents every orphan to us already; otherwise become a child subreaper
    /// so orphans of the command are reaped here instead of piling up as zombies under the real init.
    /// </summary>
    private static void BecomeReaper(ILogger logger)
    {
        if (Libc.GetPid() != 1 && Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        {
            Log.NoSubreaper(logger, Libc.Describe(Libc.LastErrno));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "{Message}")]
        public static partial void CannotStart(ILogger logger, string message);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot become a child subreaper ({Reason}): orphans of the command will not be reaped here")]
        public static partial void NoSubreaper(ILogger logger, string reason);
    }
}
