using System.IO.Compression;
using System.Text;

namespace Emissary.Results;

/// <summary>
/// A compressed termination message: an ASCII prefix, then the standard base64 alphabet without
/// padding of a raw DEFLATE stream (RFC 1951, no zlib or gzip header) at the smallest size. This is
/// Tekton's <c>tknz:</c> encoding (pkg/termination: flate.BestCompression, base64.RawStdEncoding);
/// the emissary format uses it with a prefix of its own. One place for both, so the two formats
/// compress and — above all — inflate the same way, within the same kind of bound.
/// </summary>
internal static class DeflateText
{
    /// <summary><paramref name="prefix"/> + base64 (no padding) of <paramref name="plain"/> deflated.</summary>
    public static byte[] Compress(string prefix, ReadOnlySpan<byte> plain)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(plain);
        }
        string encoded = Convert.ToBase64String(buffer.GetBuffer(), 0, (int)buffer.Length).TrimEnd('=');
        return Encoding.ASCII.GetBytes(prefix + encoded);
    }

    /// <summary>
    /// What <paramref name="base64NoPadding"/> (the text after the prefix) inflates to, or null when
    /// it is not unpadded base64 of a DEFLATE stream or inflates past <paramref name="maxInflated"/>
    /// bytes: at most that many + 1 bytes are ever produced, so a decompression bomb in a message
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
            byte[] raw = Convert.FromBase64String(text);
            using var deflate = new DeflateStream(new MemoryStream(raw), CompressionMode.Decompress);
            byte[] output = new byte[maxInflated + 1];
            int length = 0;
            int n;
            while (length < output.Length && (n = deflate.Read(output, length, output.Length - length)) > 0)
            {
                length += n;
            }
            return length > maxInflated ? null : output[..length];
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            return null;
        }
    }
}
