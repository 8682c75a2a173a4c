using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using Emissary.Control;
using Emissary.Interop;
using Emissary.Files;

namespace Emissary.Telemetry;

/// <summary>The parts of /etc/resolv.conf a pod's resolver uses.</summary>
internal sealed class ResolverConfig(IReadOnlyList<byte[]> nameservers, IReadOnlyList<string> search, int ndots, TimeSpan timeout, int attempts)
{
    public IReadOnlyList<byte[]> Nameservers { get; } = nameservers;

    public IReadOnlyList<string> Search { get; } = search;

    public int Ndots { get; } = ndots;

    public TimeSpan Timeout { get; } = timeout;

    public int Attempts { get; } = attempts;

    public static ResolverConfig Parse(string text)
    {
        var servers = new List<byte[]>();
        IReadOnlyList<string> search = [];
        int ndots = 1, attempts = 2;
        var timeout = TimeSpan.FromSeconds(5);
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Split('#', ';')[0].Trim();
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2)
            {
                continue;
            }
            switch (words[0])
            {
                case "nameserver" when servers.Count < 3:
                    // An IPv6 nameserver may carry a zone (fe80::1%eth0): a link-local server is not supported.
                    if (IPAddress.TryParse(words[1], out IPAddress? address) && !words[1].Contains('%'))
                    {
                        servers.Add(address.GetAddressBytes());
                    }
                    break;
                case "search":
                case "domain": // the last of the two wins, as in glibc
                    search = Array.FindAll(Array.ConvertAll(words[1..], d => d.TrimEnd('.')), d => d.Length > 0);
                    break;
                case "options":
                    foreach (string option in words[1..])
                    {
                        ndots = Option(option, "ndots:", 15) ?? ndots;
                        attempts = Option(option, "attempts:", 5) ?? attempts;
                        if (Option(option, "timeout:", 30) is { } seconds)
                        {
                            timeout = TimeSpan.FromSeconds(Math.Max(seconds, 1));
                        }
                    }
                    break;
            }
        }
        return new ResolverConfig(servers, search, ndots, timeout, Math.Max(attempts, 1));
    }

    private static int? Option(string option, string prefix, int max) =>
        option.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(option.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? Math.Min(n, max)
            : null;

    /// <summary>The names to ask for, in order, as glibc's res_search does: absolute names as they are; otherwise with fewer dots than ndots the search domains first.</summary>
    public IReadOnlyList<string> Candidates(string name)
    {
        if (name.EndsWith('.'))
        {
            return [name.TrimEnd('.')];
        }
        var candidates = new List<string>();
        bool asIsFirst = name.AsSpan().Count('.') >= Ndots;
        if (asIsFirst)
        {
            candidates.Add(name);
        }
        foreach (string domain in Search)
        {
            candidates.Add(name + "." + domain);
        }
        if (!asIsFirst)
        {
            candidates.Add(name);
        }
        return candidates;
    }
}

/// <summary>
/// Host names to addresses the way a pod's resolver does it, for a static binary that has no
/// glibc name service: /etc/hosts first, then DNS over UDP to the nameservers of
/// /etc/resolv.conf with its search domains, ndots, timeout and attempts; A records first, AAAA
/// when there is no A record. Not supported: TCP fallback for truncated answers (an address
/// answer fits in UDP), DNSSEC, link-local nameservers with a zone, and nsswitch.conf (the
/// order is always files, then DNS).
/// </summary>
internal sealed class NameResolver(string hostsPath = "/etc/hosts", string resolvConfPath = "/etc/resolv.conf", int dnsPort = 53)
{
    private const int MaxConfigFile = 64 * 1024;
    private const ushort TypeA = 1;
    private const ushort TypeAaaa = 28;

