using System.Text;
using Emissary.Foundation.Sequences;
using Emissary.Files;
using Emissary.Interop;
using Emissary.Json;
using Emissary.Results;

namespace Emissary.Tekton;

/// <summary>
/// <c>$(steps.STEP.outputs.NAME)</c> or <c>$(steps.STEP.inputs.NAME)</c>, as Tekton's
/// internal/artifactref StepArtifactRegex matches it: STEP any text without '.', NAME any text
/// without '.' or ')', both non-empty.
/// </summary>
internal sealed class StepArtifactReference(string step, bool outputs, string name)
{
    public string Step => step;

    /// <summary><c>outputs</c>, else <c>inputs</c>.</summary>
    public bool Outputs => outputs;

    public string Name => name;

    public override string ToString() => $"$(steps.{Step}.{(Outputs ? "outputs" : "inputs")}.{Name})";

    /// <summary>Every reference in <paramref name="text"/>, leftmost first, not overlapping (Go's FindAllString).</summary>
    public static List<StepArtifactReference> FindAll(string text)
    {
        var found = new List<StepArtifactReference>();
        int at = 0;
        while ((at = text.IndexOf("$(steps.", at, StringComparison.Ordinal)) >= 0)
        {
            if (MatchAt(text, at) is { } reference)
            {
                found.Add(reference);
                at += reference.ToString().Length;
            }
            else
            {
                at++;
            }
        }
        return found;
    }

    /// <summary>parseArtifactTemplate: the whole of <paramref name="template"/> is one reference, else null.</summary>
    public static StepArtifactReference? Parse(string template) =>
        MatchAt(template, 0) is { } reference && reference.ToString().Length == template.Length ? reference : null;

    // The regex, by hand (no regex engine in the in-pod binary): its classes exclude '.', so each
    // part ends at the first '.' (or ')' for NAME) and there is nothing to backtrack.
    private static StepArtifactReference? MatchAt(string text, int start)
    {
        const string prefix = "$(steps.";
        if (string.CompareOrdinal(text, start, prefix, 0, prefix.Length) != 0)
        {
            return null;
        }
        int stepStart = start + prefix.Length;
        int stepEnd = text.IndexOf('.', stepStart);
        if (stepEnd <= stepStart)
        {
            return null;
        }
        bool outputs;
        int nameStart;
        if (string.CompareOrdinal(text, stepEnd, ".outputs.", 0, 9) == 0)
        {
            (outputs, nameStart) = (true, stepEnd + 9);
        }
        else if (string.CompareOrdinal(text, stepEnd, ".inputs.", 0, 8) == 0)
        {
            (outputs, nameStart) = (false, stepEnd + 8);
        }
        else
        {
            return null;
        }
        int nameEnd = nameStart;
        while (nameEnd < text.Length && text[nameEnd] is not ('.' or ')'))
        {
            nameEnd++;
        }
        if (nameEnd == nameStart || nameEnd == text.Length || text[nameEnd] != ')')
        {
            return null;
        }
        return new StepArtifactReference(text[stepStart..stepEnd], outputs, text[nameStart..nameEnd]);
    }
}

/// <summary>
/// A step's <c>artifacts/provenance.json</c> read as Go's json.Unmarshal reads it into v1.Artifacts,
/// and one artifact's values written as json.Marshal writes them, in one pass over the document
/// (no object model: every kilobyte of the in-pod binary counts).
/// </summary>
internal static class TektonArtifactFile
{
    private static readonly JsonValue Null = JsonValue.Parse("null");

    /// <summary>
    /// json.Marshal(values) of the first artifact named <paramref name="name"/> in outputs (or
    /// inputs); null when there is none. Unmarshal's rules: field names matched without regard to
    /// case, the last of a repeated one wins, unknown ones ignored, null leaves a field empty; a
    /// known field of the wrong JSON type anywhere in the document is an error. Marshal's: a
    /// missing list is <c>null</c>, digests in key order, empty fields left out, HTML escaped.
    /// </summary>
    /// <exception cref="FormatException">Not JSON, or not the shape of v1.Artifacts.</exception>
    public static string? Values(byte[] file, bool outputs, string name)
    {
        JsonValue root = JsonValue.Parse(file);
        if (root.Kind == JsonKind.Null)
        {
            return null;
        }
        string? found = null;
        foreach (string list in (ReadOnlySpan<string>)["inputs", "outputs"])
        {
            foreach (JsonValue artifact in Items(Field(root, list)))
            {
                if (artifact.Kind == JsonKind.Null)
                {
                    continue;
                }
                // Every artifact is checked, as Unmarshal fails on any field of the wrong type.
                string? marshalled = Marshal(Field(artifact, "values"));
                string artifactName = StringOf(Field(artifact, "name"));
                if (Field(artifact, "buildOutput").Kind is not (JsonKind.Null or JsonKind.True or JsonKind.False))
                {
                    throw Wrong("a bool");
                }
                if (found is null && (list == "outputs") == outputs && artifactName == name)
                {
                    found = marshalled ?? "null";
                }
            }
        }
        return found;
    }

