using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using Emissary.Foundation;
using Emissary.Interop;

namespace Emissary.Net;

/// <summary>An address to reach: an IP literal (or localhost) and a port. No DNS: glibc's resolver does not work in a static binary, and the targets are loopback sidecars.</summary>
internal sealed record NetEndpoint(byte[] Address, int Port, string Display)
{
    /// <summary>Parses HOST:PORT where HOST is an IPv4 or [IPv6] literal or "localhost".</summary>
    public static NetEndpoint Parse(string hostPort, string what)
    {
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new UsageException($"{what} '{hostPort}': expected HOST:PORT (e.g. 127.0.0.1:15021)");
        }
        string host = hostPort[..colon];
        string bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (bare.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            bare = "127.0.0.1";
        }
        if (!IPAddress.TryParse(bare, out IPAddress? address))
        {
            throw new UsageException($"{what} '{hostPort}': '{host}' is not an IP address (emissary does not resolve names: use 127.0.0.1, [::1] or localhost)");
        }
        return new NetEndpoint(address.GetAddressBytes(), port, hostPort);
    }
}

/// <summary>An http:// URL split into what a request needs.</summary>
internal sealed record HttpTarget(NetEndpoint Endpoint, string HostHeader, string Path, string Url)
{
    public static HttpTarget Parse(string url, string what)
    {
        const string scheme = "http://";
        if (!url.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"{what} '{url}': only http:// URLs are supported (sidecar admin ports are plain HTTP on loopback)");
        }
        string rest = url[scheme.Length..];
        int slash = rest.IndexOf('/');
        string authority = slash < 0 ? rest : rest[..slash];
        string path = slash < 0 ? "/" : rest[slash..];
        string hostPort = authority.Contains(':') && !authority.EndsWith(']') ? authority : authority + ":80";
        return new HttpTarget(NetEndpoint.Parse(hostPort, what), authority, path, url);
    }
}

/// <summary>
/// Just enough HTTP/1.1 for sidecar admin endpoints (Istio's pilot-agent, linkerd-proxy): one
/// request, the status line of the answer, every step bounded by a timeout. Written on raw
/// sockets because System.Net.Http would add megabytes to the static binary (docs/dependencies.md, System.Net.Http).
/// </summary>
internal static unsafe partial class LoopbackHttp
{
    /// <summary>Sends METHOD PATH and returns the status code, or throws <see cref="IOException"/> with a one-line reason.</summary>
    public static int Request(HttpTarget target, string method, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        int fd = Connect(target.Endpoint, deadline);
        try
        {
            byte[] request = Encoding.ASCII.GetBytes(
                $"{method} {target.Path} HTTP/1.1\r\nHost: {target.HostHeader}\r\nUser-Agent: emissary\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            SendAll(fd, request, target.Url, deadline);
            return ReadStatus(fd, target.Url, deadline);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Whether a TCP connection to the endpoint succeeds within the timeout.</summary>
    public static bool CanConnect(NetEndpoint endpoint, TimeSpan timeout)
    {
        try
        {
            Libc.Close(Connect(endpoint, Environment.TickCount64 + (long)timeout.TotalMilliseconds));
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int Connect(NetEndpoint endpoint, long deadline)
    {
        bool v6 = endpoint.Address.Length == 16;
        int fd = Libc.Socket(v6 ? Libc.AF_INET6 : Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"socket: {Libc.Describe(Libc.LastErrno)}");
        }
        try
        {
            SockAddr address = default;
            address.Family = (ushort)(v6 ? Libc.AF_INET6 : Libc.AF_INET);
            address.PortNetworkOrder = BinaryPrimitives.ReverseEndianness((ushort)endpoint.Port);
            // sockaddr_in: the address follows the port; sockaddr_in6: 4 bytes of flow info first.
            int offset = v6 ? 4 : 0;
            for (int i = 0; i < endpoint.Address.Length; i++)
            {
                address.Rest[offset + i] = endpoint.Address[i];
            }
            if (Libc.Connect(fd, &address, v6 ? 28 : 16) != 0 && Libc.LastErrno != Errno.EINPROGRESS)
            {
                throw new IOException($"connecting to {endpoint.Display}: {Libc.Describe(Libc.LastErrno)}");
            }
            Wait(fd, Libc.POLLOUT, deadline);
            int error = 0;
            int length = sizeof(int);
            Libc.GetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &length);
            if (error != 0)
            {
                throw new IOException($"connecting to {endpoint.Display}: {Libc.Describe((Errno)error)}");
            }
            return fd;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    private static void Wait(int fd, short events, long deadline)
    {
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                throw new IOException("timed out");
            }
            var pfd = new PollFd { Fd = fd, Events = events };
            int n = Libc.Poll(&pfd, 1, (int)left);
            if (n > 0)
            {
                return;
            }
            if (n < 0 && Libc.LastErrno != Errno.EINTR)
            {
                throw new IOException($"poll: {Libc.Describe(Libc.LastErrno)}");
            }
        }
    }
}
