using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;
using Postern.Security.Dane;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// RFC 7672 §2.2.2-2.2.3: the TLSA base domain of an MX host name that is a CNAME. With every step of
/// the expansion DNSSEC-secure, TLSA records are looked up at the final target first, then at the
/// original name; with a secure first CNAME but insecure addresses, only at the original name; with
/// an insecure first CNAME, not at all. SNI is the TLSA base domain (§8.1); DANE-TA names are the
/// base domain, the MX host name and the next-hop domain (§3.2.2).
/// </summary>
public class DaneCnameTests
{
    private const string Domain = "secure.test", Mx = "mx.secure.test", Target = "mx.hosting.test";

    /// <summary>secure.test MX mx.secure.test, a CNAME of mx.hosting.test, which has the address; all signed.</summary>
    private static InMemoryDnsResolver Dns()
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddCname(Mx, Target);
        zone.AddAddress(Target, IPAddress.Loopback);
        return new InMemoryDnsResolver(zone) { AuthenticByDefault = true };
    }

    private static TlsaRecord Matching(string name) => new(name, 300, 3, 1, 1, DaneVerifier.AssociationData(PeerBehavior.TestCertificate, 1, 1));

    private static TlsaRecord Wrong(string name) => new(name, 300, 3, 1, 1, new byte[32]);

    private static Task<OutboundResult> DeliverAsync(IDnsResolver dns, FakeSmtpPeer peer, TestTlsResultRecorder recorder) =>
        new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Port = peer.Port,
            // Nothing here waits for a timeout; generous ones keep a loaded machine from cutting a TLS handshake short.
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(30)) },
            Security = new DeliverySecurityOptions { TlsResults = recorder },
        }).DeliverAsync(ClientTestSupport.Request(System.Text.Encoding.UTF8.GetBytes(ClientTestSupport.Message()), ["rcpt@" + Domain], domain: Domain),
            CancellationToken.None);

    private static List<string> TlsaQueries(InMemoryDnsResolver dns) =>
        dns.Queries.Where(q => q.Type == DnsRecordType.TLSA).Select(q => q.Name.TrimEnd('.')).ToList();

    [Fact]
    public async Task Secure_cname_chain_uses_the_tlsa_records_of_the_final_target()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = Dns();
        dns.Zone.Add(Matching($"_{peer.Port}._tcp.{Target}"));
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await DeliverAsync(dns, peer, recorder);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.True(r.Tls.CertificateVerified);
        Assert.Equal([$"_{peer.Port}._tcp.{Target}"], TlsaQueries(dns)); // found at the target: the original name is not needed
        Assert.Equal([Target], peer.ServerNames); // RFC 7672 §8.1: SNI is the TLSA base domain
        TlsSessionResult t = Assert.Single(recorder.Results);
        Assert.Equal(TlsSessionResult.Tlsa, t.PolicyType);
        Assert.True(t.Success);
        Assert.Equal(Mx, t.ReceivingMxHostname); // reports name the MX host as published
    }

    [Fact]
    public async Task Secure_cname_chain_without_tlsa_at_the_target_falls_back_to_the_original_name()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = Dns();
        dns.Zone.Add(Wrong($"_{peer.Port}._tcp.{Mx}"));
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await DeliverAsync(dns, peer, recorder);
        // The original name's (wrong) record applies: not delivered, deferred.
        Assert.False(r.Recipients[0].Delivered, r.Log);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Empty(peer.Messages);
        Assert.Equal([$"_{peer.Port}._tcp.{Target}", $"_{peer.Port}._tcp.{Mx}"], TlsaQueries(dns));
        Assert.Contains(recorder.Results, t => t.ResultType == "tlsa-invalid");
    }

    [Fact]
    public async Task An_insecure_step_means_only_the_original_name_is_looked_up()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = Dns();
        dns.SetAuthentic("hosting.test", false); // the target's zone is not signed
        dns.Zone.Add(Matching($"_{peer.Port}._tcp.{Target}")); // would verify, but must not be used
        dns.Zone.Add(Wrong($"_{peer.Port}._tcp.{Mx}"));
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await DeliverAsync(dns, peer, recorder);
        Assert.False(r.Recipients[0].Delivered, r.Log);
        Assert.Equal([$"_{peer.Port}._tcp.{Mx}"], TlsaQueries(dns));
        Assert.Contains(recorder.Results, t => t.ResultType == "tlsa-invalid");
    }

    [Fact]
    public async Task Without_a_cname_only_the_host_name_is_looked_up()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddAddress(Mx, IPAddress.Loopback);
        var dns = new InMemoryDnsResolver(zone) { AuthenticByDefault = true };
        dns.Zone.Add(Matching($"_{peer.Port}._tcp.{Mx}"));
        OutboundResult r = await DeliverAsync(dns, peer, new TestTlsResultRecorder());
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal([$"_{peer.Port}._tcp.{Mx}"], TlsaQueries(dns));
        Assert.Equal([Mx], peer.ServerNames);
    }

    [Fact]
    public async Task Records_at_the_original_name_make_it_the_sni_name()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = Dns();
        dns.Zone.Add(Matching($"_{peer.Port}._tcp.{Mx}"));
        OutboundResult r = await DeliverAsync(dns, peer, new TestTlsResultRecorder());
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.Equal([$"_{peer.Port}._tcp.{Target}", $"_{peer.Port}._tcp.{Mx}"], TlsaQueries(dns));
        Assert.Equal([Mx], peer.ServerNames); // the TLSA base domain is the original name here
    }

    [Fact]
    public async Task A_secure_first_cname_with_insecure_addresses_uses_the_original_name_only()
    {
        // RFC 7672 §2.2.2 "Insecure CNAME": mx.secure.test (signed) is an alias of mx.hosting.test (unsigned), so the address
        // answer is not authentic; the signed alias still lets the original name's TLSA records apply.
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = Dns();
        dns.AuthenticCoversCnameTargets = true;
        dns.SetAuthentic("hosting.test", false);
        dns.Zone.Add(Matching($"_{peer.Port}._tcp.{Mx}"));
        dns.Zone.Add(Wrong($"_{peer.Port}._tcp.{Target}")); // unsigned: never a candidate
        OutboundResult r = await DeliverAsync(dns, peer, new TestTlsResultRecorder());
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.True(r.Tls.CertificateVerified);
        Assert.Equal([$"_{peer.Port}._tcp.{Mx}"], TlsaQueries(dns));
        Assert.Equal([Mx], peer.ServerNames);
    }

    [Fact]
    public async Task An_insecure_first_cname_means_no_tlsa_lookup()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, "mx.alias.test");
        zone.AddCname("mx.alias.test", Target);
        zone.AddAddress(Target, IPAddress.Loopback);
        var dns = new InMemoryDnsResolver(zone) { AuthenticByDefault = true, AuthenticCoversCnameTargets = true };
        dns.SetAuthentic("alias.test", false);
        dns.Zone.Add(Wrong($"_{peer.Port}._tcp.{Target}"));
        dns.Zone.Add(Wrong($"_{peer.Port}._tcp.mx.alias.test"));
        OutboundResult r = await DeliverAsync(dns, peer, new TestTlsResultRecorder());
        Assert.True(r.Recipients[0].Delivered, r.Log); // opportunistic TLS
        Assert.NotEqual("dane", r.Tls.Policy);
        Assert.Empty(TlsaQueries(dns));
    }

    /// <summary>A CA and a leaf it issued for <paramref name="names"/>, with the leaf's key.</summary>
    private static (X509Certificate2 Root, X509Certificate2 Leaf) Issued(params string[] names)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootReq = new CertificateRequest("CN=DANE-TA Test Root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        X509Certificate2 root = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + names[0], key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string n in names) san.AddDnsName(n);
        req.CertificateExtensions.Add(san.Build());
        using X509Certificate2 c = req.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        return (root, X509CertificateLoader.LoadPkcs12(c.CopyWithPrivateKey(key).Export(X509ContentType.Pfx), null));
    }

    [Theory]
    [InlineData(Target, true)]          // the TLSA base domain (RFC 7672 §3.2.2)
    [InlineData(Domain, true)]          // the next-hop domain (§3.2.2: second reference identifier)
    [InlineData(Mx, true)]              // the MX host name as published (Postern's choice: it came from the secure MX answer)
    [InlineData("other.test", false)]   // anything else: not the server we meant to reach
    public async Task Dane_ta_name_checks_accept_the_base_domain_the_mx_name_and_the_next_hop_domain(string certificateName, bool accepted)
    {
        (X509Certificate2 root, X509Certificate2 leaf) = Issued(certificateName);
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = leaf });
        InMemoryDnsResolver dns = Dns();
        // DANE-TA with the anchor's public key in full (2 1 0): the server need not send it.
        dns.Zone.Add(new TlsaRecord($"_{peer.Port}._tcp.{Target}", 300, 2, 1, 0, root.PublicKey.ExportSubjectPublicKeyInfo()));
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await DeliverAsync(dns, peer, recorder);
        Assert.Equal(accepted, r.Recipients[0].Delivered);
        if (accepted)
        {
            Assert.True(r.Tls.CertificateVerified, r.Log);
            Assert.Equal([Target], peer.ServerNames);
        }
        else
        {
            Assert.Contains("does not name", r.Log, StringComparison.Ordinal);
            Assert.Contains(recorder.Results, t => t.ResultType == "tlsa-invalid");
        }
    }
    [Fact]
    public async Task Dane_ta_accepts_the_cname_expanded_next_hop_domain()
    {
        // RFC 7672 §3.2.2: the recipient domain alias.test is a CNAME of secure.test, whose MX is used; the expanded next-hop
        // domain is a third reference identifier.
        (X509Certificate2 root, X509Certificate2 leaf) = Issued(Domain);
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = leaf });
        InMemoryDnsResolver dns = Dns();
        dns.Zone.AddCname("alias.test", Domain);
        dns.Zone.Add(new TlsaRecord($"_{peer.Port}._tcp.{Target}", 300, 2, 1, 0, root.PublicKey.ExportSubjectPublicKeyInfo()));
        OutboundResult r = await new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Port = peer.Port,
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(30)) },
            Security = new DeliverySecurityOptions(),
        }).DeliverAsync(ClientTestSupport.Request(System.Text.Encoding.UTF8.GetBytes(ClientTestSupport.Message()), ["rcpt@alias.test"], domain: "alias.test"),
            CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.CertificateVerified);
    }
}
