using System.Globalization;
using System.Text;
using Emissary.Interop;

namespace Emissary.Net;

internal static unsafe partial class LoopbackHttp
{
    /// <summary>
    /// One HTTP/1.1 POST of <paramref name="body"/> to an address already resolved (any IPv4 or
    /// IPv6 address, not only loopback: the OTLP exporter's collector), everything within
    /// <paramref name="deadline"/> (Environment.TickCount64). Returns the status code of the
    /// answer; throws <see cref="IOException"/> with a one-line reason. The answer's body is not
    /// read: the connection is closed after the status line. <paramref name="headerLines"/> are
    /// "Name: value" lines without CR or LF (the caller checks).
    /// </summary>
    public static int Post(NetEndpoint endpoint, string hostHeader, string path, string contentType,
        IReadOnlyList<string> headerLines, byte[] body, long deadline)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"POST {path} HTTP/1.1\r\nHost: {hostHeader}\r\nUser-Agent: emissary\r\nContent-Type: {contentType}\r\n");
        foreach (string line in headerLines)
        {
            head.Append(line).Append("\r\n");
        }
        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        // One send for the head and the body: two small writes on a fresh connection meet Nagle's
        // algorithm and the peer's delayed ACK, which can hold the body back for up to 40 ms.
        byte[] request = Encoding.UTF8.GetBytes(head.ToString());
        int headLength = request.Length;
        Array.Resize(ref request, headLength + body.Length);
        body.CopyTo(request, headLength);

        int fd = Connect(endpoint, deadline);
        try
        {
            SendAll(fd, request, endpoint.Display, deadline);
            return ReadStatus(fd, endpoint.Display, deadline);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Sends all of <paramref name="data"/>; <paramref name="peer"/> names the other end in errors.</summary>
    private static void SendAll(int fd, byte[] data, string peer, long deadline)
    {
        fixed (byte* p = data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                Wait(fd, Libc.POLLOUT, deadline);
                nint n = Libc.Send(fd, p + sent, (nuint)(data.Length - sent), Libc.MSG_NOSIGNAL);
                if (n < 0 && Libc.LastErrno is not (Errno.EAGAIN or Errno.EINTR))
                {
                    throw new IOException($"sending to {peer}: {Libc.Describe(Libc.LastErrno)}");
                }
                sent += (int)Math.Max(n, 0);
            }
        }
    }

    /// <summary>Reads the status line of the answer and returns its code.</summary>
    private static int ReadStatus(int fd, string peer, long deadline)
    {
        var answer = new byte[512];
        int received = 0;
        fixed (byte* p = answer)
        {
            while (received < answer.Length && Array.IndexOf(answer, (byte)'\n', 0, received) < 0)
            {
                Wait(fd, Libc.POLLIN, deadline);
                nint n = Libc.Recv(fd, p + received, (nuint)(answer.Length - received), 0);
                if (n == 0)
                {
                    break;
                }
                if (n < 0 && Libc.LastErrno is not (Errno.EAGAIN or Errno.EINTR))
                {
                    throw new IOException($"reading from {peer}: {Libc.Describe(Libc.LastErrno)}");
                }
                received += (int)Math.Max(n, 0);
            }
        }
        return ParseStatusLine(answer.AsSpan(0, received), peer);
    }

    /// <summary>The status code in the first line of an answer's bytes ("HTTP/1.1 200 OK"), or <see cref="IOException"/> when it is not one.</summary>
    internal static int ParseStatusLine(ReadOnlySpan<byte> answer, string peer)
    {
        string[] parts = Encoding.ASCII.GetString(answer).Split('\n')[0].Split(' ');
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/", StringComparison.Ordinal) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status))
        {
            throw new IOException($"{peer} did not answer HTTP");
        }
        return status;
    }
}