    /// <summary>json.Marshal of a []ArtifactValue; null for a JSON null (Go's nil slice).</summary>
    private static string? Marshal(JsonValue values)
    {
        if (values.Kind == JsonKind.Null)
        {
            return null;
        }
        var json = new BoundedJsonWriter(int.MaxValue, goHtmlSafe: true);
        json.StartArray();
        foreach (JsonValue value in Items(values))
        {
            json.StartObject();
            if (value.Kind != JsonKind.Null)
            {
                var digest = new Dictionary<string, string>(StringComparer.Ordinal);
                JsonValue digests = Field(value, "digest");
                foreach (JsonProperty p in digests.Kind == JsonKind.Null ? [] : Expect(digests, JsonKind.Object, "an object").Properties)
                {
                    digest[p.Name] = StringOf(p.Value);
                }
                if (digest.Count > 0)
                {
                    json.PropertyName("digest");
                    json.StartObject();
                    foreach (string algorithm in Sorted(digest.Keys))
                    {
                        json.PropertyName(algorithm);
                        json.StringValue(digest[algorithm]);
                    }
                    json.EndObject();
                }
                if (StringOf(Field(value, "uri")) is { Length: > 0 } uri)
                {
                    json.PropertyName("uri");
                    json.StringValue(uri);
                }
            }
            json.EndObject();
        }
        json.EndArray();
        return json.ToString();
    }

    /// <summary>Go writes a map's keys in sorted order; an insertion sort (a digest has one or two).</summary>
    private static List<string> Sorted(IEnumerable<string> keys)
    {
        var sorted = new List<string>();
        foreach (string key in keys)
        {
            int at = sorted.Count;
            while (at > 0 && string.CompareOrdinal(sorted[at - 1], key) > 0)
            {
                at--;
            }
            sorted.Insert(at, key);
        }
        return sorted;
    }

    /// <summary>A struct field as encoding/json finds it: the last key equal to <paramref name="name"/> ignoring ASCII case; null if none.</summary>
    private static JsonValue Field(JsonValue value, string name)
    {
        IReadOnlyList<JsonProperty> properties = Expect(value, JsonKind.Object, "an object").Properties;
        for (int i = properties.Count - 1; i >= 0; i--)
        {
            if (AsciiEqualsIgnoringCase(properties[i].Name, name))
            {
                return properties[i].Value;
            }
        }
        return Null;
    }

    /// <summary>Go's EqualFold for the ASCII field names of v1.Artifacts (no casing tables in the binary).</summary>
    private static bool AsciiEqualsIgnoringCase(string a, string b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && ((a[i] | 0x20) != (b[i] | 0x20) || !char.IsAsciiLetter(a[i])))
            {
                return false;
            }
        }
        return true;
    }

    private static IReadOnlyList<JsonValue> Items(JsonValue value) => value.Kind == JsonKind.Null ? [] : Expect(value, JsonKind.Array, "an array").Items;

    private static string StringOf(JsonValue value) => value.Kind == JsonKind.Null ? "" : Expect(value, JsonKind.String, "a string").GetString()!;

    private static JsonValue Expect(JsonValue value, JsonKind kind, string what) => value.Kind == kind ? value : throw Wrong(what);

    private static FormatException Wrong(string what) => new("json: cannot unmarshal a value where " + what + " is expected");
}

/// <summary>A reference that could not be resolved; its message is one line for stderr.</summary>
internal sealed class TektonArtifactException(string message) : Exception(message);

/// <summary>
/// Step artifacts as pkg/entrypoint's applyStepArtifactSubstitutions substitutes them: each
/// <see cref="StepArtifactReference"/> in the command (or, for a step whose command is one script
/// of <c>/tekton/scripts</c>, in that script, rewritten to a new file) and then in every environment
/// variable becomes <c>json.Marshal</c> of the named artifact's values, read from the named step's
/// <c>artifacts/provenance.json</c>. The first reference that cannot be resolved stops the
/// substitution: the command keeps its references as written (Tekton logs the error and runs the
/// step). The file was written by another container: read through
/// <see cref="TektonStepResultResolver.OpenStepDirectory"/> (no link followed past the init
/// container's <c>/tekton/steps/step-NAME</c>), a regular file of at most
/// <see cref="MaxFileBytes"/>, never a FIFO or device.
/// </summary>
internal sealed class TektonArtifacts(TektonPaths paths)
{
    /// <summary>At most what the controller would take from a sidecar's or message's artifacts; more is refused.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>A script is at most what decode-script writes (the pod spec cannot carry more).</summary>
    private const int MaxScriptBytes = 4 * 1024 * 1024;

