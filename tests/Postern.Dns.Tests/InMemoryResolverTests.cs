using System.Net;
using Postern.Dns;

namespace Postern.Dns.Tests;

public class InMemoryResolverTests
{
    [Fact]
    public async Task Answers_from_the_zone_with_authenticity_per_name()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "v=spf1 -all").AddMx("example.org", 10, "mx.example.org").AddAddress("mx.example.org", "192.0.2.1");
        dns.SetAuthentic("example.org");
        dns.Zone.AddTxt("other.test", "hello");
        Assert.True((await dns.LookupTxtAsync("example.org")).Authentic);
        Assert.True((await dns.LookupIPAsync("mx.example.org")).Authentic);
        DnsResult<TxtRecord> other = await dns.LookupTxtAsync("other.test");
        Assert.Equal("hello", Assert.Single(other.Records).Text);
        Assert.False(other.Authentic);
    }

    [Fact]
    public async Task Simulates_failures_per_name_and_type()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("example.org", "x").AddAddress("example.org", "192.0.2.1");
        dns.SetFailure("example.org", DnsOutcome.ServFail, DnsRecordType.TXT, new ExtendedDnsError(22, "no reachable authority"));
        DnsResult<TxtRecord> txt = await dns.LookupTxtAsync("example.org");
        Assert.Equal(DnsOutcome.ServFail, txt.Outcome);
        Assert.Equal(22, Assert.Single(txt.ExtendedErrors).InfoCode);
        Assert.True((await dns.LookupAAsync("example.org")).IsSuccess);
        dns.SetFailure("slow.example.org", DnsOutcome.Timeout);
        Assert.Equal(DnsOutcome.Timeout, (await dns.LookupMxAsync("slow.example.org")).Outcome);
        dns.ClearFailures();
        Assert.True((await dns.LookupTxtAsync("example.org")).IsSuccess);
        Assert.Equal(4, dns.Queries.Count);
    }

    [Fact]
    public async Task Treats_empty_non_terminals_as_existing_and_expands_wildcards()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddAddress("a.b.example.org", "192.0.2.1").AddTxt("*.wild.example.org", "w");
        Assert.Equal(DnsOutcome.NoData, (await dns.LookupAAsync("b.example.org")).Outcome);
        Assert.Equal(DnsOutcome.NxDomain, (await dns.LookupAAsync("c.example.org")).Outcome);
        DnsResult<TxtRecord> w = await dns.LookupTxtAsync("x.wild.example.org");
        Assert.Equal("x.wild.example.org", Assert.Single(w.Records).Name);
    }

    [Fact]
    public async Task Limits_cname_chains()
    {
        var dns = new InMemoryDnsResolver(maxCnameChain: 3);
        for (int i = 0; i < 5; i++) dns.Zone.AddCname($"c{i}.example.org", $"c{i + 1}.example.org");
        dns.Zone.AddAddress("c5.example.org", "192.0.2.5");
        Assert.Equal(DnsOutcome.CnameChainTooLong, (await dns.LookupAAsync("c0.example.org")).Outcome);
        Assert.True((await dns.LookupAAsync("c3.example.org")).IsSuccess);
    }
}
