using Emissary.Foundation.Sequences;
using System.Globalization;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Tekton;

/// <summary>
/// cmd/entrypoint/subcommands: <c>init</c>, <c>cp</c>, <c>decode-script</c>, <c>step-init</c>, looked
/// up on the arguments that follow the flags. Same arities as Tekton's (a wrong arity is no match,
/// and the binary then runs as a step), same outcome: the message logged and exit 0, or
/// "NAME error: ..." and exit 1. They run in the init containers (<c>prepare</c>,
/// <c>place-scripts</c>), which the controller wires and no step can write to.
/// </summary>
internal static class TektonSubcommands
{
    /// <summary>0311, Tekton's mode for the copied binary: runnable by any uid, readable by none but root.</summary>
    private const UnixFileMode CopiedBinaryMode = UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Runs the subcommand <paramref name="args"/> names and returns the exit code, or null when there is none.</summary>
    public static int? TryRun(IReadOnlyList<string> args, TektonPaths paths)
    {
        if (args.Count == 0)
        {
            return null;
        }
        string name = args[0];
        try
        {
            string? message = name switch
            {
                "init" when args.Count >= 3 => Init(args[1], args[2], args.Skip(3).ToArray(), paths),
                "cp" when args.Count == 3 => Copy(args[1], args[2]),
                "decode-script" when args.Count == 2 => DecodeScript(args[1]),
                "step-init" => StepInit(args.Skip(1).ToArray(), paths),
                _ => null,
            };
            if (message is null)
            {
                return null;
            }
            GoLog.Print(message);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SubcommandException)
        {
            GoLog.Print($"{name} error: {e.Message}");
            return 1;
        }
    }

    private static string Init(string source, string destination, string[] steps, TektonPaths paths)
    {
        Copy(source, destination);
        StepInit(steps, paths);
        return "Entrypoint initialization";
    }

    /// <summary>
    /// Copies the bytes of <paramref name="source"/> to <paramref name="destination"/>, created with
    /// mode 0311. Unlike Tekton's cp the file is truncated first, so a shorter source never leaves
    /// the tail of an older binary behind (a restarted init container).
    /// </summary>
    private static string Copy(string source, string destination)
    {
        using (FileStream input = File.OpenRead(source))
        {
            int fd = Libc.OpenRetrying(destination, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, (int)CopiedBinaryMode);
            if (fd < 0)
            {
                throw new SubcommandException($"open {destination}: {Libc.Describe(Libc.LastErrno)}");
            }
            using var output = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
            input.CopyTo(output);
        }
        return $"Copied {source} to {destination}";
    }

    /// <summary>
    /// Replaces the file with its standard-base64 decoding, keeping its mode. Like Go's decoder, line
    /// breaks (\r, \n) are ignored and anything else that is not base64 is an error.
    /// </summary>
    private static string DecodeScript(string path)
    {
        byte[] encoded;
        try
        {
            encoded = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SubcommandException($"error decoding script file \"{path}\": error reading from script file \"{path}\": {e.Message}");
        }
        var text = new System.Text.StringBuilder(encoded.Length);
        for (int i = 0; i < encoded.Length; i++)
        {
            byte b = encoded[i];
            if (b is (byte)'\r' or (byte)'\n')
            {
                continue;
            }
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'+' or (byte)'/' or (byte)'='))
            {
                throw new SubcommandException($"error decoding script file \"{path}\": illegal base64 data at input byte {i.ToString(CultureInfo.InvariantCulture)}");
            }
            text.Append((char)b);
        }
        byte[] decoded;
        try
        {
            decoded = Convert.FromBase64String(text.ToString());
        }
        catch (FormatException)
        {
            throw new SubcommandException($"error decoding script file \"{path}\": illegal base64 data");
        }
        try
        {
            // Opening an existing file for writing keeps its mode, as os.WriteFile does.
            File.WriteAllBytes(path, decoded);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SubcommandException($"error writing decoded script file \"{path}\": {e.Message}");
        }
        return "Decoded script " + path;
    }

    /// <summary>
    /// ROOT/steps/NAME and ROOT/steps/N → ROOT/run/N/status for each step N, so that
    /// <c>$(steps.step-NAME.exitCode.path)</c> and step results resolve in every step container.
    /// Existing links are left alone (a restarted init container).
    /// </summary>
    private static string StepInit(string[] steps, TektonPaths paths)
    {
        Directory.CreateDirectory(paths.Steps);
        for (int i = 0; i < steps.Length; i++)
        {
            string target = $"{paths.Run}/{i.ToString(CultureInfo.InvariantCulture)}/status";
            Link($"{paths.Steps}/{steps[i]}", target);
            Link($"{paths.Steps}/{i.ToString(CultureInfo.InvariantCulture)}", target);
        }
        return "Setup /step directories";
    }

    private static void Link(string path, string target)
    {
        if (Libc.KindOf(path) is not null)
        {
            return; // EEXIST is tolerated, as in Tekton since v1.11
        }
        File.CreateSymbolicLink(path, target);
    }

    private sealed class SubcommandException(string message) : Exception(message);
}
