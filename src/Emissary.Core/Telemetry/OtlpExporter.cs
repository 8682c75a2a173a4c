using System.Globalization;
using System.Text;
using Emissary.Net;

namespace Emissary.Telemetry;

/// <summary>
/// Sends spans as one OTLP/HTTP request with the JSON encoding, written by hand over the socket
/// code emissary already has (docs/telemetry.md: the OpenTelemetry SDK would more than double
/// the pod binary). http:// only; the host is resolved like a pod does (<see cref="NameResolver"/>).
/// Everything — resolution, connection, request, answer — fits in the settings' timeout.
/// </summary>
internal sealed class OtlpExporter(OtlpSettings settings, NameResolver resolver)
{
    /// <summary>Null when the spans were accepted (2xx), else one line saying why not.</summary>
    public string? Export(IReadOnlyList<SpanAttribute> resource, IReadOnlyList<SpanRecord> spans)
    {
        long deadline = Environment.TickCount64 + (long)settings.Timeout.TotalMilliseconds;
        try
        {
            Endpoint target = Endpoint.Parse(settings.Endpoint);
            IReadOnlyList<byte[]> addresses = resolver.Resolve(target.Host, deadline);
            byte[] body = Encoding.UTF8.GetBytes(OtlpJson.Request(resource, spans));
            var endpoint = new NetEndpoint(addresses[0], target.Port, target.Authority);
            int status = LoopbackHttp.Post(endpoint, target.Authority, target.Path, "application/json", settings.HeaderLines(), body, deadline);
            return status is >= 200 and < 300 ? null : $"the collector answered HTTP {status}";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    /// <summary>An OTLP endpoint URL split up: http://HOST[:PORT][/PATH].</summary>
    internal sealed class Endpoint(string host, int port, string authority, string path)
    {
        public string Host { get; } = host;

        public int Port { get; } = port;

        public string Authority { get; } = authority;

        public string Path { get; } = path;

        public static Endpoint Parse(string url)
        {
            const string scheme = "http://";
            if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                throw new IOException("https:// is not supported by the pod binary (no TLS in it): use an http:// endpoint, such as a collector or agent in the cluster or on the node");
            }
            if (!url.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                throw new IOException($"'{url}' is not an http:// URL");
            }
            string rest = url[scheme.Length..];
            int slash = rest.IndexOf('/');
            string authority = slash < 0 ? rest : rest[..slash];
            string path = slash < 0 ? "/" : rest[slash..];
            if (authority.Contains('@'))
            {
                throw new IOException($"'{url}': user:password@ is not supported (use OTEL_EXPORTER_OTLP_HEADERS)");
            }
            string host = authority;
            int port = 80;
            int colon = authority.LastIndexOf(':');
            if (colon >= 0 && !authority.EndsWith(']'))
            {
                host = authority[..colon];
                if (!int.TryParse(authority.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                {
                    throw new IOException($"'{url}' has a bad port");
                }
            }
            if (host.Length == 0)
            {
                throw new IOException($"'{url}' has no host");
            }
            return new Endpoint(host, port, authority, path);
        }
    }
}
