using Emissary.Foundation.Sequences;
using System.Globalization;
using Emissary.Foundation;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Files;

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
    /// the tail of an older binary behind (a restarted init container). Both paths are resolved by
    /// <see cref="WritePath"/> (no link on a shared volume followed) and must be regular files, so
    /// a planted FIFO fails the copy instead of hanging it.
    /// </summary>
    private static string Copy(string source, string destination)
    {
        using (FileStream input = OpenRegular(source, Libc.O_RDONLY, create: false, 0, "open"))
        using (FileStream output = OpenRegular(destination, Libc.O_WRONLY, create: true, CopiedBinaryMode, "open"))
        {
            output.SetLength(0);
            input.CopyTo(output);
        }
        return $"Copied {source} to {destination}";
    }

    /// <summary>A regular file at <paramref name="path"/> as a stream, or a <see cref="SubcommandException"/> saying "VERB PATH: reason".</summary>
    private static FileStream OpenRegular(string path, int access, bool create, UnixFileMode mode, string verb)
    {
        try
        {
            using WritePath place = WritePath.Resolve(path);
            SafeFd fd = place.Open(access, create, mode);
            var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd.DangerousGetHandle(), ownsHandle: true);
            fd.SetHandleAsInvalid(); // the stream owns the descriptor now
            return new FileStream(handle, access == Libc.O_RDONLY ? FileAccess.Read : FileAccess.Write);
        }
        catch (WritePathException e)
        {
            // os.Open's *PathError in Go's words where it is a plain errno (Go's syscall messages are
            // the C library's, lower-cased); our own refusals (a planted link, a FIFO) keep the text that says why.
            throw new SubcommandException($"{verb} {path}: {ErrorText.Reason(e)}");
        }
    }

    /// <summary>A script is at most what fits in a pod (etcd takes objects of about 1.5 MiB): a bigger or endless file is refused.</summary>
    private const int MaxScriptBytes = 4 << 20;

    /// <summary>
    /// Replaces the file with its standard-base64 decoding, keeping its mode. Like Go's decoder, line
    /// breaks (\r, \n) are ignored and anything else that is not base64 is an error. The file is
    /// read as an untrusted one (a regular file, no link on a shared volume, at most
    /// <see cref="MaxScriptBytes"/>) and written back in place through the same directory.
    /// </summary>
    private static string DecodeScript(string path)
    {
        WritePath place;
        try
        {
            place = WritePath.Resolve(path);
        }
        catch (WritePathException e)
        {
            throw new SubcommandException($"error decoding script file \"{path}\": error reading from script file \"{path}\": open {path}: {ErrorText.Reason(e)}");
        }
        using (place)
        {
            BoundedRead read = UntrustedFile.Read(place.DirectoryFd, place.Name, MaxScriptBytes);
            if (read.Outcome != ReadOutcome.Read)
            {
                // A missing file in os.Open's words (as cp); our own refusals (a link, a FIFO, too large) say why.
                string problem = read.Outcome == ReadOutcome.Missing ? $"open {path}: no such file or directory" : read.Problem ?? Libc.Describe(Errno.ENOENT);
                throw new SubcommandException($"error decoding script file \"{path}\": error reading from script file \"{path}\": {problem}");
            }
            byte[] decoded = Decode(read.Bytes!, path);
            try
            {
                // Opening an existing file for writing keeps its mode, as os.WriteFile does.
                using SafeFd fd = place.Open(Libc.O_WRONLY);
                Errno errno = Libc.Ftruncate(fd.Fd, 0) == 0 ? Libc.WriteAll(fd.Fd, decoded) : Libc.LastErrno;
                if (errno != 0)
                {
                    throw new WritePathException(Libc.Describe(errno), errno);
                }
            }
            catch (WritePathException e)
            {
                throw new SubcommandException($"error writing decoded script file \"{path}\": {e.Message}");
            }
        }
        return "Decoded script " + path;
    }

    private static byte[] Decode(byte[] encoded, string path)
    {
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
        try
        {
            return Convert.FromBase64String(text.ToString());
        }
        catch (FormatException)
        {
            throw new SubcommandException($"error decoding script file \"{path}\": illegal base64 data");
        }
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
