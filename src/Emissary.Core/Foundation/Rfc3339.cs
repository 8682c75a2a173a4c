using System.Globalization;

namespace Emissary.Foundation;

/// <summary>
/// Times as Kubernetes and Tekton print and parse them: RFC 3339 in UTC with exactly three
/// fraction digits and a 'Z' (Tekton's layout "2006-01-02T15:04:05.000Z07:00").
/// </summary>
internal static class Rfc3339
{
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'", CultureInfo.InvariantCulture);
}
