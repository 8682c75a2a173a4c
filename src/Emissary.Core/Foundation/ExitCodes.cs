namespace Emissary.Foundation;

/// <summary>
/// The exit codes of <c>emissary run</c>. They follow GNU timeout/env and tini so
/// that a reader of a pod's status can tell "the command failed" from "emissary could not run it".
/// </summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Any emissary command: bad usage.</summary>
    public const int Usage = 125;

    /// <summary>
    /// The command did not run because an upstream step failed, was skipped or died, or because
    /// `emissary skip` was used. Outside 124–127 and 128+S so it cannot be mistaken for those.
    /// </summary>
    public const int Skipped = 123;

    /// <summary>`emissary debug fail` failed a paused step whose command had not failed (or had not run).</summary>
    public const int FailedByRequest = 121;

    /// <summary>The command succeeded but its results are invalid or do not fit the termination message.</summary>
    public const int ResultsFailed = 122;

    /// <summary><c>--timeout</c> expired (GNU timeout).</summary>
    public const int TimedOut = 124;

    /// <summary>Emissary's own failure: bad flags, a gate that failed, I/O (GNU env/timeout).</summary>
    public const int EmissaryFailure = 125;

    /// <summary>The command was found but could not be executed (not executable, a directory).</summary>
    public const int CannotExecute = 126;

    /// <summary>The command was not found.</summary>
    public const int NotFound = 127;

    /// <summary>The child was killed by signal S: 128 + S (shells and tini).</summary>
    public static int ForSignal(int signal) => 128 + signal;
}
