using Emissary.Interop;

namespace Emissary.Supervision.Posix;

/// <summary>
/// Orphans of the command reaped here, by <c>run</c> and the Tekton entrypoint alike. As PID 1 the
/// kernel re-parents every orphan to us already; otherwise we become a child subreaper so that they
/// do not pile up as zombies under the real init.
/// </summary>
internal static class Subreaper
{
    /// <summary>Null when orphans will be reaped here, else why not (prctl's errno, described).</summary>
    public static string? Become() =>
        Libc.GetPid() != 1 && Libc.Prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 ? Libc.Describe(Libc.LastErrno) : null;
}