    /// <summary>The addresses of <paramref name="host"/> (an IP literal is returned as is); throws <see cref="IOException"/> with one line.</summary>
    public IReadOnlyList<byte[]> Resolve(string host, long deadline)
    {
        string bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(bare, out IPAddress? literal))
        {
            return [literal.GetAddressBytes()];
        }
        if (ReadText(hostsPath) is { } hosts && FromHosts(hosts, bare.TrimEnd('.')) is { Count: > 0 } listed)
        {
            return listed;
        }
        if (bare.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return [[127, 0, 0, 1]];
        }
        ResolverConfig config = ResolverConfig.Parse(ReadText(resolvConfPath) ?? "");
        if (config.Nameservers.Count == 0)
        {
            // glibc's default when resolv.conf names none.
            config = new ResolverConfig([[127, 0, 0, 1]], config.Search, config.Ndots, config.Timeout, config.Attempts);
        }
        string? lastProblem = null;
        foreach (string candidate in config.Candidates(bare))
        {
            foreach (ushort type in (ReadOnlySpan<ushort>)[TypeA, TypeAaaa])
            {
                IReadOnlyList<byte[]> found = Query(config, candidate, type, deadline, out bool noSuchName, out string? problem);
                if (found.Count > 0)
                {
                    return found;
                }
                lastProblem = problem ?? lastProblem;
                if (noSuchName)
                {
                    break; // NXDOMAIN: no AAAA either
                }
            }
        }
        throw new IOException($"cannot resolve '{bare}'{(lastProblem is null ? "" : $" ({lastProblem})")}: tried /etc/hosts and the nameservers of {resolvConfPath}");
    }

    /// <summary>Every address /etc/hosts gives the name (IPv4 first).</summary>
    internal static IReadOnlyList<byte[]> FromHosts(string hosts, string name)
    {
        var v4 = new List<byte[]>();
        var v6 = new List<byte[]>();
        foreach (string raw in hosts.Split('\n'))
        {
            string[] words = raw.Split('#')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 2 && Array.FindIndex(words, 1, w => w.Equals(name, StringComparison.OrdinalIgnoreCase)) > 0 &&
                IPAddress.TryParse(words[0], out IPAddress? address) && !words[0].Contains('%'))
            {
                byte[] bytes = address.GetAddressBytes();
                (bytes.Length == 4 ? v4 : v6).Add(bytes);
            }
        }
        v4.AddRange(v6);
        return v4;
    }

    /// <summary>The addresses of one name and type; <paramref name="noSuchName"/> when the name does not exist (NXDOMAIN).</summary>
    private IReadOnlyList<byte[]> Query(ResolverConfig config, string name, ushort type, long deadline, out bool noSuchName, out string? problem)
    {
        noSuchName = false;
        problem = null;
        byte[] query;
        try
        {
            query = DnsMessage.Query((ushort)Random.Shared.Next(1, 65536), name, type);
        }
        catch (ArgumentException e)
        {
            noSuchName = true;
            problem = e.Message;
            return [];
        }
        for (int attempt = 0; attempt < config.Attempts; attempt++)
        {
            foreach (byte[] server in config.Nameservers)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    problem = "timed out";
                    return [];
                }
                int wait = (int)Math.Min(left, (long)config.Timeout.TotalMilliseconds);
                byte[]? answer = Exchange(server, query, wait, out problem);
                if (answer is not null && DnsMessage.Parse(answer, query, type) is { } parsed)
                {
                    if (parsed.ResponseCode == DnsMessage.NoSuchName)
                    {
                        noSuchName = true;
                        problem = null;
                        return [];
                    }
                    if (parsed.ResponseCode == 0)
                    {
                        problem = null;
                        return parsed.Addresses; // NODATA is an empty answer, not a failure
                    }
                    problem = $"the nameserver answered with code {parsed.ResponseCode}";
                }
            }
        }
        return [];
    }

    private unsafe byte[]? Exchange(byte[] server, byte[] query, int timeoutMs, out string? problem)
    {
        problem = null;
        bool v6 = server.Length == 16;
        int fd = Libc.Socket(v6 ? Libc.AF_INET6 : Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            problem = "socket: " + Libc.Describe(Libc.LastErrno);
            return null;
        }
        using var handle = new SafeFd(fd);
        SockAddr address = default;
        address.Family = (ushort)(v6 ? Libc.AF_INET6 : Libc.AF_INET);
        address.PortNetworkOrder = BinaryPrimitives.ReverseEndianness((ushort)dnsPort);
        for (int i = 0; i < server.Length; i++)
        {
            address.Rest[(v6 ? 4 : 0) + i] = server[i];
        }
        // A connected UDP socket only receives from that server: a spoofed answer from elsewhere is dropped by the kernel.
        if (Libc.Connect(fd, &address, v6 ? 28 : 16) != 0)
        {
            problem = "connect: " + Libc.Describe(Libc.LastErrno);
            return null;
        }
        fixed (byte* q = query)
        {
            if (Libc.Send(fd, q, (nuint)query.Length, Libc.MSG_NOSIGNAL) < 0)
            {
                problem = "send: " + Libc.Describe(Libc.LastErrno);
                return null;
            }
        }
        long until = Environment.TickCount64 + timeoutMs;
        byte[] answer = new byte[1232];
        while (true)
        {
            long left = until - Environment.TickCount64;
            if (left <= 0 || !Libc.PollOne(fd, Libc.POLLIN, (int)left))
            {
                if (Environment.TickCount64 < until)
                {
                    continue; // EINTR
                }
                problem = "no answer from the nameserver";
                return null;
            }
            nint n;
            fixed (byte* a = answer)
            {
                n = Libc.Recv(fd, a, (nuint)answer.Length, 0);
            }
            if (n < 0)
            {
                if (Libc.LastErrno is Errno.EAGAIN or Errno.EINTR)
                {
                    continue;
                }
                problem = Libc.Describe(Libc.LastErrno); // e.g. connection refused: nothing listens on port 53
                return null;
            }
            // Only an answer to this question counts; anything else is ignored and the wait goes on.
            if (n >= 2 && answer[0] == query[0] && answer[1] == query[1])
            {
                return answer.AsSpan(0, (int)n).ToArray();
            }
        }
    }

    private static string? ReadText(string path)
    {
        BoundedRead read = UntrustedFile.Read(Libc.AT_FDCWD, path, MaxConfigFile);
        return read.Outcome == ReadOutcome.Read ? Encoding.UTF8.GetString(read.Bytes!) : null;
    }
}

