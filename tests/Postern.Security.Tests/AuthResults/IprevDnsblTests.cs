using System.Net;
using Postern.Dns;
using Postern.Security.Dnsbl;
using Postern.Security.Iprev;

namespace Postern.Security.Tests.AuthResults;

public class IprevTests
{
    [Fact]
    public async Task Forward_confirmed_name_passes()
    {
        var dns = new InMemoryDnsResolver();
        IPAddress ip = IPAddress.Parse("192.0.2.10");
        dns.Zone.AddPtr(ip, "other.example.net");
        dns.Zone.AddPtr(ip, "mail.example.org");
        dns.Zone.AddAddress("mail.example.org", ip);
        dns.Zone.AddAddress("other.example.net", "192.0.2.99");
        IprevCheckResult r = await new IprevVerifier(dns).CheckAsync(ip);
        Assert.Equal(IprevResult.Pass, r.Result);
        Assert.Equal("mail.example.org", r.Name);
    }

    [Fact]
    public async Task Ipv6_and_failures()
    {
        var dns = new InMemoryDnsResolver();
        IPAddress ip6 = IPAddress.Parse("2001:db8::25");
        dns.Zone.AddPtr(ip6, "mx.example.org");
        dns.Zone.AddAddress("mx.example.org", ip6);
        Assert.Equal(IprevResult.Pass, (await new IprevVerifier(dns).CheckAsync(ip6)).Result);

        IprevCheckResult none = await new IprevVerifier(dns).CheckAsync(IPAddress.Parse("192.0.2.1"));
        Assert.Equal(IprevResult.Fail, none.Result);
        Assert.Equal("no PTR record", none.Reason);

        dns.Zone.AddPtr(IPAddress.Parse("192.0.2.2"), "liar.example.org");
        Assert.Equal(IprevResult.Fail, (await new IprevVerifier(dns).CheckAsync(IPAddress.Parse("192.0.2.2"))).Result);

        dns.SetFailure(DnsName.ReverseName(IPAddress.Parse("192.0.2.3")), DnsOutcome.Timeout);
        Assert.Equal(IprevResult.TempError, (await new IprevVerifier(dns).CheckAsync(IPAddress.Parse("192.0.2.3"))).Result);
    }
}

public class DnsblTests
{
    private static InMemoryDnsResolver Zone()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddAddress("2.0.0.127.bl.example", "127.0.0.2");
        dns.Zone.AddTxt("2.0.0.127.bl.example", "test listing");
        dns.Zone.AddAddress("10.2.0.192.bl.example", "127.0.0.4");
        dns.Zone.AddAddress("11.2.0.192.bl.example", "127.255.255.254");
        dns.Zone.AddAddress("12.2.0.192.bl.example", "192.0.2.200");
        dns.Zone.AddAddress("1.0.0.127.bl.example", "127.0.0.1");
        return dns;
    }

    [Fact]
    public void Query_names_follow_rfc5782()
    {
        Assert.Equal("10.2.0.192.bl.example", DnsblChecker.QueryName(IPAddress.Parse("192.0.2.10"), "bl.example"));
        Assert.Equal("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example",
            DnsblChecker.QueryName(IPAddress.Parse("2001:db8::1"), "bl.example."));
    }

    [Theory]
    [InlineData("192.0.2.10", DnsblStatus.Listed)]
    [InlineData("192.0.2.11", DnsblStatus.Error)]   // 127.255.255.x error code
    [InlineData("192.0.2.12", DnsblStatus.Error)]   // outside 127/8
    [InlineData("127.0.0.1", DnsblStatus.Error)]    // 127.0.0.1 is never a listing
    [InlineData("192.0.2.13", DnsblStatus.NotListed)]
    public async Task Answers_are_classified(string ip, DnsblStatus status) =>
        Assert.Equal(status, (await new DnsblChecker(Zone()).CheckAsync(IPAddress.Parse(ip), "bl.example")).Status);

    [Fact]
    public async Task Listing_text_temp_errors_and_health()
    {
        InMemoryDnsResolver dns = Zone();
        DnsblResult r = await new DnsblChecker(dns).CheckAsync(IPAddress.Parse("127.0.0.2"), "bl.example");
        Assert.Equal("test listing", r.Text);
        Assert.NotNull(await new DnsblChecker(dns).CheckHealthAsync("bl.example")); // 127.0.0.1 gives an error here
        dns.Zone.Remove("1.0.0.127.bl.example");
        Assert.Null(await new DnsblChecker(dns).CheckHealthAsync("bl.example"));
        dns.SetFailure("13.2.0.192.bl.example", DnsOutcome.Timeout);
        Assert.Equal(DnsblStatus.TempError, (await new DnsblChecker(dns).CheckAsync(IPAddress.Parse("192.0.2.13"), "bl.example")).Status);
    }
}
