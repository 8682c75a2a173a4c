using Emissary.Foundation.Sequences;

namespace Emissary.Cli;

/// <summary>
/// One option as a command line gave it: the <see cref="RunCli"/> option (null when run has no
/// such option), its value ("true" for a flag written alone) and the tokens it took, verbatim.
/// </summary>
internal sealed record GivenOption(CliOption? Option, string Value, IReadOnlyList<string> Tokens);

/// <summary>
/// Reads the options of an <c>emissary run</c> command line that someone else wrote (a rewritten
/// pod), leniently: where <see cref="CliParser"/> stops at an unknown option, this keeps it, so
/// that flags of another version pass through. Whether an option takes a value comes from
/// <see cref="RunCli.Options"/>' <see cref="ArgKind"/>, the same table run parses with; an unknown
/// option takes the next token as its value unless written <c>--opt=value</c>.
/// </summary>
internal static class RunArgumentReader
{
    public const string EndOfOptions = "--";

    /// <summary>
    /// The options from <paramref name="start"/> up to <c>--</c>; <paramref name="end"/> is the
    /// index of that <c>--</c>, or the number of arguments when there is none.
    /// </summary>
    public static IReadOnlyList<GivenOption> Read(IReadOnlyList<string> args, int start, out int end)
    {
        var given = new List<GivenOption>();
        int i = start;
        for (; i < args.Count && args[i] != EndOfOptions; i++)
        {
            string arg = args[i];
            if (arg.Length < 2 || arg[0] != '-')
            {
                given.Add(new GivenOption(null, arg, [arg]));
                continue;
            }
            int eq = arg.IndexOf('=');
            CliOption? option = Find(eq > 0 ? arg[..eq] : arg);
            if (eq > 0)
            {
                given.Add(new GivenOption(option, arg[(eq + 1)..], [arg]));
            }
            else if (option?.Kind == ArgKind.Flag)
            {
                given.Add(new GivenOption(option, "true", [arg]));
            }
            else if (i + 1 < args.Count && args[i + 1] != EndOfOptions)
            {
                given.Add(new GivenOption(option, args[i + 1], [arg, args[++i]]));
            }
            else
            {
                given.Add(new GivenOption(option, "", [arg]));
            }
        }
        end = i;
        return given;
    }

    /// <summary>Run's option named <paramref name="name"/> (its own or a global one), or null.</summary>
    public static CliOption? Find(string name) =>
        RunCli.Options.Concat(OptionValues.Global).FirstOrDefault(o => o.Name == name || o.ShortName == name);
}
