using System.Text;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;
using Microsoft.Win32.SafeHandles;

namespace Emissary.Tools.Cli;

/// <summary>Reads a command's input file ("-": stdin), up to <see cref="MaxBytes"/>; a failure is one usage line.</summary>
internal static class InputText
{
    public const string StandardInput = "-";

    /// <summary>
    /// Largest input read: far above any real manifest stream (a Helm chart's output is a few
    /// hundred KiB), and it bounds what the YAML representation model holds in memory (tens of
    /// bytes of nodes per byte of small documents).
    /// </summary>
    public const int MaxBytes = 16 * 1024 * 1024;

    public static string Read(string path) => path == StandardInput ? ReadStandardInput() : ReadFile(path);

    public static string ReadFile(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            return ReadBounded(file, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read {path}: {ErrorText.Reason(e)}");
        }
    }

    // No System.Console in the static binaries: read fd 0 directly.
    private static string ReadStandardInput()
    {
        try
        {
            using var stdin = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
            return ReadBounded(stdin, "stdin");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UsageException($"cannot read stdin: {ErrorText.Reason(e)}");
        }
    }

    /// <summary>Reads at most <see cref="MaxBytes"/> + 1 bytes, whatever the stream claims its length is (a pipe, /dev/zero).</summary>
    private static string ReadBounded(Stream stream, string name)
    {
        byte[] buffer = new byte[64 * 1024];
        using var bytes = new MemoryStream();
        int read;
        while ((read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, MaxBytes + 1L - bytes.Length))) > 0)
        {
            bytes.Write(buffer, 0, read);
            if (bytes.Length > MaxBytes)
            {
                throw new UsageException($"{name} is larger than {MaxBytes / (1024 * 1024)} MiB: emissary reads manifests up to that size (split it)");
            }
        }
        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(bytes.GetBuffer(), 0, (int)bytes.Length);
    }
}
