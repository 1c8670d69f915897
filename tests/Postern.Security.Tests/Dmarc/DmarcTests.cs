using System.Net;
using System.Text;
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;
using Postern.Security.Spf;

namespace Postern.Security.Tests.Dmarc;

public class PublicSuffixListTests
{
    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("mail.example.com", "example.com")]
    [InlineData("a.b.example.co.uk", "example.co.uk")]
    [InlineData("co.uk", "co.uk")]
    [InlineData("www.city.kawasaki.jp", "city.kawasaki.jp")] // exception rule !city.kawasaki.jp
    [InlineData("a.b.kawasaki.jp", "a.b.kawasaki.jp")]        // wildcard *.kawasaki.jp
    [InlineData("foo.bar.unknowntld", "bar.unknowntld")]      // implicit "*"
    [InlineData("Mail.EXAMPLE.com.", "example.com")]
    public void Organizational_domain(string domain, string org) => Assert.Equal(org, PublicSuffixList.Default.OrganizationalDomain(domain));

    [Fact]
    public void Embedded_copy_loads_when_the_system_file_is_missing()
    {
        using Stream s = typeof(PublicSuffixList).Assembly.GetManifestResourceStream("Postern.Security.public_suffix_list.dat")!;
        PublicSuffixList list = PublicSuffixList.Parse(new StreamReader(s), "embedded");
        Assert.True(list.Count > 5000);
        Assert.Equal("example.co.uk", list.OrganizationalDomain("x.example.co.uk"));
    }
}

public class DmarcRecordTests
{
    [Theory]
    [InlineData("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; rua=mailto:agg@example.com,mailto:b@example.com; ri=3600")]
    [InlineData("v = DMARC1 ;p=none")]
    public void Valid_records_parse(string text) => Assert.True(DmarcRecord.TryParse(text, out _, out string? error), error);

