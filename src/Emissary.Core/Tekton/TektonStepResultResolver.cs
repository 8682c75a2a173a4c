using Emissary.Foundation.Sequences;
using Emissary.Json;
using System.Text;
using System.Runtime.InteropServices;
using Emissary.Control;
using Emissary.Foundation;
using Emissary.Interop;
using Emissary.Results;
using Emissary.Files;

namespace Emissary.Tekton;

/// <summary>A step result as Tekton's ResultValue reads it: a string, an array of strings or an object of strings.</summary>
internal sealed record TektonResultValue(string? String, IReadOnlyList<string>? Array, IReadOnlyDictionary<string, string>? Object)
{
    /// <summary>
    /// ParamValue.UnmarshalJSON: content starting with '[' that is a JSON array of strings is an
    /// array, '{' with a JSON object of strings an object; otherwise a JSON string literal is
    /// unquoted and anything else is the raw text.
    /// </summary>
    public static TektonResultValue Parse(byte[] content)
    {
        if (content.Length > 0 && content[0] is (byte)'[' or (byte)'{')
        {
            try
            {
                JsonValue document = JsonValue.Parse(content);
                JsonValue root = document;
                if (root.Kind == JsonKind.Array && root.Items.All(e => e.Kind is JsonKind.String or JsonKind.Null))
                {
                    return new TektonResultValue(null, root.Items.Select(e => e.GetString() ?? "").ToArray(), null);
                }
                if (root.Kind == JsonKind.Object && root.Properties.All(p => p.Value.Kind is JsonKind.String or JsonKind.Null))
                {
                    var map = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (JsonProperty p in root.Properties)
                    {
                        map[p.Name] = p.Value.GetString() ?? "";
                    }
                    return new TektonResultValue(null, null, map);
                }
            }
            catch (JsonFormatException)
            {
            }
        }
        if (content.Length > 0 && content[0] == (byte)'"')
        {
            try
            {
                JsonValue document = JsonValue.Parse(content);
                if (document.Kind == JsonKind.String)
                {
                    return new TektonResultValue(document.GetString(), null, null);
                }
            }
            catch (JsonFormatException)
            {
            }
        }
        return new TektonResultValue(Encoding.UTF8.GetString(content), null, null);
    }
}

/// <summary>
/// Resolves <c>$(steps.NAME.results.KEY[...])</c> (parsed by <see cref="StepResultReferences"/>)
/// against <c>/tekton/steps/step-NAME/results/KEY</c>, the way pkg/entrypoint's findReplacement
/// does: <c>[N]</c> an array element, <c>[*]</c> the whole array (only where a whole argument or
/// when-value is the reference: it expands into several), <c>.FIELD</c> an object member, nothing
/// the string. Result files are written by other containers: read without following a link past
/// <c>/tekton/steps/step-NAME</c> (see <see cref="OpenResultsDirectory"/>), bounded, regular files only.
/// A value holding a NUL byte is substituted, and the launch then fails (EINVAL), as Go's exec does.
/// Tekton reads a result whole; here at most <paramref name="maxResultBytes"/>, what one result can
/// be and still fit the termination message (<see cref="TektonTerminationMessage.MaxResultBytes"/>:
/// 4096 bytes plain, 128 KiB with -compress_termination_message), so memory stays bounded whatever
/// a neighbour leaves in the file.
/// </summary>
internal sealed class TektonStepResultResolver(TektonPaths paths, int maxResultBytes)
{
    private readonly Dictionary<(string, string), TektonResultValue> _cache = new();

    /// <summary>The value of one reference as a single string.</summary>
    /// <exception cref="StepResultMissingException">Not readable, or the selector does not fit the value.</exception>
    public string Resolve(StepResultReference reference) => Select(reference, Load(reference));

    /// <summary>What <paramref name="reference"/>'s selector picks out of <paramref name="value"/>, as one string.</summary>
    /// <exception cref="StepResultMissingException">The selector does not fit the value.</exception>
    internal static string Select(StepResultReference reference, TektonResultValue value)
    {
        string selector = reference.Selector;
        if (selector.Length == 0)
        {
            return value.String ?? "";
        }
        if (selector == "[*]")
        {
            throw new StepResultMissingException($"{reference}: an array result can only be used as a whole argument");
        }
        if (selector[0] == '[')
        {
            int index = int.Parse(selector.AsSpan(1, selector.Length - 2), System.Globalization.CultureInfo.InvariantCulture);
            return value.Array is { } array && index < array.Count ? array[index]
                : throw new StepResultMissingException($"{reference}: no element {index} in the result");
        }
        string field = selector[1..];
        return value.Object is { } map ? (map.TryGetValue(field, out string? member) ? member : "")
            : throw new StepResultMissingException($"{reference}: the result is not an object");
    }

