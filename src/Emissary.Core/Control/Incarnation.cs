using System.Text;
using Emissary.Files;
using Emissary.Interop;

namespace Emissary.Control;

/// <summary>
/// DIR/.incarnation: which run of the whole pod the records belong to. When the kubelet restarts
/// every container of a pod in place (KEP-5532, a <c>RestartAllContainers</c> rule), the
/// sandbox and its emptyDirs stay, and so would every step's record from before. The step whose
/// exit triggers that restart knows it will (its <c>--restart-rules</c> say so), so it writes a
/// new random id here before it exits; every step records the id it registered under in its
/// status.json (<c>incarnation</c>), and a record under another id than the current one reads
/// as "not yet run" — to a dependant's gate, and to the step itself, whose restart count starts
/// again. No file (no pod restart ever happened) is an id of its own: records without one match.
/// </summary>
internal static class Incarnation
{
    public const string File = ".incarnation";

    /// <summary>A random id is 32 hex digits; anything longer, or not hex, is not an id.</summary>
    private const int MaxBytes = 64;

    /// <summary>
    /// The current id, or null when none was ever written. Read as untrusted (any uid of the pod
    /// can write the shared root): a link, a FIFO, a device, an over-long or non-hex file is no id.
    /// </summary>
    public static string? Read(ControlDirectory dir)
    {
        using SafeFd? root = dir.OpenRoot();
        if (root is null || UntrustedFile.Read(root.Fd, File, MaxBytes) is not { Outcome: ReadOutcome.Read, Bytes: { } bytes })
        {
            return null;
        }
        string id = Encoding.ASCII.GetString(bytes).Trim();
        return id.Length > 0 && IsHex(id) ? id : null;
    }

    /// <summary>Starts a new incarnation: a fresh id in DIR/.incarnation (atomically, in the root it opens itself). Returns it.</summary>
    public static string Begin(ControlDirectory dir)
    {
        string id = TempNames.RandomHex();
        using SafeFd root = dir.OpenRootCreating();
        AtomicFile.WriteAt(root.Fd, File, Encoding.ASCII.GetBytes(id + "\n"));
        return id;
    }

    /// <summary>Whether a record made under <paramref name="recorded"/> belongs to the incarnation <paramref name="current"/>.</summary>
    public static bool IsCurrent(string? recorded, string? current) => current is null || string.Equals(recorded, current, StringComparison.Ordinal);

    private static bool IsHex(string id)
    {
        foreach (char c in id)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }
        return true;
    }
}
