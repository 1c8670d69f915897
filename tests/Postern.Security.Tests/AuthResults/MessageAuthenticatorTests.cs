using System.Net;
using System.Text;
using Postern.Dns;
using Postern.Security.AuthResults;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;

namespace Postern.Security.Tests.AuthResults;

/// <summary>The whole pipeline the SMTP server will call, over an in-memory zone.</summary>
public class MessageAuthenticatorTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.25");

    private static (InMemoryDnsResolver Dns, DkimPrivateKey Key) Zone()
    {
        var dns = new InMemoryDnsResolver();
        var key = DkimPrivateKey.GenerateEd25519();
        dns.Zone.AddTxt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
        dns.Zone.AddTxt("mx.example.org", "v=spf1 a -all");
        dns.Zone.AddAddress("mx.example.org", Client);
        dns.Zone.AddPtr(Client, "mx.example.org");
        dns.Zone.AddTxt("sel._domainkey.example.org", key.DnsRecordText());
        dns.Zone.AddTxt("_dmarc.example.org", "v=DMARC1; p=reject; rua=mailto:dmarc@example.org");
        dns.SetAuthentic("example.org");
        dns.SetAuthentic("2.0.192.in-addr.arpa");
        return (dns, key);
    }

    private const string Message = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello\r\n";

    [Fact]
    public async Task Authenticated_message_gets_truthful_headers()
    {
        (InMemoryDnsResolver dns, DkimPrivateKey key) = Zone();
        string signed = new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = "sel", Key = key }).Sign(Encoding.UTF8.GetBytes(Message)) + Message;
        var auth = new MessageAuthenticator(dns, new MessageAuthenticatorOptions { HostName = "mx.example.net" });
        SenderAuthentication sender = await auth.CheckSenderAsync(Client, "mx.example.org", "alice@example.org");
        Assert.True(sender.SenderDnssecSigned);
        MessageAuthentication m = await auth.CheckMessageAsync(sender, Encoding.UTF8.GetBytes(signed));
        Assert.Equal(DmarcResult.Pass, m.Dmarc.Result);
        Assert.Equal(DmarcPolicy.None, m.Disposition);
        string ar = m.AuthenticationResults;
        Assert.StartsWith("Authentication-Results: mx.example.net;\r\n\t", ar, StringComparison.Ordinal);
        Assert.Contains("\tiprev=pass policy.iprev=192.0.2.25 (mx.example.org; DNSSEC-authentic);", ar, StringComparison.Ordinal);
        Assert.Contains("\tspf=pass smtp.mailfrom=alice@example.org (DNSSEC-authentic);", ar, StringComparison.Ordinal);
        Assert.Contains("\tspf=pass smtp.helo=mx.example.org", ar, StringComparison.Ordinal);
        Assert.Contains("\tdkim=pass header.d=example.org header.i=@example.org header.s=sel header.a=ed25519-sha256 header.b=", ar, StringComparison.Ordinal);
        Assert.Contains("DNSSEC-authentic key", ar, StringComparison.Ordinal);
        Assert.EndsWith("\tdmarc=pass header.from=example.org (p=reject dis=NONE; DNSSEC-authentic)", ar, StringComparison.Ordinal);
        Assert.Equal(6, ar.Split("\r\n").Length); // one result per line
        Assert.StartsWith("Received-SPF: pass (mx.example.net: domain of alice@example.org designates 192.0.2.25 as permitted sender, DNSSEC-authentic)", m.ReceivedSpf, StringComparison.Ordinal);
        Assert.Contains("client-ip=192.0.2.25;", m.ReceivedSpf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forged_message_gets_reject_disposition()
    {
        (InMemoryDnsResolver dns, _) = Zone();
        IPAddress stranger = IPAddress.Parse("203.0.113.9");
        var auth = new MessageAuthenticator(dns, new MessageAuthenticatorOptions { HostName = "mx.example.net", DnsblZones = ["bl.example"] });
        dns.Zone.AddAddress(Dnsbl.DnsblChecker.QueryName(stranger, "bl.example"), "127.0.0.2");
        SenderAuthentication sender = await auth.CheckSenderAsync(stranger, "evil.example", "alice@example.org");
        Assert.True(sender.Listed);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(Message));
        MessageAuthentication m = await auth.CheckMessageAsync(sender, stream);
        Assert.Equal(DmarcResult.Fail, m.Dmarc.Result);
        Assert.Equal(DmarcPolicy.Reject, m.Disposition);
        Assert.Contains("\tspf=fail smtp.mailfrom=alice@example.org", m.AuthenticationResults, StringComparison.Ordinal);
        Assert.Contains("\tdkim=none", m.AuthenticationResults, StringComparison.Ordinal);
        Assert.Contains("\tiprev=fail reason=\"no PTR record\"", m.AuthenticationResults, StringComparison.Ordinal);
        Assert.Contains("dmarc=fail reason=\"no aligned SPF or DKIM pass\" header.from=example.org (p=reject dis=REJECT", m.AuthenticationResults, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Null_sender_reports_the_helo_identity()
    {
        (InMemoryDnsResolver dns, _) = Zone();
        var auth = new MessageAuthenticator(dns, new MessageAuthenticatorOptions { HostName = "mx.example.net", CheckIprev = false });
        SenderAuthentication sender = await auth.CheckSenderAsync(Client, "mx.example.org", "");
        MessageAuthentication m = await auth.CheckMessageAsync(sender, Encoding.UTF8.GetBytes(Message));
        Assert.Contains("spf=pass smtp.mailfrom=postmaster@mx.example.org", m.AuthenticationResults, StringComparison.Ordinal);
        Assert.DoesNotContain("iprev", m.AuthenticationResults, StringComparison.Ordinal);
    }

    [Fact]
    public void Builder_quotes_values_and_strips_comment_delimiters()
    {
        string h = new AuthenticationResultsBuilder("mx.example.net").Add("x-test", "pass", "a \"quoted\" reason", "a (nested) comment", ("header", "b", "ab/c=")).Build();
        Assert.Equal("Authentication-Results: mx.example.net;\r\n\tx-test=pass reason=\"a \\\"quoted\\\" reason\" header.b=\"ab/c=\" (a nested comment)", h);
        Assert.Equal("Authentication-Results: mx.example.net; none", new AuthenticationResultsBuilder("mx.example.net").Build());
    }
}
