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
internal readonly record struct StepArtifactReference(string Step, bool Outputs, string Name)
{
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
        int nameEnd = text.IndexOfAny(['.', ')'], nameStart);
        if (nameEnd <= nameStart || text[nameEnd] != ')')
        {
            return null;
        }
        return new StepArtifactReference(text[stepStart..stepEnd], outputs, text[nameStart..nameEnd]);
    }
}

/// <summary>One value of an artifact (v1.ArtifactValue): digests by algorithm and a URI.</summary>
internal sealed record TektonArtifactValue(IReadOnlyList<KeyValuePair<string, string>> Digest, string Uri);

/// <summary>One artifact (v1.Artifact); <see cref="Values"/> is null where the JSON had none (Go's nil slice).</summary>
internal sealed record TektonArtifact(string Name, IReadOnlyList<TektonArtifactValue>? Values);

/// <summary>A step's <c>artifacts/provenance.json</c> (v1.Artifacts), read as Go's json.Unmarshal reads it.</summary>
internal sealed record TektonStepArtifacts(IReadOnlyList<TektonArtifact> Inputs, IReadOnlyList<TektonArtifact> Outputs)
{
    /// <summary>
    /// json.Unmarshal into v1.Artifacts: field names matched without regard to case, the last of a
    /// repeated one wins, unknown ones ignored, null leaves a field empty; a value of the wrong
    /// JSON type is an error, as it is in Go.
    /// </summary>
    /// <exception cref="FormatException">Not JSON, or not the shape of v1.Artifacts.</exception>
    public static TektonStepArtifacts Parse(byte[] json)
    {
        JsonValue root = JsonValue.Parse(json);
        if (root.Kind == JsonKind.Null)
        {
            return new TektonStepArtifacts([], []);
        }
        return new TektonStepArtifacts(
            List(Field(root, "inputs"), ArtifactOf) ?? [],
            List(Field(root, "outputs"), ArtifactOf) ?? []);
    }

    /// <summary>json.Marshal(artifact.Values): <c>null</c> for none, digests in key order, empty fields left out.</summary>
    public static string Marshal(IReadOnlyList<TektonArtifactValue>? values)
    {
        if (values is null)
        {
            return "null";
        }
        var json = new BoundedJsonWriter(int.MaxValue, goHtmlSafe: true);
        json.StartArray();
        foreach (TektonArtifactValue value in values)
        {
            json.StartObject();
            if (value.Digest.Count > 0)
            {
                json.PropertyName("digest");
                json.StartObject();
                foreach (KeyValuePair<string, string> digest in value.Digest.OrderBy(d => d.Key, StringComparer.Ordinal))
                {
                    json.PropertyName(digest.Key);
                    json.StringValue(digest.Value);
                }
                json.EndObject();
            }
            if (value.Uri.Length > 0)
            {
                json.PropertyName("uri");
                json.StringValue(value.Uri);
            }
            json.EndObject();
        }
        json.EndArray();
        return json.ToString();
    }

    private static TektonArtifact ArtifactOf(JsonValue item) => item.Kind == JsonKind.Null ? new TektonArtifact("", null)
        : new TektonArtifact(StringOf(Field(item, "name")), List(Field(item, "values"), ValueOf));

    private static TektonArtifactValue ValueOf(JsonValue item)
    {
        if (item.Kind == JsonKind.Null)
        {
            return new TektonArtifactValue([], "");
        }
        var digest = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonValue digests = Field(item, "digest");
        if (digests.Kind != JsonKind.Null)
        {
            foreach (JsonProperty p in Expect(digests, JsonKind.Object).Properties)
            {
                digest[p.Name] = StringOf(p.Value);
            }
        }
        return new TektonArtifactValue(digest.ToList(), StringOf(Field(item, "uri")));
    }

    /// <summary>A struct field as encoding/json finds it: the last key equal to <paramref name="name"/> ignoring ASCII case; null if none.</summary>
    private static JsonValue Field(JsonValue value, string name)
    {
        IReadOnlyList<JsonProperty> properties = Expect(value, JsonKind.Object).Properties;
        for (int i = properties.Count - 1; i >= 0; i--)
        {
            if (string.Equals(properties[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return properties[i].Value;
            }
        }
        return Null;
    }

    private static readonly JsonValue Null = JsonValue.Parse("null");

    private static List<T>? List<T>(JsonValue value, Func<JsonValue, T> item) =>
        value.Kind == JsonKind.Null ? null : Expect(value, JsonKind.Array).Items.Select(item).ToList();

    private static string StringOf(JsonValue value) => value.Kind == JsonKind.Null ? "" : Expect(value, JsonKind.String).GetString()!;

    private static JsonValue Expect(JsonValue value, JsonKind kind) =>
        value.Kind == kind ? value : throw new FormatException($"json: cannot unmarshal {KindName(value.Kind)} where {KindName(kind)} is expected");

    private static string KindName(JsonKind kind) => kind switch
    {
        JsonKind.Object => "an object",
        JsonKind.Array => "an array",
        JsonKind.String => "a string",
        JsonKind.Number => "a number",
        _ => "a bool",
    };
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

    private readonly TektonStepResultResolver _steps = new(paths);
    private readonly Dictionary<string, TektonStepArtifacts> _loaded = new(StringComparer.Ordinal);

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
            result = result.Replace(reference.ToString(), Values(reference.ToString()), StringComparison.Ordinal);
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
        TektonStepArtifacts artifacts = Load(reference.Step, template);
        foreach (TektonArtifact artifact in reference.Outputs ? artifacts.Outputs : artifacts.Inputs)
        {
            if (artifact.Name == reference.Name)
            {
                return TektonStepArtifacts.Marshal(artifact.Values);
            }
        }
        throw new TektonArtifactException($"values for template {template} not found");
    }

    /// <summary>loadStepArtifacts: <c>/tekton/steps/step-STEP/artifacts/provenance.json</c>, parsed.</summary>
    /// <exception cref="TektonArtifactException">Missing, refused (a link, a FIFO, too large) or not v1.Artifacts.</exception>
    public TektonStepArtifacts Load(string step, string what)
    {
        if (_loaded.TryGetValue(step, out TektonStepArtifacts? cached))
        {
            return cached;
        }
        string display = $"{paths.Steps}/step-{step}/artifacts";
        BoundedRead read;
        try
        {
            using SafeFd dir = _steps.OpenStepDirectory(step, "artifacts", what, display);
            read = UntrustedFile.Read(dir.Fd, "provenance.json", MaxFileBytes);
        }
        catch (StepResultMissingException e)
        {
            throw new TektonArtifactException(e.Message);
        }
        if (read.Outcome != ReadOutcome.Read)
        {
            throw new TektonArtifactException($"{what}: {display}/provenance.json {Problem(read)}");
        }
        try
        {
            return _loaded[step] = TektonStepArtifacts.Parse(read.Bytes!);
        }
        catch (FormatException e)
        {
            throw new TektonArtifactException($"{what}: {display}/provenance.json: {e.Message}");
        }
    }

    private static string Problem(BoundedRead read) => read.Outcome switch
    {
        ReadOutcome.Missing => "does not exist",
        ReadOutcome.TooLarge => $"is larger than {MaxFileBytes} bytes: refusing it",
        _ => (read.Problem ?? "cannot be read") + ": refusing it",
    };

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
