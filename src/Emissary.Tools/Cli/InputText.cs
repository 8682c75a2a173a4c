using Microsoft.Win32.SafeHandles;
using System.Text;
using Emissary.Commands;
using Emissary.Foundation;
using Emissary.Tools.Cli;
using Emissary.Tools.Commands;

namespace Emissary.Tools.Cli;

/// <summary>Reads a command's input file ("-": stdin); a failure is one usage line.</summary>
internal static class InputText
{
    public const string StandardInput = "-";

    public static string Read(string path) => path == StandardInput ? ReadStandardInput() : ReadFile(path);

    public static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
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
            using var reader = new StreamReader(stdin, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UsageException($"cannot read stdin: {ErrorText.Reason(e)}");
        }
    }
}
