using Emissary.Foundation;
using Emissary.Events;
using Emissary.Supervision;

namespace Emissary.Tests.Unit.Fakes;

/// <summary>A launcher that records what the loop asked of the operating system.</summary>
internal sealed class FakeLauncher(int pid = 100) : IProcessLauncher
{
    public List<(int Pid, bool ToGroup, int Signal)> Sent { get; } = [];

    public List<(ResolvedCommand Command, LaunchSettings Settings)> Started { get; } = [];

    public Exception? FailWith { get; set; }

    /// <summary>Pids for which kill() reports ESRCH.</summary>
    public HashSet<int> Gone { get; } = [];

    public int Start(ResolvedCommand command, LaunchSettings settings)
    {
        if (FailWith is not null)
        {
            throw FailWith;
        }
        Started.Add((command, settings));
        return pid;
    }

    /// <summary>What probing the group with signal 0 answers: whether anything is left in it.</summary>
    public bool GroupAlive { get; set; } = true;

    public bool Signal(int target, bool toGroup, int signal)
    {
        if (Gone.Contains(target))
        {
            return false;
        }
        if (signal == 0)
        {
            return GroupAlive;
        }
        Sent.Add((target, toGroup, signal));
        return true;
    }
}

/// <summary>Plays a script of events; each may advance the fake clock first.</summary>
internal sealed class ScriptedEvents(FakeClock clock) : ISupervisorEvents
{
    private readonly Queue<Func<TimeSpan?, SupervisorEvent>> _script = new();

    public List<TimeSpan?> Waits { get; } = [];

    public ScriptedEvents Then(SupervisorEvent e)
    {
        _script.Enqueue(_ => e);
        return this;
    }

    /// <summary>Nothing happens until the loop's own deadline: the clock jumps to it.</summary>
    public ScriptedEvents ThenWaitForDeadline()
    {
        _script.Enqueue(timeout =>
        {
            timeout.Should().NotBeNull("the loop must have a deadline when it expects one");
            clock.Advance(timeout!.Value);
            return SupervisorEvent.Deadline;
        });
        return this;
    }

    public SupervisorEvent Next(TimeSpan? timeout)
    {
        Waits.Add(timeout);
        if (_script.Count == 0)
        {
            throw new InvalidOperationException("the loop waited for an event the script does not have (it would hang)");
        }
        return _script.Dequeue()(timeout);
    }
}

internal sealed class FakeClock : IClock
{
    public TimeSpan Elapsed { get; private set; }

    public DateTimeOffset UtcNow => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) + Elapsed;

    public void Advance(TimeSpan by) => Elapsed += by;
}