    [Fact]
    public void Fields_are_read()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=50; rua=mailto:agg@example.com; unknown=x", out DmarcRecord? r, out _));
        Assert.Equal(DmarcPolicy.Reject, r.Policy);
        Assert.Equal(DmarcPolicy.Quarantine, r.SubdomainPolicy);
        Assert.Equal(DmarcAlignment.Strict, r.DkimAlignment);
        Assert.Equal(DmarcAlignment.Relaxed, r.SpfAlignment);
        Assert.Equal(50, r.Percent);
        Assert.Equal(["mailto:agg@example.com"], r.AggregateReportUris);
    }

    [Theory]
    [InlineData("p=reject; v=DMARC1", "v=DMARC1")]
    [InlineData("v=DMARC2; p=reject", "v=DMARC1")]
    [InlineData("v=DMARC1", "missing p=")]
    [InlineData("v=DMARC1; p=bounce", "invalid policy")]
    [InlineData("v=DMARC1; p=none; pct=101", "pct")]
    [InlineData("v=DMARC1; p=none; pct=-1", "pct")]
    [InlineData("v=DMARC1; p=none; adkim=x", "adkim")]
    [InlineData("v=DMARC1; p=none; p=reject", "duplicate")]
    [InlineData("v=DMARC1; p=none; =x", "malformed")]
    public void Invalid_records_are_errors_with_a_reason(string text, string reason)
    {
        Assert.False(DmarcRecord.TryParse(text, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_policy_with_rua_counts_as_none()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=bogus; rua=mailto:a@example.com", out DmarcRecord? r, out _));
        Assert.Equal(DmarcPolicy.None, r.Policy);
        Assert.True(r.PolicyDefaulted);
    }
}

public class DmarcVerifierTests
{
    private static SpfCheckResult Spf(SpfResult result, string domain) => new()
    {
        Result = result, Identity = SpfIdentity.MailFrom, Domain = domain, Sender = "x@" + domain, ClientIp = IPAddress.Loopback, Helo = "h.example",
    };

    private static async Task<DkimSignatureResult> Dkim(string domain, bool pass)
    {
        // A real signature, verified against a zone, so that the result carries a parsed header.
        using DkimPrivateKey key = DkimPrivateKey.GenerateEd25519();
        string msg = "From: a@" + domain + "\r\n\r\nbody\r\n";
        string sig = new DkimSigner(new DkimSignerOptions { Domain = domain, Selector = "s", Key = key }).Sign(Encoding.UTF8.GetBytes(msg));
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("s._domainkey." + domain, key.DnsRecordText());
        string signed = sig + (pass ? msg : msg.Replace("body", "changed", StringComparison.Ordinal));
        return (await new DkimVerifier(dns).VerifyAsync(Encoding.UTF8.GetBytes(signed)))[0];
    }

    private static (InMemoryDnsResolver, DmarcVerifier) Setup(string record = "v=DMARC1; p=reject; rua=mailto:r@example.com", string at = "example.com", int percentile = 0)
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("_dmarc." + at, record);
        return (dns, new DmarcVerifier(dns, new DmarcOptions { Percentile = () => percentile }));
    }

    [Fact]
    public async Task Aligned_spf_pass_passes()
    {
        (_, DmarcVerifier v) = Setup();
        DmarcEvaluation e = await v.EvaluateAsync("example.com", Spf(SpfResult.Pass, "bounces.example.com"), []);
        Assert.Equal(DmarcResult.Pass, e.Result);
        Assert.True(e.SpfAligned);
        Assert.Equal(DmarcPolicy.None, e.Disposition);
    }

    [Fact]
    public async Task Strict_spf_alignment_needs_the_same_domain()
    {
        (_, DmarcVerifier v) = Setup("v=DMARC1; p=quarantine; aspf=s");
        DmarcEvaluation e = await v.EvaluateAsync("example.com", Spf(SpfResult.Pass, "bounces.example.com"), []);
        Assert.Equal(DmarcResult.Fail, e.Result);
        Assert.Equal(DmarcPolicy.Quarantine, e.Disposition);
    }

    [Fact]
    public async Task Aligned_dkim_pass_passes_and_unaligned_does_not()
    {
        (_, DmarcVerifier v) = Setup();
        Assert.Equal(DmarcResult.Pass, (await v.EvaluateAsync("example.com", Spf(SpfResult.Fail, "example.com"), [await Dkim("mail.example.com", true)])).Result);
        DmarcEvaluation e = await v.EvaluateAsync("example.com", Spf(SpfResult.Pass, "other.org"), [await Dkim("other.org", true), await Dkim("example.com", false)]);
        Assert.Equal(DmarcResult.Fail, e.Result);
        Assert.Equal(DmarcPolicy.Reject, e.Disposition);
        Assert.Equal(2, e.Dkim.Count);
        Assert.False(e.Dkim[0].Aligned);
        Assert.True(e.Dkim[1].Aligned);
    }

    [Fact]
    public async Task Subdomain_uses_organizational_record_and_sp()
    {
        (_, DmarcVerifier v) = Setup("v=DMARC1; p=reject; sp=none");
        DmarcEvaluation e = await v.EvaluateAsync("news.example.com", null, []);
        Assert.Equal(DmarcResult.Fail, e.Result);
        Assert.Equal("example.com", e.RecordDomain);
        Assert.Equal(DmarcPolicy.None, e.RequestedPolicy);
    }

    [Fact]
    public async Task Pct_sampling_steps_the_policy_down()
    {
        (_, DmarcVerifier v) = Setup("v=DMARC1; p=reject; pct=10", percentile: 50);
        DmarcEvaluation e = await v.EvaluateAsync("example.com", null, []);
        Assert.Equal(DmarcPolicy.Reject, e.RequestedPolicy);
        Assert.Equal(DmarcPolicy.Quarantine, e.Disposition);
        Assert.Equal(DmarcOverride.SampledOut, e.Override);
        (_, v) = Setup("v=DMARC1; p=reject; pct=10", percentile: 5);
        Assert.Equal(DmarcPolicy.Reject, (await v.EvaluateAsync("example.com", null, [])).Disposition);
    }

    [Fact]
    public async Task No_record_temp_failure_and_bad_records()
    {
        var dns = new InMemoryDnsResolver();
        var v = new DmarcVerifier(dns);
        Assert.Equal(DmarcResult.None, (await v.EvaluateAsync("example.com", null, [])).Result);
        dns.SetFailure("_dmarc.example.com", DnsOutcome.ServFail);
        Assert.Equal(DmarcResult.TempError, (await v.EvaluateAsync("example.com", null, [])).Result);
        dns.ClearFailures();
        dns.Zone.AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
        dns.Zone.AddTxt("_dmarc.example.com", "v=DMARC1; p=none");
        DmarcEvaluation two = await v.EvaluateAsync("example.com", null, []);
        Assert.Equal(DmarcResult.PermError, two.Result);
        Assert.Contains("more than one", two.Reason, StringComparison.Ordinal);
        Assert.Equal(DmarcResult.PermError, (await v.EvaluateAsync("not a domain", null, [])).Result);
    }

    [Fact]
    public async Task Record_dnssec_status_is_kept()
    {
        (InMemoryDnsResolver dns, DmarcVerifier v) = Setup();
        dns.SetAuthentic("example.com");
        Assert.True((await v.EvaluateAsync("example.com", null, [])).RecordDnssecAuthentic);
    }

    [Theory]
    [InlineData("From: Alice <alice@Example.COM>\r\n\r\n", "example.com", null)]
    [InlineData("To: x@y.z\r\n\r\n", null, "no From")]
    [InlineData("From: a@x.org\r\nFrom: b@y.org\r\n\r\n", null, "more than one From")]
    [InlineData("From: a@x.org, b@y.org\r\n\r\n", null, "more than one address")]
    public void From_domain_extraction(string message, string? domain, string? error)
    {
        bool ok = DmarcFrom.TryGetDomain(Encoding.UTF8.GetBytes(message), out string? d, out string? e);
        Assert.Equal(domain is not null, ok);
        if (ok) Assert.Equal(domain, d);
        else Assert.Contains(error!, e, StringComparison.Ordinal);
    }
}
