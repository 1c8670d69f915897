using System.Net;
using Postern.Dns;
using Postern.Security.Dane;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// RFC 7672 §2.2.2: the TLSA base domain of an MX host name that is a CNAME. With every step of the
/// expansion DNSSEC-secure, TLSA records are looked up at the final target first, then at the
/// original name; with an insecure step, only at the original name.
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
    }
}
