namespace Emissary.PodSpec;

internal static class YamlProbe
{
    public static int Count(string text)
    {
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count;
    }
}
