using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Emissary.Telemetry;

namespace Emissary.Tests.Unit.Telemetry;

/// <summary>
/// Names resolved as a pod does: /etc/hosts, then DNS over UDP with resolv.conf's search domains
/// and ndots. The DNS tests run a real UDP nameserver on 127.0.0.1 that answers from a table and
/// records the questions it was asked, in order.
/// </summary>
public sealed class NameResolverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emissary-dns-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string PodResolvConf = "nameserver 127.0.0.1\nsearch build.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n";

    [Fact]
    public void Reads_nameservers_search_domains_and_options_like_glibc()
    {
        ResolverConfig c = ResolverConfig.Parse("# comment\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\nnameserver ::1\ndomain old.example\nsearch a.example b.example.\noptions ndots:5 timeout:2 attempts:3 rotate\n");
        c.Nameservers.Select(a => new IPAddress(a).ToString()).Should().Equal("10.96.0.10", "::1");
        c.Search.Should().Equal("a.example", "b.example");
        c.Ndots.Should().Be(5);
        c.Timeout.Should().Be(TimeSpan.FromSeconds(2));
        c.Attempts.Should().Be(3);
        ResolverConfig.Parse("").Should().BeEquivalentTo(new { Ndots = 1, Attempts = 2 });
    }

    [Fact]
    public void Names_with_fewer_dots_than_ndots_try_the_search_domains_first()
    {
        ResolverConfig c = ResolverConfig.Parse(PodResolvConf);
        c.Candidates("otel-collector.obs").Should().Equal(
            "otel-collector.obs.build.svc.cluster.local", "otel-collector.obs.svc.cluster.local", "otel-collector.obs.cluster.local", "otel-collector.obs");
        c.Candidates("collector.example.com.").Should().Equal("collector.example.com");
        ResolverConfig.Parse("search s.example\noptions ndots:1").Candidates("a.b").Should().Equal("a.b", "a.b.s.example");
    }

    [Fact]
    public void Hosts_file_entries_win_and_ip_literals_need_no_lookup()
    {
        string hosts = Write("hosts", "127.0.0.1 localhost\n# 10.0.0.1 commented\n10.1.2.3\tcollector collector.obs # alias\nfd00::5 collector\n");
        var resolver = new NameResolver(hosts, Write("resolv.conf", ""), dnsPort: 1);
        long deadline = Environment.TickCount64 + 1000;
        resolver.Resolve("collector.obs", deadline).Select(a => new IPAddress(a).ToString()).Should().Equal("10.1.2.3");
        resolver.Resolve("COLLECTOR", deadline).Select(a => new IPAddress(a).ToString()).Should().Equal("10.1.2.3", "fd00::5");
        resolver.Resolve("192.0.2.1", deadline).Should().ContainSingle().Which.Should().Equal(192, 0, 2, 1);
        resolver.Resolve("[::1]", deadline).Should().ContainSingle().Which.Should().HaveCount(16);
    }

    [Fact]
    public void Asks_the_nameserver_for_each_search_candidate_until_one_has_an_address()
    {
        using var server = new FakeNameserver(new() { ["otel-collector.obs.svc.cluster.local"] = [10, 96, 4, 2] });
        var resolver = new NameResolver(Write("hosts", ""), Write("resolv.conf", PodResolvConf), server.Port);
        resolver.Resolve("otel-collector.obs", Environment.TickCount64 + 2000).Should().ContainSingle().Which.Should().Equal(10, 96, 4, 2);
        server.Questions.Should().Equal("A otel-collector.obs.build.svc.cluster.local", "A otel-collector.obs.svc.cluster.local");
    }

    [Fact]
    public void Falls_back_to_AAAA_when_a_name_has_no_A_record()
    {
        byte[] v6 = IPAddress.Parse("fd00::42").GetAddressBytes();
        using var server = new FakeNameserver(new() { ["six.example"] = v6 });
        var resolver = new NameResolver(Write("hosts", ""), Write("resolv.conf", "nameserver 127.0.0.1\n"), server.Port);
        resolver.Resolve("six.example", Environment.TickCount64 + 2000).Should().ContainSingle().Which.Should().Equal(v6);
        server.Questions.Should().Equal("A six.example", "AAAA six.example");
    }

    [Fact]
    public void An_unknown_name_is_one_line_and_a_silent_nameserver_costs_no_more_than_the_deadline()
    {
        using var server = new FakeNameserver([]);
        var resolver = new NameResolver(Write("hosts", ""), Write("resolv.conf", "nameserver 127.0.0.1\nsearch a.example\n"), server.Port);
        FluentActions.Invoking(() => resolver.Resolve("nothing", Environment.TickCount64 + 2000)).Should().Throw<IOException>().WithMessage("cannot resolve 'nothing'*");
        server.Questions.Should().Equal(new[] { "A nothing.a.example", "A nothing" }, "an NXDOMAIN needs no AAAA question");

        server.Silent = true;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        FluentActions.Invoking(() => resolver.Resolve("other", Environment.TickCount64 + 300)).Should().Throw<IOException>();
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1.5), "the deadline bounds the whole resolution");
    }

    [Fact]
    public void Answers_are_parsed_through_compressed_names_and_CNAME_chains()
    {
        byte[] query = DnsMessage.Query(0x1234, "www.example", 1);
        var answer = new List<byte>(query);
        answer[2] = 0x81; answer[3] = 0x80; answer[7] = 2; // response, 2 answers
        answer.AddRange([0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 5, 3, (byte)'c', (byte)'d', (byte)'n', 0]); // CNAME
        answer.AddRange([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]); // A
        DnsMessage.Answer? parsed = DnsMessage.Parse(answer.ToArray(), query, 1);
        parsed!.Addresses.Should().ContainSingle().Which.Should().Equal(192, 0, 2, 7);
        DnsMessage.Parse(answer.Take(40).ToArray(), query, 1)!.Addresses.Should().BeEmpty("a message cut short is not read past its end");
        DnsMessage.Parse(query, query, 1).Should().BeNull("a question is not an answer");
        FluentActions.Invoking(() => DnsMessage.Query(1, new string('a', 64) + ".example", 1)).Should().Throw<ArgumentException>();
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A UDP nameserver on 127.0.0.1: answers A/AAAA from a table (by address length), NXDOMAIN otherwise.</summary>
    private sealed class FakeNameserver : IDisposable
    {
        private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly Dictionary<string, byte[]> _table;
        private readonly List<string> _questions = [];
        private readonly Task _loop;

        public FakeNameserver(Dictionary<string, byte[]> table)
        {
            _table = table;
            _loop = Task.Run(Serve);
        }

        public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

        public volatile bool Silent;

        public IReadOnlyList<string> Questions
        {
            get
            {
                lock (_questions)
                    return _questions.ToArray();
            }
        }

        private async Task Serve()
        {
            while (true)
            {
                UdpReceiveResult r;
                try
                {
                    r = await _udp.ReceiveAsync();
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    return;
                }
                byte[] q = r.Buffer;
                int at = 12;
                var labels = new List<string>();
                while (q[at] != 0)
                {
                    labels.Add(System.Text.Encoding.ASCII.GetString(q, at + 1, q[at]));
                    at += q[at] + 1;
                }
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(q.AsSpan(at + 1));
                string name = string.Join('.', labels);
                lock (_questions)
                    _questions.Add($"{(type == 1 ? "A" : "AAAA")} {name}");
                if (Silent)
                    continue;
                var answer = new List<byte>(q.Take(at + 5)) { };
                answer[2] = 0x81;
                answer[3] = 0x80;
                if (_table.TryGetValue(name, out byte[]? address))
                {
                    if (address.Length == (type == 1 ? 4 : 16))
                    {
                        answer[7] = 1;
                        answer.AddRange([0xC0, 12, (byte)(type >> 8), (byte)type, 0, 1, 0, 0, 0, 30, 0, (byte)address.Length]);
                        answer.AddRange(address);
                    }
                }
                else
                {
                    answer[3] = 0x83; // NXDOMAIN
                }
                await _udp.SendAsync(answer.ToArray(), r.RemoteEndPoint);
            }
        }

        public void Dispose()
        {
            _udp.Dispose();
            _loop.Wait(TimeSpan.FromSeconds(2));
        }
    }
}
