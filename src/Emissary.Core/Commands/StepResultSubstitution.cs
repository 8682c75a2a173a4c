using Emissary.Foundation.Sequences;
using System.Text;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Results;
using Emissary.Supervision;
using Emissary.Supervision.Posix;

namespace Emissary.Commands;

/// <summary>
/// <c>$(steps.NAME.results.KEY)</c> in the command, its arguments and the environment (except
/// <c>EMISSARY_*</c> variables, which are emissary's own settings) is replaced by the result's
/// value once the gates are open, when the upstream steps have written their results. The value
/// is inserted as it is, never scanned again (no injection through a result); a command whose
/// first word held a reference is looked up on PATH again.
/// </summary>
internal static class StepResultSubstitution
{
    /// <summary>
    /// The variables of emissary's own environment (read from <c>environ</c>, as the launcher
    /// does: Environment.GetEnvironmentVariables() would pull a Hashtable into the binary) whose
    /// value holds a reference; <c>EMISSARY_*</c> are emissary's settings and stay as they are.
    /// </summary>
    private static List<(string Name, string Value)> ReferringVariables()
    {
        var found = new List<(string, string)>();
        foreach (ReadOnlySpan<byte> entry in ProcessEnvironment.Entries)
        {
            // An entry without '=' or with an empty name is no variable to substitute.
            if (!ProcessEnvironment.Split(entry, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> bytes)
                || name.Length == 0 || name.StartsWith("EMISSARY_"u8) || bytes.IndexOf("$(steps."u8) < 0)
            {
                continue;
            }
            string value = Encoding.UTF8.GetString(bytes);
            if (value.Contains("$(steps.", StringComparison.Ordinal))
            {
                found.Add((Encoding.UTF8.GetString(name), value));
            }
        }
        return found;
    }

    /// <summary>The preparation step for <see cref="StepPlan.Prepare"/>, or null when nothing refers to a result.</summary>
    public static Func<StepPlan, StepPlan>? For(IReadOnlyList<string> command, ControlDirectory directory)
    {
        var environment = new List<(string Name, string Value)>();
        foreach ((string name, string value) in ReferringVariables())
        {
            environment.Add((name, value));
        }
        bool inCommand = false;
        foreach (string argument in command)
        {
            inCommand |= argument.Contains("$(steps.", StringComparison.Ordinal);
        }
        if (environment.Count == 0 && !inCommand)
        {
            return null;
        }
        return plan =>
        {
            var files = new StepResultFiles(directory);
            string[] argv = new string[command.Count];
            for (int i = 0; i < argv.Length; i++)
            {
                argv[i] = files.Substitute(command[i]);
            }
            var extra = new Dictionary<string, string>(plan.Launch.ExtraEnvironment);
            foreach ((string name, string value) in environment)
            {
                extra[name] = files.Substitute(value);
            }
            plan = plan with { Launch = plan.Launch with { ExtraEnvironment = extra } };
            if (argv[0] == command[0] && plan.Command is { } resolved)
            {
                return plan with { Command = resolved with { Arguments = argv.Skip(1).ToArray(), Argv = argv } };
            }
            try
            {
                return plan with { Command = CommandResolver.Resolve(argv, Environment.GetEnvironmentVariable("PATH"), FileProbe.Probe), CommandProblem = null };
            }
            catch (LaunchException e)
            {
                return plan with { Command = null, CommandProblem = e };
            }
        };
    }
}
