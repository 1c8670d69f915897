using System.Net;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// The operator's switches (postern.conf <c>outgoing-tls: dane / mta-sts</c>, which become
/// <see cref="DeliverySecurityOptions.Dane"/> and a null <see cref="DeliverySecurityOptions.MtaSts"/>):
/// with a policy turned off, what it would have refused is delivered with opportunistic STARTTLS.
/// </summary>
public class DeliverySecuritySwitchTests
{
    private const string Domain = "secure.test", Mx = "mx.secure.test";

    private static InMemoryDnsResolver SecureDns()
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddAddress(Mx, IPAddress.Loopback);
        return new InMemoryDnsResolver(zone) { AuthenticByDefault = true };
    }

    private static DirectTransport Transport(IDnsResolver dns, TestTlsResultRecorder recorder, int port, bool dane = true, MtaStsClient? sts = null) =>
        new(new MxResolver(dns), new DirectTransportOptions
        {
            Port = port,
            // Nothing here waits for a timeout; generous ones keep a loaded machine from cutting a TLS handshake short.
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(30)) },
            Security = new DeliverySecurityOptions { TlsResults = recorder, MtaSts = sts, Dane = dane },
        });

    private static OutboundRequest Request() =>
        ClientTestSupport.Request(System.Text.Encoding.UTF8.GetBytes(ClientTestSupport.Message()), ["rcpt@" + Domain], domain: Domain);

    [Fact]
    public async Task With_dane_off_a_tlsa_mismatch_no_longer_defers_and_tlsa_is_not_looked_up()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = SecureDns();
        string tlsaName = $"_{peer.Port}._tcp.{Mx}";
        dns.Zone.Add(new TlsaRecord(tlsaName, 300, 3, 1, 1, new byte[32])); // DANE-EE with a digest no key has

        var recorder = new TestTlsResultRecorder();
        OutboundResult on = await Transport(dns, recorder, peer.Port).DeliverAsync(Request(), CancellationToken.None);
        Assert.False(on.Recipients[0].Delivered, on.Log);
        Assert.False(on.Recipients[0].Permanent);
        Assert.Empty(peer.Messages);
        Assert.Contains(recorder.Results, r => r.ResultType == "tlsa-invalid" && r.PolicyType == TlsSessionResult.Tlsa);

        var offRecorder = new TestTlsResultRecorder();
        int asked = dns.Queries.Count;
        OutboundResult off = await Transport(dns, offRecorder, peer.Port, dane: false).DeliverAsync(Request(), CancellationToken.None);
        Assert.True(off.Recipients[0].Delivered, off.Log);
        Assert.Single(peer.Messages);
        Assert.True(off.Tls.Used);
        Assert.Equal("opportunistic", off.Tls.Policy);
        Assert.DoesNotContain(dns.Queries.Skip(asked), q => q.Type == DnsRecordType.TLSA);
        TlsSessionResult r = Assert.Single(offRecorder.Results);
        Assert.Equal(TlsSessionResult.NoPolicyFound, r.PolicyType);
        Assert.True(r.Success);
    }

    [Fact]
    public async Task With_mta_sts_off_an_enforced_policy_that_excludes_the_mx_no_longer_defers()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        InMemoryDnsResolver dns = SecureDns();
        dns.AuthenticByDefault = false; // no DANE: MTA-STS decides
        dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=20261130");
        var cache = new InMemoryMtaStsPolicyCache();
        MtaStsPolicy policy = MtaStsPolicy.Parse("version: STSv1\r\nmode: enforce\r\nmx: other.secure.test\r\nmax_age: 86400\r\n"u8, out string? error)
            ?? throw new InvalidOperationException(error);
        await cache.PutAsync(new CachedMtaStsPolicy(Domain, "20261130", policy, DateTimeOffset.UtcNow), CancellationToken.None);
        using var sts = new MtaStsClient(dns, cache);

        var recorder = new TestTlsResultRecorder();
        OutboundResult on = await Transport(dns, recorder, peer.Port, sts: sts).DeliverAsync(Request(), CancellationToken.None);
        Assert.False(on.Recipients[0].Delivered, on.Log);
        Assert.Contains("MTA-STS policy", on.Recipients[0].Text, StringComparison.Ordinal);
        Assert.Contains(recorder.Results, r => r.ResultType == "validation-failure" && r.PolicyType == TlsSessionResult.Sts);

        var offRecorder = new TestTlsResultRecorder();
        OutboundResult off = await Transport(dns, offRecorder, peer.Port, sts: null).DeliverAsync(Request(), CancellationToken.None);
        Assert.True(off.Recipients[0].Delivered, off.Log);
        Assert.Equal("opportunistic", off.Tls.Policy);
        Assert.DoesNotContain(offRecorder.Results, r => r.PolicyType == TlsSessionResult.Sts);
    }
}
