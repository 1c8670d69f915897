using System.Net;
using Postern.Dns;
using Postern.Testing;

namespace Postern.Dns.Tests;

/// <summary>Starts the nsd + unbound lab once for the tests of <see cref="DnsLabTests"/>.</summary>
public sealed class DnsLabFixture : IAsyncLifetime
{
    public DnsLab Lab { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Lab = await DnsLab.StartAsync(new Dictionary<string, string> { [DnsLab.SignedZone] = "extra IN TXT \"added by the test\"" });

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
    }
}

/// <summary>The resolver against a real validating resolver (unbound) and signed zones (nsd).</summary>
public class DnsLabTests(DnsLabFixture fixture) : IClassFixture<DnsLabFixture>
{
    private DnsLab Lab => fixture.Lab;

    [Fact]
    public async Task Signed_answers_are_authentic()
    {
        DnsResolver r = Lab.CreateResolver();
        DnsResult<MxRecord> mx = await r.LookupMxAsync(DnsLab.SignedZone);
        Assert.True(mx.IsSuccess, mx.Describe());
        Assert.True(mx.Authentic, mx.Describe());
        Assert.Equal("mail.signed.test", Assert.Single(mx.Records).Exchange);

        DnsResult<TlsaRecord> tlsa = await r.LookupTlsaAsync("_25._tcp.mail.signed.test");
        Assert.True(tlsa.Authentic);
        Assert.Equal("3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Assert.Single(tlsa.Records).FormatData());

        DnsResult<IPAddress> ip = await r.LookupIPAsync("www.signed.test");
        Assert.True(ip.Authentic, ip.Describe());
        Assert.Equal("mail.signed.test", ip.CanonicalName);
        Assert.Equal(2, ip.Records.Count);

        Assert.True((await r.LookupCaaAsync(DnsLab.SignedZone)).Authentic);
        Assert.Equal(465, Assert.Single((await r.LookupSrvAsync("_submissions._tcp.signed.test")).Records).Port);
    }

    [Fact]
    public async Task Extra_records_given_at_start_are_signed_too()
    {
        DnsResult<TxtRecord> txt = await Lab.CreateResolver().LookupTxtAsync("extra.signed.test");
        Assert.Equal("added by the test", Assert.Single(txt.Records).Text);
        Assert.True(txt.Authentic);
    }

    [Theory]
    [InlineData("MX", "signed.test")]
    [InlineData("TXT", "signed.test")]
    [InlineData("TLSA", "_25._tcp.mail.signed.test")]
    [InlineData("CAA", "signed.test")]
    [InlineData("SRV", "_submissions._tcp.signed.test")]
    [InlineData("SOA", "signed.test")]
    [InlineData("AAAA", "mail.signed.test")]
    [InlineData("DNSKEY", "signed.test")]
    [InlineData("DS", "signed.test")]
    public async Task Parsed_records_read_as_dig_reads_them(string type, string name)
    {
        // dig (bind9-dnsutils) is an independent parser of the same responses.
        Assert.True(DnsRecord.TryParseType(type, out DnsRecordType t));
        var psi = new System.Diagnostics.ProcessStartInfo("dig") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "@" + Lab.ResolverEndPoint.Address, "-p", Lab.ResolverEndPoint.Port.ToString(), "+short", "+nosplit", type, name })
            psi.ArgumentList.Add(a);
        using var dig = System.Diagnostics.Process.Start(psi)!;
        string output = await dig.StandardOutput.ReadToEndAsync();
        await dig.WaitForExitAsync();
        static string Canon(string s) => string.Concat(s.Where(c => !char.IsWhiteSpace(c))).ToLowerInvariant();
        string[] expected = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Canon).Order().ToArray();
        DnsResult<DnsRecord> ours = await Lab.CreateResolver().QueryAsync(name, t);
        Assert.Equal(expected, ours.Records.Select(r => Canon(r.FormatData())).Order().ToArray());
    }

    [Fact]
    public async Task Authenticated_denial_is_authentic()
    {
        DnsResolver r = Lab.CreateResolver();
        DnsResult<TxtRecord> nx = await r.LookupTxtAsync("nothing-here.signed.test");
        Assert.Equal(DnsOutcome.NxDomain, nx.Outcome);
        Assert.True(nx.Authentic, nx.Describe());
        DnsResult<TlsaRecord> nodata = await r.LookupTlsaAsync("mail.signed.test");
        Assert.Equal(DnsOutcome.NoData, nodata.Outcome);
        Assert.True(nodata.Authentic);
    }

    [Fact]
    public async Task A_record_edited_after_signing_gives_a_temporary_servfail()
    {
        DnsResolver r = Lab.CreateResolver();
        DnsResult<TxtRecord> bogus = await r.LookupTxtAsync(DnsLab.TamperedName);
        Assert.Equal(DnsOutcome.ServFail, bogus.Outcome);
        Assert.True(bogus.IsTemporaryFailure);
        Assert.Empty(bogus.Records);
        Assert.False(bogus.Authentic);
        // unbound explains the failure with an Extended DNS Error (RFC 8914): DNSSEC Bogus or a variant.
        Assert.NotEmpty(bogus.ExtendedErrors);
        Assert.Contains("EDE", bogus.Describe(), StringComparison.Ordinal);
        // The untouched records of the same zone still validate.
        DnsResult<TxtRecord> intact = await r.LookupTxtAsync(DnsLab.BogusZone);
        Assert.True(intact.Authentic, intact.Describe());
    }

    [Fact]
    public async Task An_anchored_zone_served_unsigned_gives_servfail()
    {
        DnsResult<TxtRecord> res = await Lab.CreateResolver().LookupTxtAsync(DnsLab.StrippedZone);
        Assert.Equal(DnsOutcome.ServFail, res.Outcome);
        Assert.True(res.IsTemporaryFailure);
    }

    [Fact]
    public async Task Unsigned_answers_are_not_authentic()
    {
        DnsResolver r = Lab.CreateResolver();
        DnsResult<MxRecord> mx = await r.LookupMxAsync(DnsLab.InsecureZone);
        Assert.True(mx.IsSuccess, mx.Describe());
        Assert.False(mx.Authentic);
        Assert.Equal("not signed", Assert.Single((await r.LookupTxtAsync(DnsLab.InsecureZone)).Records).Text);
    }

    [Fact]
    public async Task The_ad_bit_is_ignored_from_an_untrusted_resolver()
    {
        var r = new DnsResolver(new DnsResolverOptions { Servers = [Lab.ResolverEndPoint], TrustedServers = [IPAddress.Parse("192.0.2.1")], CacheMaxEntries = 0 });
        DnsResult<MxRecord> mx = await r.LookupMxAsync(DnsLab.SignedZone);
        Assert.True(mx.IsSuccess);
        Assert.False(mx.Authentic);
    }

    [Fact]
    public async Task Signed_responses_with_rrsigs_parse_and_large_answers_come_over_tcp()
    {
        // DNSKEY with DO returns keys and signatures; a small EDNS buffer forces truncation and TCP.
        var r = new DnsResolver(new DnsResolverOptions { Servers = [Lab.ResolverEndPoint], CacheMaxEntries = 0, EdnsBufferSize = 512 });
        DnsResult<DnsRecord> keys = await r.QueryAsync(DnsLab.SignedZone, DnsRecordType.DNSKEY);
        Assert.True(keys.IsSuccess, keys.Describe());
        Assert.True(keys.Authentic);
        Assert.Equal(2, keys.Records.OfType<DnskeyRecord>().Count());
        DnsResult<DnsRecord> ds = await r.QueryAsync(DnsLab.SignedZone, DnsRecordType.RRSIG);
        Assert.NotEqual(DnsOutcome.MalformedResponse, ds.Outcome);
    }
}
