using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Xunit.Sdk;

namespace Emissary.Tests.BlackBox;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 for the sidecar tests (a stand-in for Istio's pilot-agent or
/// linkerd-proxy admin port). Built on <see cref="TcpListener"/> (not HttpListener, which needs
/// http.sys-style URL reservations and would hide what is on the wire). Every request is recorded
/// (method, path, the status it was answered with, when it arrived); the answer is
/// <see cref="Status"/> at that moment (e.g. 503 until the test calls <see cref="Answer"/> with 200),
/// with <c>Connection: close</c>. With <see cref="Silent"/> a connection is accepted and read but
/// never answered (a hung sidecar).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class LoopbackHttpServer : IDisposable
{
    /// <summary>One request as received.</summary>
    /// <param name="AnsweredStatus">The status it was answered with, or null when it was not answered (<see cref="Silent"/>).</param>
    public sealed record Request(string Method, string Path, int? AnsweredStatus, DateTimeOffset At);

    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Request> _requests = new();
    private readonly List<TcpClient> _open = new();
    private readonly object _gate = new();
    private readonly Task _acceptLoop;
    private volatile int _status;
    private volatile bool _silent;

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: a free port chosen by the kernel).</summary>
    public LoopbackHttpServer(int status = 200, int port = 0)
    {
        _status = status;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoop);
    }

    public int Port { get; }

    /// <summary>127.0.0.1:PORT</summary>
    public string HostPort => $"127.0.0.1:{Port}";

    /// <summary>http://127.0.0.1:PORT + <paramref name="path"/>.</summary>
    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    /// <summary>The status every request is answered with from now on.</summary>
    public int Status => _status;

    /// <summary>Accept and read requests, but never answer them.</summary>
    public bool Silent
    {
        get => _silent;
        set => _silent = value;
    }

    /// <summary>Answers <paramref name="status"/> from now on; returns the time of the switch.</summary>
    public DateTimeOffset Answer(int status)
    {
        var at = DateTimeOffset.UtcNow;
        _status = status;
        return at;
    }

    public IReadOnlyList<Request> Requests
    {
        get { lock (_gate) return _requests.ToList(); }
    }

    /// <summary>Waits until a recorded request matches; returns it.</summary>
    public Request WaitForRequest(Func<Request, bool> match, string description, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + limit;
        lock (_gate)
        {
            while (true)
            {
                Request? hit = _requests.FirstOrDefault(match);
                if (hit is not null)
                    return hit;
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new XunitException($"timed out after {limit.TotalSeconds} s waiting for {description} on {Url("/")}; requests so far: {Describe()}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests matched.</summary>
    public void WaitForRequests(int count, Func<Request, bool> match, string description, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + limit;
        lock (_gate)
        {
            while (_requests.Count(match) < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new XunitException($"timed out after {limit.TotalSeconds} s waiting for {count} x {description} on {Url("/")}; requests so far: {Describe()}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    public string Describe()
    {
        lock (_gate)
        {
            return _requests.Count == 0
                ? "(none)"
                : string.Join(", ", _requests.Select(r => $"{r.Method} {r.Path} -> {(r.AnsweredStatus?.ToString() ?? "no answer")} at {r.At:HH:mm:ss.fff}"));
        }
    }

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on right now (bound, read, released).</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_gate)
                _open.Add(client);
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(TcpClient client)
    {
        bool keepOpen = false;
        try
        {
            NetworkStream stream = client.GetStream();
            string? head = await ReadHead(stream);
            if (head is null)
                return; // a bare connect (a TCP probe) or a client that gave up
            string[] requestLine = head.Split("\r\n")[0].Split(' ');
            string method = requestLine.Length > 0 ? requestLine[0] : "";
            string path = requestLine.Length > 1 ? requestLine[1] : "";
            bool silent = _silent;
            int status = _status;
            lock (_gate)
            {
                _requests.Add(new Request(method, path, silent ? null : status, DateTimeOffset.UtcNow));
                Monitor.PulseAll(_gate);
            }
            if (silent)
            {
                keepOpen = true; // closed by Dispose
                return;
            }
            byte[] answer = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(answer, _stop.Token);
            await stream.FlushAsync(_stop.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            if (!keepOpen)
            {
                lock (_gate)
                    _open.Remove(client);
                client.Dispose();
            }
        }
    }

    /// <summary>Reads up to the blank line that ends the request head; null on EOF or timeout before it.</summary>
    private async Task<string?> ReadHead(NetworkStream stream)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(ReadTimeout);
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (head.Length < 16 * 1024)
        {
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0)
                return null;
            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                return head.ToString();
        }
        return head.ToString();
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _acceptLoop.Wait(TimeSpan.FromSeconds(5)); }
        catch (AggregateException) { }
        lock (_gate)
        {
            foreach (var client in _open)
                client.Dispose();
            _open.Clear();
        }
        _stop.Dispose();
    }
}