    /// <summary>
    /// Substitutes one argument (or when-value). An argument that is exactly <c>$(steps.X.results.Y[*])</c>
    /// becomes the array's elements; any other text gets each reference replaced by its string.
    /// </summary>
    public IReadOnlyList<string> SubstituteArgument(string text)
    {
        IReadOnlyList<StepResultReference> found = StepResultReferences.Find(text);
        if (found.Count == 1 && found[0].Selector == "[*]" && found[0].ToString() == text)
        {
            return Load(found[0]).Array ?? throw new StepResultMissingException($"{found[0]}: the result is not an array");
        }
        return [StepResultReferences.Substitute(text, Resolve)];
    }

    /// <summary>
    /// Step NAME's results directory. <c>/tekton/steps/step-NAME</c> is a link that the init
    /// container made, on a volume only it writes, to <c>/tekton/run/N/status</c>: its target is read
    /// (and must be that form), not followed. From <c>/tekton/run/N</c> on, nothing is followed:
    /// that is step N's own volume, where step N may have planted a link (to a secret of the
    /// reading step's own file system, which would then pass for step N's result).
    /// </summary>
    private SafeFd OpenResultsDirectory(StepResultReference reference, string display) =>
        OpenStepDirectory(paths, reference.Step, "results", reference.ToString(), display);

    /// <summary>
    /// <c>/tekton/steps/step-STEP/SUBDIRECTORY</c> with no link followed past <c>/tekton/steps</c>
    /// (see <see cref="OpenResultsDirectory"/>); also what <see cref="TektonArtifacts"/> reads.
    /// <paramref name="what"/> heads each error message.
    /// </summary>
    /// <exception cref="StepResultMissingException">Not there, or not step STEP's own directory.</exception>
    internal static SafeFd OpenStepDirectory(TektonPaths paths, string step, string subdirectory, string what, string display)
    {
        if (step.Contains('/') || step.Contains('\0'))
        {
            throw new StepResultMissingException($"{what}: a step name cannot hold '/' or NUL: refusing it");
        }
        int stepsFd = Libc.OpenRetrying(paths.Steps, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (stepsFd < 0)
        {
            throw new StepResultMissingException($"{what}: cannot open {display}: {Libc.Describe(Libc.LastErrno)}");
        }
        using var steps = new SafeFd(stepsFd);
        string link = "step-" + step;
        int stepFd;
        if (Libc.ReadLinkAt(stepsFd, link) is { } target)
        {
            string prefix = paths.Run + "/";
            string[] parts = target.StartsWith(prefix, StringComparison.Ordinal) ? target[prefix.Length..].Split('/') : [];
            if (parts is not [{ Length: > 0 } index, "status"] || !index.All(char.IsAsciiDigit))
            {
                throw new StepResultMissingException($"{what}: {paths.Steps}/{link} points to {ErrorText.Printable(target)}, not to {paths.Run}/N/status: refusing it");
            }
            stepFd = OpenWithoutLinks(paths.Run, [index, "status"]);
        }
        else if (Libc.LastErrno == Errno.EINVAL)
        {
            stepFd = Libc.OpenAtRetrying(stepsFd, link, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0); // a plain directory
        }
        else
        {
            stepFd = -1;
        }
        if (stepFd < 0)
        {
            throw new StepResultMissingException($"{what}: cannot open {display}: {Libc.Describe(Libc.LastErrno)}");
        }
        using var stepDirectory = new SafeFd(stepFd);
        int resultsFd = Libc.OpenAtRetrying(stepFd, subdirectory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (resultsFd < 0)
        {
            Errno errno = Libc.LastErrno;
            throw new StepResultMissingException(errno is Errno.ELOOP or Errno.ENOTDIR
                ? $"{what}: {display} is not a directory of step {step}'s own (a link or a file): refusing it"
                : $"{what}: cannot open {display}: {Libc.Describe(errno)}");
        }
        return new SafeFd(resultsFd);
    }

    /// <summary><paramref name="root"/> (followed: the controller's mount), then each of <paramref name="names"/> as a real directory; -1 with errno set.</summary>
    private static int OpenWithoutLinks(string root, string[] names)
    {
        int fd = Libc.OpenRetrying(root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        foreach (string name in names)
        {
            if (fd < 0)
            {
                return -1;
            }
            int next = Libc.OpenAtRetrying(fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            Errno errno = Libc.LastErrno;
            Libc.Close(fd);
            Marshal.SetLastPInvokeError((int)errno);
            fd = next;
        }
        return fd;
    }

    private TektonResultValue Load(StepResultReference reference)
    {
        if (_cache.TryGetValue((reference.Step, reference.Key), out TektonResultValue? cached))
        {
            return cached;
        }
        string directory = $"{paths.Steps}/step-{reference.Step}/results";
        using SafeFd dir = OpenResultsDirectory(reference, directory);
        int dirFd = dir.Fd;
        BoundedRead read = UntrustedFile.Read(dirFd, reference.Key, maxResultBytes);
        if (read.Outcome != ReadOutcome.Read)
        {
            throw new StepResultMissingException($"{reference}: {directory}/{reference.Key} {read.Problem ?? "does not exist"}");
        }
        TektonResultValue value = TektonResultValue.Parse(read.Bytes!);
        _cache[(reference.Step, reference.Key)] = value;
        return value;
    }
}
