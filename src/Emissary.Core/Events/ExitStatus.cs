using Emissary.Foundation;

namespace Emissary.Events;

/// <summary>How a child process ended, decoded from a wait status.</summary>
internal readonly record struct ExitStatus(int Code, int Signal)
{
    public bool Signaled => Signal != 0;

    /// <summary>The shell's view of the status: N, or 128+S when killed by a signal.</summary>
    public int ToExitCode() => Signaled ? ExitCodes.ForSignal(Signal) : Code;

    public static ExitStatus Exited(int code) => new(code, 0);

    public static ExitStatus KilledBy(int signal) => new(0, signal);

    /// <summary>Decodes a waitpid status word (WIFEXITED/WEXITSTATUS/WTERMSIG).</summary>
    public static ExitStatus FromWaitStatus(int status)
    {
        int termSignal = status & 0x7f;
        return termSignal == 0 ? Exited((status >> 8) & 0xff) : KilledBy(termSignal);
    }

    public override string ToString() => Signaled ? $"killed by {Signals.Name(Signal)}" : $"exit code {Code}";
}
