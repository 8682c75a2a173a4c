using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// A test OTLP/HTTP receiver on 127.0.0.1: a <see cref="TcpListener"/> that reads each request
/// (head and Content-Length body), keeps it, and answers 200 (or nothing, when <see cref="Silent"/>).
/// <see cref="Spans"/> flattens the received ExportTraceServiceRequest JSON bodies.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class OtlpReceiver : IDisposable
{
    public sealed record Received(string Head, string Body);

    /// <summary>One span as received, with its resource's attributes.</summary>
    public sealed record Span(string TraceId, string SpanId, string? ParentSpanId, string Name, int StatusCode, string? StatusMessage,
        IReadOnlyDictionary<string, string> Attributes, IReadOnlyDictionary<string, string> Resource, long Start, long End);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Received> _requests = [];
    private readonly List<TcpClient> _open = [];
    private readonly Thread _thread;
    private volatile bool _stopped;

    public OtlpReceiver()
    {
        _listener.Start();
        _thread = new Thread(Accept) { IsBackground = true };
        _thread.Start();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Read requests but never answer them (a hung collector).</summary>
    public volatile bool Silent;

    public IReadOnlyList<Received> Requests
    {
        get
        {
            lock (_requests)
                return _requests.ToArray();
        }
    }

    public IReadOnlyList<Received> WaitForRequests(int count, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        lock (_requests)
        {
            while (_requests.Count < count)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new XunitException($"timed out waiting for {count} OTLP request(s); got {_requests.Count}");
                Monitor.Wait(_requests, left);
            }
            return _requests.ToArray();
        }
    }

    public IReadOnlyList<Span> Spans()
    {
        var spans = new List<Span>();
        foreach (Received r in Requests)
        {
            using JsonDocument doc = JsonDocument.Parse(r.Body);
            foreach (JsonElement rs in doc.RootElement.GetProperty("resourceSpans").EnumerateArray())
            {
                Dictionary<string, string> resource = Attributes(rs.GetProperty("resource"));
                foreach (JsonElement ss in rs.GetProperty("scopeSpans").EnumerateArray())
                {
                    foreach (JsonElement s in ss.GetProperty("spans").EnumerateArray())
                    {
                        JsonElement status = s.GetProperty("status");
                        spans.Add(new Span(
                            s.GetProperty("traceId").GetString()!, s.GetProperty("spanId").GetString()!,
                            s.TryGetProperty("parentSpanId", out JsonElement p) ? p.GetString() : null,
                            s.GetProperty("name").GetString()!,
                            status.TryGetProperty("code", out JsonElement c) ? c.GetInt32() : 0,
                            status.TryGetProperty("message", out JsonElement m) ? m.GetString() : null,
                            Attributes(s), resource,
                            long.Parse(s.GetProperty("startTimeUnixNano").GetString()!), long.Parse(s.GetProperty("endTimeUnixNano").GetString()!)));
                    }
                }
            }
        }
        return spans;
    }

    private static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var map = new Dictionary<string, string>();
        foreach (JsonElement a in owner.GetProperty("attributes").EnumerateArray())
        {
            JsonElement v = a.GetProperty("value");
            map[a.GetProperty("key").GetString()!] = v.TryGetProperty("stringValue", out JsonElement sv) ? sv.GetString()! : v.GetProperty("intValue").GetString()!;
        }
        return map;
    }

    private void Accept()
    {
        while (!_stopped)
        {
            TcpClient client;
            try
            {
                client = _listener.AcceptTcpClient();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            lock (_open)
                _open.Add(client);
            new Thread(() => Serve(client)) { IsBackground = true }.Start();
        }
    }

    private void Serve(TcpClient client)
    {
        try
        {
            client.ReceiveTimeout = 5000;
            NetworkStream stream = client.GetStream();
            var buffer = new List<byte>();
            var one = new byte[4096];
            int headEnd;
            while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
            {
                int n = stream.Read(one);
                if (n == 0)
                    return;
                buffer.AddRange(one.AsSpan(0, n));
            }
            string head = Encoding.ASCII.GetString(buffer.GetRange(0, headEnd).ToArray());
            int length = 0;
            foreach (string line in head.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    length = int.Parse(line["Content-Length:".Length..].Trim());
            }
            while (buffer.Count < headEnd + 4 + length)
            {
                int n = stream.Read(one);
                if (n == 0)
                    break;
                buffer.AddRange(one.AsSpan(0, n));
            }
            string body = Encoding.UTF8.GetString(buffer.GetRange(headEnd + 4, Math.Min(length, buffer.Count - headEnd - 4)).ToArray());
            lock (_requests)
            {
                _requests.Add(new Received(head, body));
                Monitor.PulseAll(_requests);
            }
            if (Silent)
                return; // left open until Dispose
            stream.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"u8);
            client.Close();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> what)
    {
        for (int i = 0; i + what.Length <= buffer.Count; i++)
        {
            int k = 0;
            while (k < what.Length && buffer[i + k] == what[k])
                k++;
            if (k == what.Length)
                return i;
        }
        return -1;
    }

    public void Dispose()
    {
        _stopped = true;
        _listener.Stop();
        lock (_open)
        {
            foreach (TcpClient c in _open)
                c.Dispose();
        }
    }
}
