using System.Collections;
using Emissary.Control;
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
    /// <summary>The preparation step for <see cref="StepPlan.Prepare"/>, or null when nothing refers to a result.</summary>
    public static Func<StepPlan, StepPlan>? For(IReadOnlyList<string> command, ControlDirectory directory)
    {
        var environment = new List<(string Name, string Value)>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && entry.Value is string value && !name.StartsWith("EMISSARY_", StringComparison.Ordinal) && StepResultReferences.Contains(value))
            {
                environment.Add((name, value));
            }
        }
        if (environment.Count == 0 && !command.Any(StepResultReferences.Contains))
        {
            return null;
        }
        return plan =>
        {
            var files = new StepResultFiles(directory);
            string[] argv = command.Select(files.Substitute).ToArray();
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
