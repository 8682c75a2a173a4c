namespace Emissary.Webhook;

/// <summary>
/// A count of bytes held, shared by every connection, that never goes past its capacity: a
/// review takes its share before it holds the memory and gives it back when it lets it go. Taking
/// never waits (a full budget is answered 503 at once), so it cannot itself be made to hang.
/// </summary>
internal sealed class ByteBudget(long capacity)
{
    private long _held;

    public long Capacity => capacity;

    /// <summary>Bytes held now (for the tests and the log).</summary>
    public long Held => Volatile.Read(ref _held);

    /// <summary>Takes <paramref name="bytes"/> if they fit under the capacity; false and nothing taken otherwise.</summary>
    public bool TryTake(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long held = Volatile.Read(ref _held);
        while (true)
        {
            if (held + bytes > capacity)
            {
                return false;
            }
            long seen = Interlocked.CompareExchange(ref _held, held + bytes, held);
            if (seen == held)
            {
                return true;
            }
            held = seen;
        }
    }

    public void Give(long bytes) => Interlocked.Add(ref _held, -bytes);
}

/// <summary>The budget was full: the review is refused with 503 (the API server's failurePolicy decides).</summary>
internal sealed class BudgetExhaustedException(string message) : Exception(message);