    /// <summary>
    /// applyStepArtifactSubstitutions: returns the command to run and adds changed variables to
    /// <paramref name="environment"/> (which already holds the step-result substitutions).
    /// Logs the first failure and leaves the rest as written.
    /// </summary>
    public List<string> Substitute(List<string> command, Dictionary<string, string> environment)
    {
        try
        {
            if (command.Count == 1 && IsScript(command[0]))
            {
                command = SubstituteScript(command[0]);
            }
            else
            {
                command = command.Select(Replace).ToList();
            }
            foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
            {
                string name = (string)variable.Key;
                string value = environment.TryGetValue(name, out string? changed) ? changed : (string?)variable.Value ?? "";
                string replaced = Replace(value);
                if (!ReferenceEquals(replaced, value))
                {
                    environment[name] = replaced;
                }
            }
        }
        catch (TektonArtifactException e)
        {
            GoLog.Print("Error while substituting step artifacts: " + e.Message);
        }
        return command;
    }

    /// <summary>replaceValue: each reference found in <paramref name="text"/> replaced everywhere by its values; the same string when there is none.</summary>
    /// <exception cref="TektonArtifactException">A reference could not be resolved.</exception>
    public string Replace(string text)
    {
        string result = text;
        foreach (StepArtifactReference reference in StepArtifactReference.FindAll(text))
        {
            result = result.Replace(reference.ToString(), Values(reference.ToString()));
        }
        return result;
    }

    /// <summary>getArtifactValues: json.Marshal of the values of the artifact <paramref name="template"/> names.</summary>
    /// <exception cref="TektonArtifactException">Not one reference, the file unreadable, or no such artifact.</exception>
    public string Values(string template)
    {
        if (template.Length == 0)
        {
            throw new TektonArtifactException("template is empty");
        }
        StepArtifactReference reference = StepArtifactReference.Parse(template)
            ?? throw new TektonArtifactException("invalid artifact template " + template);
        string file = $"{paths.Steps}/step-{reference.Step}/artifacts/provenance.json";
        try
        {
            return TektonArtifactFile.Values(Load(reference.Step, template, file), reference.Outputs, reference.Name)
                ?? throw new TektonArtifactException($"values for template {template} not found");
        }
        catch (FormatException e)
        {
            throw new TektonArtifactException($"{template}: {file}: {e.Message}");
        }
    }

    /// <summary>loadStepArtifacts' read: <c>/tekton/steps/step-STEP/artifacts/provenance.json</c>, read again for each reference as Go does.</summary>
    /// <exception cref="TektonArtifactException">Missing, or refused (a link, a FIFO, too large).</exception>
    private byte[] Load(string step, string what, string file)
    {
        BoundedRead read;
        try
        {
            using SafeFd dir = TektonStepResultResolver.OpenStepDirectory(paths, step, "artifacts", what, Path.GetDirectoryName(file)!);
            read = UntrustedFile.Read(dir.Fd, "provenance.json", MaxFileBytes);
        }
        catch (StepResultMissingException e)
        {
            throw new TektonArtifactException(e.Message);
        }
        return read.Outcome == ReadOutcome.Read ? read.Bytes!
            : throw new TektonArtifactException($"{what}: {file} " + (read.Outcome switch
            {
                ReadOutcome.Missing => "does not exist",
                ReadOutcome.TooLarge => "is larger than 1 MiB: refusing it",
                _ => read.Problem + ": refusing it",
            }));
    }

    /// <summary>filepath.Dir(command) == filepath.Clean(ScriptDir): the command is a script the init container placed.</summary>
    private bool IsScript(string command) =>
        command.StartsWith('/') && Path.GetDirectoryName(Path.GetFullPath(command)) == Path.GetFullPath(paths.Scripts);

    /// <summary>The script with its references replaced, written to a new file (Tekton: os.CreateTemp); the same command when nothing changed.</summary>
    private List<string> SubstituteScript(string script)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(script))!;
        int dirFd = Libc.OpenRetrying(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0)
        {
            throw new TektonArtifactException($"open {script}: {Libc.Describe(Libc.LastErrno)}");
        }
        BoundedRead read;
        using (new SafeFd(dirFd))
        {
            read = UntrustedFile.Read(dirFd, Path.GetFileName(script), MaxScriptBytes);
        }
        if (read.Outcome != ReadOutcome.Read)
        {
            throw new TektonArtifactException($"open {script}: {read.Problem ?? "no such file or directory"}");
        }
        string content = Encoding.UTF8.GetString(read.Bytes!);
        string replaced = Replace(content);
        return ReferenceEquals(replaced, content) ? [script] : [WriteScript(replaced)];
    }

    /// <summary>A new file in the temporary directory (O_EXCL, an unguessable name, 0700: only this step runs it).</summary>
    private static string WriteScript(string content)
    {
        string path = Path.Join(Path.GetTempPath(), "script-" + TempNames.RandomHex());
        int fd = Libc.OpenRetrying(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x1C0 /* 0700 */);
        if (fd < 0)
        {
            throw new TektonArtifactException($"open {path}: {Libc.Describe(Libc.LastErrno)}");
        }
        using var file = new SafeFd(fd);
        Errno errno = Libc.WriteAll(fd, Encoding.UTF8.GetBytes(content));
        if (errno != 0)
        {
            throw new TektonArtifactException($"write {path}: {Libc.Describe(errno)}");
        }
        return path;
    }
}
