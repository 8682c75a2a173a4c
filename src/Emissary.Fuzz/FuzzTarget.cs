namespace Emissary.Fuzz;

/// <summary>Feeds one input to the parser under test.</summary>
internal delegate void FuzzBody(ReadOnlySpan<byte> input);

/// <summary>A property a target checks itself (a round trip, a size a parser promises); thrown, it is a crash to afl-fuzz.</summary>
internal sealed class FuzzFinding(string message) : Exception(message);

/// <summary>
/// One fuzz target: a parser of bytes that someone else wrote, and what it must never do with
/// them. <see cref="Run"/> is the one entry both afl-fuzz (Program) and the corpus replay
/// (Emissary.Tests' FuzzCorpusTests) call: any exception other than <see cref="Allowed"/> escapes
/// (afl-fuzz records a crash), and so does allocating more than <see cref="AllocationBound"/> of
/// the input's length (a <see cref="FuzzFinding"/>). Hangs are the caller's timeout to catch.
/// </summary>
/// <param name="Name">The name scripts/fuzz.sh and the fuzz/NAME corpus go by.</param>
/// <param name="Parser">What it runs, as docs/fuzzing.md lists it.</param>
/// <param name="Never">What the parser must never do, beyond hanging.</param>
/// <param name="Allowed">The parser's documented errors (caught as a normal outcome).</param>
/// <param name="AllocationBound">Bytes the run may allocate for an input of the given length.</param>
internal sealed record FuzzTarget(string Name, string Parser, string Never, Type[] Allowed, Func<long, long> AllocationBound, FuzzBody Body)
{
    /// <summary>Runs the input; returns the bytes it allocated (once static initialisers have run).</summary>
    public long Run(ReadOnlySpan<byte> input)
    {
        long used = Measure(input);
        long bound = AllocationBound(input.Length);
        if (used > bound)
        {
            // The first use of a parser runs static initialisers and fills caches (YamlDotNet's,
            // the JIT's): measured again, only what this input costs counts.
            used = Measure(input);
            if (used > bound)
            {
                throw new FuzzFinding($"{Name}: allocated {used} bytes for an input of {input.Length} bytes; the bound is {bound}");
            }
        }
        return used;
    }

    private long Measure(ReadOnlySpan<byte> input)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            Body(input);
        }
        catch (Exception e) when (IsAllowed(e))
        {
        }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private bool IsAllowed(Exception e)
    {
        foreach (Type type in Allowed)
        {
            if (type.IsInstanceOfType(e))
            {
                return true;
            }
        }
        return false;
    }
}
