using System.Text;

namespace Emissary.Results;

/// <summary>
/// A compressed termination message: an ASCII prefix, then the standard base64 alphabet without
/// padding of a raw DEFLATE stream (RFC 1951, no zlib or gzip header). This is Tekton's
/// <c>tknz:</c> encoding (pkg/termination: flate.BestCompression, base64.RawStdEncoding); the
/// emissary format uses it with a prefix of its own. One place for both framings and for
/// inflating (<see cref="Deflate.Inflate"/>, within a bound); the Tekton drop-in alone still
/// deflates with System.IO.Compression, so its bytes stay what they were.
/// </summary>
internal static class DeflateText
{
    /// <summary><paramref name="prefix"/> + base64 (no padding) of <paramref name="plain"/> deflated (<see cref="Deflate.Compress"/>).</summary>
    public static byte[] Compress(string prefix, ReadOnlySpan<byte> plain) => Encode(prefix, Deflate.Compress(plain));

    /// <summary><paramref name="prefix"/> + base64 (no padding) of a raw DEFLATE stream.</summary>
    public static byte[] Encode(string prefix, ReadOnlySpan<byte> deflated) =>
        Encoding.ASCII.GetBytes(prefix + Convert.ToBase64String(deflated).TrimEnd('='));

    /// <summary>
    /// What <paramref name="base64NoPadding"/> (the text after the prefix) inflates to, or null when
    /// it is not unpadded base64 of a DEFLATE stream or inflates past <paramref name="maxInflated"/>
    /// bytes: no more than that is ever produced, so a decompression bomb in a message
    /// another container wrote costs no more memory than a plain message of that size.
    /// </summary>
    public static byte[]? Inflate(ReadOnlySpan<byte> base64NoPadding, int maxInflated)
    {
        try
        {
            string text = Encoding.ASCII.GetString(base64NoPadding);
            if (text.Contains('='))
            {
                return null; // RawStdEncoding: padding is an error
            }
            text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
            return Deflate.Inflate(Convert.FromBase64String(text), maxInflated);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
