using System.Buffers;
using System.Text.Json;

namespace Emissary.Webhook;

/// <summary>
/// A JSON writer and its buffer per thread, reused review after review: the JSON Patch and the
/// response are written synchronously (no await between <see cref="Start"/> and the last use of
/// <see cref="Written"/>), so a thread never has two in use. Spares the allocation (and the page
/// clearing) of fresh buffers at hundreds of reviews per second.
/// </summary>
internal static class ScratchJson
{
    /// <summary>A buffer grown beyond this by an unusually large pod is let go rather than kept for the thread's lifetime.</summary>
    private const int KeptCapacity = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? bufferOfThread;

    [ThreadStatic]
    private static Utf8JsonWriter? writerOfThread;

    /// <summary>The thread's writer, emptied; what an earlier <see cref="Written"/> returned is overwritten.</summary>
    public static Utf8JsonWriter Start()
    {
        if (bufferOfThread is null || bufferOfThread.Capacity > KeptCapacity)
        {
            bufferOfThread = new ArrayBufferWriter<byte>(16 * 1024);
            writerOfThread = null;
        }
        bufferOfThread.ResetWrittenCount();
        if (writerOfThread is null)
        {
            writerOfThread = new Utf8JsonWriter(bufferOfThread);
        }
        else
        {
            writerOfThread.Reset(bufferOfThread);
        }
        return writerOfThread;
    }

    /// <summary>What <paramref name="writer"/> (from <see cref="Start"/>) wrote; valid until the thread's next <see cref="Start"/>.</summary>
    public static ReadOnlySpan<byte> Written(Utf8JsonWriter writer)
    {
        writer.Flush();
        return bufferOfThread!.WrittenSpan;
    }
}
