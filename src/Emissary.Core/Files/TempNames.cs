using Emissary.Interop;

namespace Emissary.Files;

/// <summary>Names for temporary files in directories another container can write to.</summary>
internal static class TempNames
{
    /// <summary>
    /// 64 unpredictable bits as 16 hex digits, for temporary file names another container must not
    /// guess. getrandom(2) without blocking; if the kernel cannot answer (no getrandom, pool not yet
    /// initialised) the runtime's generator is used: O_EXCL keeps a guessed name harmless anyway.
    /// </summary>
    public static unsafe string RandomHex()
    {
        ulong value;
        if (Libc.GetRandom(&value, sizeof(ulong), Libc.GRND_NONBLOCK) != sizeof(ulong))
        {
            value = (ulong)Random.Shared.NextInt64();
        }
        return value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
