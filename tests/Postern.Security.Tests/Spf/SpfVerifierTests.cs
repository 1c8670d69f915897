using System.Net;
using Postern.Dns;
using Postern.Security.Spf;

namespace Postern.Security.Tests.Spf;

/// <summary>SPF behaviour beyond the conformance suite: headers, DNSSEC status, limits, bad records.</summary>
public class SpfVerifierTests
{
    private static readonly IPAddress Ip = IPAddress.Parse("192.0.2.1");

    private static async Task<SpfCheckResult> Check(InMemoryDnsResolver dns, string domain = "example.org", IPAddress? ip = null) =>
        await new SpfVerifier(dns).CheckMailFromAsync(ip ?? Ip, "helo.example.org", "alice@" + domain);

    [Fact]
    public async Task Received_spf_header_has_the_rfc7208_fields()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
        SpfCheckResult r = await Check(dns);
        Assert.Equal(SpfResult.Pass, r.Result);
        Assert.Equal("ip4:192.0.2.0/24", r.Mechanism);
        string h = r.ReceivedSpfHeader("mx.example.net");
        Assert.Equal(
            "Received-SPF: pass (mx.example.net: domain of alice@example.org designates 192.0.2.1 as permitted sender)\r\n" +
            "\treceiver=mx.example.net; client-ip=192.0.2.1;\r\n" +
            "\tenvelope-from=alice@example.org; helo=helo.example.org; identity=mailfrom;\r\n" +
            "\tmechanism=ip4:192.0.2.0/24;", h);
    }

    [Fact]
    public async Task Dnssec_status_covers_every_lookup()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 include:other.example -all");
        dns.Zone.AddTxt("other.example", "v=spf1 ip4:192.0.2.1 -all");
        dns.SetAuthentic("example.org");
        Assert.False((await Check(dns)).DnssecAuthentic);
        dns.SetAuthentic("other.example");
        SpfCheckResult r = await Check(dns);
        Assert.True(r.DnssecAuthentic);
        Assert.Contains("DNSSEC-authentic", r.ReceivedSpfHeader("mx"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ten_lookups_are_allowed_eleven_are_not()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 " + string.Join(' ', Enumerable.Range(1, 10).Select(i => $"a:h{i}.example.org")) + " -all");
        for (int i = 1; i <= 10; i++) dns.Zone.AddAddress($"h{i}.example.org", "198.51.100.1");
        SpfCheckResult ok = await Check(dns);
        Assert.Equal(SpfResult.Fail, ok.Result);
        Assert.Equal(10, ok.DnsLookups);
        dns.Zone.Remove("example.org");
        dns.Zone.AddTxt("example.org", "v=spf1 " + string.Join(' ', Enumerable.Range(1, 11).Select(i => $"a:h{i}.example.org")) + " -all");
        dns.Zone.AddAddress("h11.example.org", "198.51.100.1");
        SpfCheckResult over = await Check(dns);
        Assert.Equal(SpfResult.PermError, over.Result);
        Assert.Contains("more than 10 DNS lookups", over.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Include_loops_end_at_the_lookup_limit()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 include:example.org -all");
        Assert.Equal(SpfResult.PermError, (await Check(dns)).Result);
        Assert.True(dns.Queries.Count <= 12);
    }

    [Fact]
    public async Task Third_void_lookup_is_permerror()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org -all");
        SpfCheckResult r = await Check(dns);
        Assert.Equal(SpfResult.PermError, r.Result);
        Assert.Contains("void", r.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.1/33 -all", "prefix")]
    [InlineData("v=spf1 ip4:192.0.2 -all", "ip4")]
    [InlineData("v=spf1 ip6:192.0.2.1 -all", "ip6")]
    [InlineData("v=spf1 foo -all", "unknown mechanism")]
    [InlineData("v=spf1 a:%{z}.example.org -all", "macro")]
    [InlineData("v=spf1 redirect=a.example redirect=b.example", "more than one redirect")]
    [InlineData("v=spf1 include -all", "include")]
    [InlineData("v=spf1 -all: -all", "all")]
    [InlineData("v=spf1 exists:%{d0}.example.org", "zero")]
    public async Task Bad_records_are_permerror_with_a_reason(string record, string reason)
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", record);
        SpfCheckResult r = await Check(dns);
        Assert.Equal(SpfResult.PermError, r.Result);
        Assert.Contains(reason, r.Problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Dns_failures_are_temperror_and_helo_check_uses_postmaster()
    {
        var dns = new InMemoryDnsResolver();
        dns.SetFailure("example.org", DnsOutcome.ServFail);
        Assert.Equal(SpfResult.TempError, (await Check(dns)).Result);
        dns.Zone.AddTxt("helo.example.org", "v=spf1 ip4:192.0.2.1 -all");
        SpfVerification v = await new SpfVerifier(dns).VerifyAsync(Ip, "helo.example.org", "");
        Assert.Equal(SpfResult.Pass, v.Helo.Result);
        Assert.Equal("postmaster@helo.example.org", v.MailFrom.Sender);
        Assert.Equal(SpfResult.Pass, v.Effective.Result);
    }
}