/// <summary>The two DNS messages the resolver needs (RFC 1035 §4): a recursive query for one name and type, and the addresses in its answer.</summary>
internal static class DnsMessage
{
    public const int NoSuchName = 3;

    public sealed class Answer(int responseCode, IReadOnlyList<byte[]> addresses)
    {
        public int ResponseCode { get; } = responseCode;

        public IReadOnlyList<byte[]> Addresses { get; } = addresses;
    }

    public static byte[] Query(ushort id, string name, ushort type)
    {
        if (name.Length + 2 > 255)
        {
            throw new ArgumentException($"'{name}' is longer than 255 bytes");
        }
        // Header: id, RD, one question; then the labels, the root label, QTYPE, QCLASS IN.
        byte[] message = new byte[12 + name.Length + 2 + 4];
        message[0] = (byte)(id >> 8);
        message[1] = (byte)id;
        message[2] = 0x01;
        message[5] = 1;
        int at = 12;
        foreach (string label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || !Ascii.IsValid(label))
            {
                throw new ArgumentException($"'{name}' is not a DNS name");
            }
            message[at++] = (byte)label.Length;
            at += Encoding.ASCII.GetBytes(label, message.AsSpan(at));
        }
        message[at++] = 0;
        message[at++] = (byte)(type >> 8);
        message[at++] = (byte)type;
        message[at++] = 0;
        message[at] = 1;
        return message;
    }

    /// <summary>The answer's addresses of <paramref name="type"/>, or null when it is not an answer to <paramref name="query"/>.</summary>
    public static Answer? Parse(ReadOnlySpan<byte> m, ReadOnlySpan<byte> query, ushort type)
    {
        if (m.Length < 12 || m[0] != query[0] || m[1] != query[1] || (m[2] & 0x80) == 0)
        {
            return null;
        }
        int rcode = m[3] & 0x0F;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(m[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(m[6..]);
        int at = 12;
        var addresses = new List<byte[]>();
        try
        {
            for (int i = 0; i < questions; i++)
            {
                at = SkipName(m, at) + 4;
            }
            for (int i = 0; i < answers && at < m.Length; i++)
            {
                at = SkipName(m, at);
                ushort rtype = BinaryPrimitives.ReadUInt16BigEndian(m[at..]);
                ushort rclass = BinaryPrimitives.ReadUInt16BigEndian(m[(at + 2)..]);
                int length = BinaryPrimitives.ReadUInt16BigEndian(m[(at + 8)..]);
                at += 10;
                if (at + length > m.Length)
                {
                    break;
                }
                // A CNAME chain comes first in the answer; the addresses at its end are the ones wanted.
                if (rtype == type && rclass == 1 && length == (type == 1 ? 4 : 16))
                {
                    addresses.Add(m.Slice(at, length).ToArray());
                }
                at += length;
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            // A message cut short: keep what was read.
        }
        return new Answer(rcode, addresses);
    }

    /// <summary>The offset after a (possibly compressed) name.</summary>
    private static int SkipName(ReadOnlySpan<byte> m, int at)
    {
        while (true)
        {
            byte length = m[at];
            if (length == 0)
            {
                return at + 1;
            }
            if ((length & 0xC0) == 0xC0)
            {
                return at + 2; // a pointer ends the name
            }
            at += length + 1;
        }
    }
}
