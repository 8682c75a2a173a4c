using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Logging;

namespace Emissary.Tekton;

/// <summary>
/// The <c>entrypoint</c> executable: Tekton's command line and nothing else, so that the
/// controller, given this image as <c>-entrypoint-image</c>, cannot tell it from its own.
/// Exit codes are Tekton's: 2 for a flag error (Go's flag.ExitOnError), 0/1 for a subcommand,
/// the step's outcome otherwise (README, "Tekton").
/// </summary>
internal static class EntrypointProgram
{
    public static int Main(string[] args)
    {
        TektonPaths paths = TektonPaths.FromEnvironment();
        (string[] flagArgs, string[] commandArgs) = TektonCommandLine.Split(args);
        GoFlagValues values;
        TektonCredentials credentials;
        try
        {
            values = GoFlags.Parse(TektonCommandLine.Flags, flagArgs);
            credentials = TektonCredentials.Load(TektonCommandLine.Bind(values, commandArgs).Credentials, paths);
        }
        catch (GoFlagException e)
        {
            Shim.ReleaseSignals();
            StderrWriter.Write(2, e.Message + "\n" + GoFlags.Usage(TektonCommandLine.ProgramName, TektonCommandLine.Flags));
            return 2;
        }
        if (values.HelpRequested)
        {
            Shim.ReleaseSignals();
            StderrWriter.Write(2, GoFlags.Usage(TektonCommandLine.ProgramName, TektonCommandLine.Flags));
            return 0;
        }
        try
        {
            if (values.Positional.Count > 0 && TektonSubcommands.TryRun(values.Positional, paths) is { } done)
            {
                return done;
            }
            return TektonHost.Run(TektonCommandLine.Bind(values, commandArgs), paths, credentials);
        }
        catch (Exception e)
        {
            // Never a stack trace: one line that says what failed (Tekton's log.Fatal exits 1 too).
            GoLog.Print($"internal error: {e.GetType().Name}: {ErrorText.Reason(e)}");
            return 1;
        }
    }
}
