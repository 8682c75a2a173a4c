namespace Emissary.Json;

/// <summary>
/// Utf8JsonWriter's vocabulary (WriteStartObject, WriteString(name, value), ...) over
/// <see cref="BoundedJsonWriter"/>, for the documents that are not budgeted: status.json, JSON log
/// lines, <c>status --json</c>, the events of <c>local</c>. System.Text.Json is not in the pod
/// binary: its writer and JsonDocument cost ~90 KB of a ~3 MB executable for a few small flat
/// objects, and its relaxed encoder still escapes text JSON does not require escaping.
/// </summary>
internal sealed class JsonWriter(bool indented = false)
{
    private readonly BoundedJsonWriter _json = new(int.MaxValue, indented);

    public void WriteStartObject() => _json.StartObject();

    public void WriteStartObject(string name)
    {
        _json.PropertyName(name);
        _json.StartObject();
    }

    public void WriteEndObject() => _json.EndObject();

    public void WriteStartArray() => _json.StartArray();

    public void WriteStartArray(string name)
    {
        _json.PropertyName(name);
        _json.StartArray();
    }

    public void WriteEndArray() => _json.EndArray();

    public void WritePropertyName(string name) => _json.PropertyName(name);

    public void WriteString(string name, string? value)
    {
        _json.PropertyName(name);
        WriteStringValue(value);
    }

    public void WriteNumber(string name, long value)
    {
        _json.PropertyName(name);
        _json.NumberValue(value);
    }

    public void WriteNumber(string name, double value)
    {
        _json.PropertyName(name);
        _json.NumberValue(value);
    }

    public void WriteBoolean(string name, bool value)
    {
        _json.PropertyName(name);
        _json.BooleanValue(value);
    }

    public void WriteNull(string name)
    {
        _json.PropertyName(name);
        _json.NullValue();
    }

    public void WriteStringValue(string? value)
    {
        if (value is null)
        {
            _json.NullValue();
        }
        else
        {
            _json.StringValue(value);
        }
    }

    public void WriteNumberValue(long value) => _json.NumberValue(value);

    public void WriteNumberValue(double value) => _json.NumberValue(value);

    public void WriteBooleanValue(bool value) => _json.BooleanValue(value);

    public void WriteNullValue() => _json.NullValue();

    public override string ToString() => _json.ToString();

    /// <summary>The document as UTF-8 and a newline, as a file holds it (no round trip through a string).</summary>
    public byte[] ToLine() => _json.ToLine();
}
