using Emissary.Interop;

namespace Emissary.Cli;

/// <summary>
/// The <c>EMISSARY_*</c> variables an option may also come from (<see cref="CliOption.EnvName"/>).
/// Most starts have none, and then no option's variable name is made or looked up: a command reads
/// every one of its options (50 for <c>run</c>) at every start.
/// </summary>
internal static class SettingVariables
{
    public const string Prefix = "EMISSARY_";

    /// <summary>
    /// The lookup for <see cref="OptionValues"/>: the process environment when it holds an
    /// <c>EMISSARY_*</c> variable, null (nothing to look up) when it does not. One pass over
    /// <c>environ</c>, comparing bytes in place.
    /// </summary>
    public static Func<string, string?>? Lookup()
    {
        foreach (ReadOnlySpan<byte> entry in ProcessEnvironment.Entries)
        {
            if (entry.StartsWith("EMISSARY_"u8)) // Prefix, as bytes
            {
                return Environment.GetEnvironmentVariable;
            }
        }
        return null;
    }
}
