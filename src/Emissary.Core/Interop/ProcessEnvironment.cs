using System.Runtime.InteropServices;

namespace Emissary.Interop;

/// <summary>
/// emissary's own environment as the kernel handed it over (<c>environ</c>: its order and its
/// bytes), walked in place. An entry is <c>NAME=value</c>, split at its first '='; an entry
/// without one is all name. Read here rather than through <see cref="Environment"/>: bytes that
/// are not UTF-8 stay as they are, no string is made per variable, and
/// <c>Environment.GetEnvironmentVariables()</c> would pull a Hashtable into the binary.
/// </summary>
internal static unsafe class ProcessEnvironment
{
    /// <summary>The entries in order: <c>foreach (ReadOnlySpan&lt;byte&gt; entry in ProcessEnvironment.Entries)</c>.</summary>
    public static EntryList Entries => default;

    /// <summary>The entry at <paramref name="entry"/> (a NUL-terminated <c>environ</c> string).</summary>
    public static ReadOnlySpan<byte> At(byte* entry) => MemoryMarshal.CreateReadOnlySpanFromNullTerminated(entry);

    public static ReadOnlySpan<byte> NameOf(ReadOnlySpan<byte> entry)
    {
        int equals = entry.IndexOf((byte)'=');
        return equals < 0 ? entry : entry[..equals];
    }

    /// <summary>
    /// The name before the first '=' and the value after it; false for an entry without one (then
    /// all of it is the name, as <see cref="NameOf"/> says, and the value is empty).
    /// </summary>
    public static bool Split(ReadOnlySpan<byte> entry, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        int equals = entry.IndexOf((byte)'=');
        name = equals < 0 ? entry : entry[..equals];
        value = equals < 0 ? default : entry[(equals + 1)..];
        return equals >= 0;
    }

    internal readonly ref struct EntryList
    {
        public Enumerator GetEnumerator() => new(Shim.Environ());
    }

    internal ref struct Enumerator(byte** first)
    {
        private byte** _next = first;
        private byte* _current;

        public readonly ReadOnlySpan<byte> Current => At(_current);

        public bool MoveNext()
        {
            if (_next == null || *_next == null)
            {
                return false;
            }
            _current = *_next;
            _next++;
            return true;
        }
    }
}
