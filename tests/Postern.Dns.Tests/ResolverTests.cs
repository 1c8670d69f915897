using System.Net;
using Postern.Dns;

namespace Postern.Dns.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>The network resolver against the loopback test server, including hostile server behaviour.</summary>
public class ResolverTests : IAsyncLifetime
{
    private DnsTestServer _server = null!;

    public Task InitializeAsync()
    {
        var zone = new DnsZone("example.test");
        zone.Add(new SoaRecord("example.test", 300, "ns.example.test", "hostmaster.example.test", 1, 3600, 600, 86400, 60));
        zone.AddAddress("host.example.test", "192.0.2.10", ttl: 120)
            .AddAddress("host.example.test", "2001:db8::10")
            .AddMx("example.test", 20, "backup.example.test")
            .AddMx("example.test", 10, "host.example.test")
            .AddTxt("example.test", "v=spf1 ip4:192.0.2.0/24 -all")
            .AddCname("www.example.test", "alias.example.test")
            .AddCname("alias.example.test", "host.example.test")
            .AddCname("loop1.example.test", "loop2.example.test")
            .AddCname("loop2.example.test", "loop1.example.test")
            .AddTxt("long.example.test", new string('t', 600))
            .AddPtr(IPAddress.Parse("192.0.2.10"), "host.example.test")
            .Add(new TlsaRecord("_25._tcp.host.example.test", 60, 3, 1, 1, new byte[32]))
            .Add(new SrvRecord("_submissions._tcp.example.test", 60, 0, 1, 465, "host.example.test"))
            .Add(new CaaRecord("example.test", 60, 0, "issue", [.. "ca.example"u8]))
            .Add(new NsRecord("example.test", 60, "ns.example.test"));
        _server = DnsTestServer.Start(zone);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private DnsResolver Resolver(int cache = 0, TimeSpan? timeout = null, TimeProvider? clock = null, IReadOnlyList<IPAddress>? trusted = null, int attempts = 1) =>
        new(new DnsResolverOptions
        {
            Servers = [_server.EndPoint],
            CacheMaxEntries = cache,
            Timeout = timeout ?? TimeSpan.FromSeconds(5),
            Attempts = attempts,
            TimeProvider = clock ?? TimeProvider.System,
            TrustedServers = trusted,
        });

    [Fact]
    public async Task Looks_up_every_record_type()
    {
        DnsResolver r = Resolver();
        Assert.Equal(["10 host.example.test.", "20 backup.example.test."], (await r.LookupMxAsync("Example.Test.")).Records.Select(m => m.FormatData()));
        Assert.Equal("v=spf1 ip4:192.0.2.0/24 -all", Assert.Single((await r.LookupTxtAsync("example.test")).Records).Text);
        Assert.Equal(["192.0.2.10", "2001:db8::10"], (await r.LookupIPAsync("host.example.test")).Records.Select(a => a.ToString()));
        Assert.Equal("host.example.test", Assert.Single((await r.LookupPtrAsync(IPAddress.Parse("192.0.2.10"))).Records).Target);
        Assert.Equal(3, Assert.Single((await r.LookupTlsaAsync("_25._tcp.host.example.test")).Records).Usage);
        Assert.Equal(465, Assert.Single((await r.LookupSrvAsync("_submissions._tcp.example.test")).Records).Port);
        Assert.Equal("ca.example", Assert.Single((await r.LookupCaaAsync("example.test")).Records).ValueText);
        Assert.Equal("ns.example.test", Assert.Single((await r.LookupNsAsync("example.test")).Records).Target);
        Assert.Equal(60u, Assert.Single((await r.LookupSoaAsync("example.test")).Records).Minimum);
        Assert.Equal(600, Assert.Single((await r.LookupTxtAsync("long.example.test")).Records).Text.Length);
    }

    [Fact]
    public async Task Follows_cname_chains_and_reports_them()
    {
        DnsResult<IPAddress> res = await Resolver().LookupAAsync("www.example.test");
        Assert.Equal(DnsOutcome.Success, res.Outcome);
        Assert.Equal(["www.example.test", "alias.example.test"], res.CnameChain.Select(c => c.Name));
        Assert.Equal("host.example.test", res.CanonicalName);
        Assert.Equal(IPAddress.Parse("192.0.2.10"), Assert.Single(res.Records));
    }

    [Fact]
    public async Task Stops_cname_loops()
    {
        DnsResult<IPAddress> res = await Resolver().LookupAAsync("loop1.example.test");
        Assert.Equal(DnsOutcome.CnameChainTooLong, res.Outcome);
        Assert.True(res.Outcome.IsPermanent());
    }

    [Fact]
    public async Task Distinguishes_nxdomain_from_no_data()
    {
        DnsResolver r = Resolver();
        DnsResult<MxRecord> nx = await r.LookupMxAsync("nothing.example.test");
        Assert.Equal(DnsOutcome.NxDomain, nx.Outcome);
        Assert.True(nx.IsNotFound);
        DnsResult<MxRecord> nodata = await r.LookupMxAsync("host.example.test");
        Assert.Equal(DnsOutcome.NoData, nodata.Outcome);
        Assert.False(nodata.IsTemporaryFailure);
    }

    [Fact]
    public async Task Carries_the_ad_bit_only_from_trusted_servers()
    {
        _server.AuthenticData = true;
        Assert.True((await Resolver().LookupMxAsync("example.test")).Authentic);
        Assert.False((await Resolver(trusted: [IPAddress.Parse("192.0.2.53")]).LookupMxAsync("example.test")).Authentic);
        _server.AuthenticData = false;
        Assert.False((await Resolver().LookupMxAsync("example.test")).Authentic);
    }

    [Fact]
    public async Task Retries_over_tcp_when_truncated()
    {
        _server.Misbehaviour = Misbehaviour.TruncateUdp;
        DnsResult<MxRecord> res = await Resolver().LookupMxAsync("example.test");
        Assert.Equal(2, res.Records.Count);
        Assert.Equal(1, _server.TcpQueries);
    }

    [Fact]
    public async Task A_cut_tcp_answer_is_a_malformed_response()
    {
        _server.Misbehaviour = Misbehaviour.TruncateUdpAndCutTcp;
        DnsResult<MxRecord> res = await Resolver().LookupMxAsync("example.test");
        Assert.Equal(DnsOutcome.MalformedResponse, res.Outcome);
        Assert.True(res.IsTemporaryFailure);
    }

    [Fact]
    public async Task Ignores_answers_with_the_wrong_id_and_takes_the_right_one()
    {
        _server.Misbehaviour = Misbehaviour.WrongIdThenAnswer;
        DnsResult<IPAddress> res = await Resolver().LookupAAsync("host.example.test");
        Assert.Equal(IPAddress.Parse("192.0.2.10"), Assert.Single(res.Records));
    }

    [Fact]
    public async Task Garbage_before_the_answer_does_not_stop_the_wait()
    {
        _server.Misbehaviour = Misbehaviour.GarbageThenAnswer;
        Assert.True((await Resolver().LookupAAsync("host.example.test")).IsSuccess);
    }

    [Theory]
    [InlineData(Misbehaviour.WrongIdOnly, DnsOutcome.Timeout)]
    [InlineData(Misbehaviour.Silent, DnsOutcome.Timeout)]
    [InlineData(Misbehaviour.GarbageOnly, DnsOutcome.MalformedResponse)]
    [InlineData(Misbehaviour.CompressionLoop, DnsOutcome.MalformedResponse)]
    [InlineData(Misbehaviour.OversizedUdp, DnsOutcome.MalformedResponse)]
    [InlineData(Misbehaviour.WrongQuestion, DnsOutcome.MalformedResponse)]
    public async Task Hostile_responses_end_in_a_temporary_failure(Misbehaviour misbehaviour, DnsOutcome expected)
    {
        _server.Misbehaviour = misbehaviour;
        DnsResult<IPAddress> res = await Resolver(timeout: TimeSpan.FromMilliseconds(1000)).LookupAAsync("host.example.test");
        Assert.True(expected == res.Outcome, res.Describe());
        Assert.True(res.IsTemporaryFailure);
        Assert.Empty(res.Records);
        Assert.False(res.Authentic);
    }

    [Fact]
    public async Task Retries_the_configured_number_of_attempts()
    {
        _server.Misbehaviour = Misbehaviour.Silent;
        await Resolver(timeout: TimeSpan.FromMilliseconds(100), attempts: 3).LookupAAsync("host.example.test");
        Assert.Equal(3, _server.UdpQueries);
    }

    [Fact]
    public async Task Servfail_carries_extended_dns_errors_into_the_message()
    {
        _server.Misbehaviour = Misbehaviour.ServFailWithEde;
        DnsResult<MxRecord> res = await Resolver().LookupMxAsync("example.test");
        Assert.Equal(DnsOutcome.ServFail, res.Outcome);
        Assert.True(res.IsTemporaryFailure);
        Assert.Equal(6, Assert.Single(res.ExtendedErrors).InfoCode);
        Assert.Contains("EDE 6 (DNSSEC Bogus): signature mismatch", res.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Falls_back_to_the_next_server()
    {
        await using DnsTestServer dead = DnsTestServer.Start();
        dead.Misbehaviour = Misbehaviour.Silent;
        var r = new DnsResolver(new DnsResolverOptions { Servers = [dead.EndPoint, _server.EndPoint], Timeout = TimeSpan.FromMilliseconds(200), CacheMaxEntries = 0 });
        Assert.True((await r.LookupAAsync("host.example.test")).IsSuccess);
    }

    [Fact]
    public async Task Caches_positive_answers_until_the_ttl_expires()
    {
        var clock = new ManualClock();
        DnsResolver r = Resolver(cache: 100, clock: clock);
        await r.LookupAAsync("host.example.test");
        await r.LookupAAsync("HOST.example.test.");
        Assert.Equal(1, _server.UdpQueries);
        clock.Now += TimeSpan.FromSeconds(121);
        await r.LookupAAsync("host.example.test");
        Assert.Equal(2, _server.UdpQueries);
    }

    [Fact]
    public async Task Caches_negative_answers_for_the_soa_minimum()
    {
        var clock = new ManualClock();
        DnsResolver r = Resolver(cache: 100, clock: clock);
        Assert.Equal(DnsOutcome.NxDomain, (await r.LookupAAsync("missing.example.test")).Outcome);
        Assert.Equal(DnsOutcome.NxDomain, (await r.LookupAAsync("missing.example.test")).Outcome);
        Assert.Equal(1, _server.UdpQueries);
        clock.Now += TimeSpan.FromSeconds(61); // RFC 2308 §5: min(SOA TTL 300, MINIMUM 60)
        await r.LookupAAsync("missing.example.test");
        Assert.Equal(2, _server.UdpQueries);
    }

    [Fact]
    public async Task Does_not_cache_failures()
    {
        _server.Misbehaviour = Misbehaviour.ServFailWithEde;
        DnsResolver r = Resolver(cache: 100);
        await r.LookupAAsync("host.example.test");
        _server.Misbehaviour = Misbehaviour.None;
        Assert.True((await r.LookupAAsync("host.example.test")).IsSuccess);
    }

    [Fact]
    public async Task Keeps_the_cache_within_its_limit()
    {
        DnsResolver r = Resolver(cache: 10);
        for (int i = 0; i < 30; i++) await r.LookupTxtAsync($"n{i}.example.test");
        Assert.InRange(r.CachedCount, 1, 10);
    }

    [Fact]
    public async Task Reports_invalid_names_without_asking()
    {
        DnsResult<MxRecord> res = await Resolver().LookupMxAsync("bad..name");
        Assert.Equal(DnsOutcome.InvalidName, res.Outcome);
        Assert.Equal(0, _server.UdpQueries);
    }

    [Fact]
    public async Task Looks_up_internationalized_names_as_a_labels()
    {
        _server.Zone.AddAddress("xn--bcher-kva.example.test", "192.0.2.77");
        DnsResult<IPAddress> res = await Resolver().LookupAAsync("bücher.example.test");
        Assert.Equal("xn--bcher-kva.example.test", res.Name);
        Assert.Equal(IPAddress.Parse("192.0.2.77"), Assert.Single(res.Records));
    }

    [Fact]
    public async Task Retries_without_edns_when_the_server_rejects_it()
    {
        _server.Misbehaviour = Misbehaviour.NoEdns;
        Assert.True((await Resolver().LookupMxAsync("example.test")).IsSuccess);
        Assert.Equal(2, _server.UdpQueries);
    }

    [Fact]
    public void Takes_servers_from_resolv_conf_when_none_are_configured()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "nameserver 127.0.0.1\nnameserver ::1\n");
            var r = new DnsResolver(new DnsResolverOptions { ResolvConfPath = path });
            Assert.Equal(["127.0.0.1:53", "[::1]:53"], r.Servers.Select(s => s.ToString()));
            File.WriteAllText(path, "# empty\n");
            Assert.Equal(["127.0.0.1:53"], new DnsResolver(new DnsResolverOptions { ResolvConfPath = path }).Servers.Select(s => s.ToString()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Waits_for_a_slow_server_within_the_timeout()
    {
        _server.Delay = TimeSpan.FromMilliseconds(200);
        Assert.True((await Resolver().LookupAAsync("host.example.test")).IsSuccess);
    }

    [Fact]
    public async Task Concurrent_identical_lookups_share_one_query()
    {
        _server.Delay = TimeSpan.FromMilliseconds(300);
        DnsResolver r = Resolver();
        DnsResult<MxRecord>[] results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => r.LookupMxAsync("example.test").AsTask()));
        Assert.All(results, x => Assert.Equal(2, x.Records.Count));
        Assert.Equal(1, _server.UdpQueries);
        await r.LookupMxAsync("example.test");
        Assert.Equal(2, _server.UdpQueries); // cache disabled: a later lookup asks again
    }

    [Fact]
    public async Task Honours_cancellation()
    {
        _server.Misbehaviour = Misbehaviour.Silent;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Resolver().LookupAAsync("host.example.test", cts.Token));
    }
}
