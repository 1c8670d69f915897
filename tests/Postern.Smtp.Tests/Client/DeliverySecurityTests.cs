using System.Net;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Smtp.Tests.Client;

/// <summary>The DANE/MTA-STS/REQUIRETLS decisions of direct delivery with in-memory DNS (failure paths no real peer produces on demand).</summary>
public class DeliverySecurityTests
{
    private const string Domain = "secure.test", Mx = "mx.secure.test";

    private static InMemoryDnsResolver SecureDns()
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddAddress(Mx, IPAddress.Loopback);
        var dns = new InMemoryDnsResolver(zone) { AuthenticByDefault = true };
        return dns;
    }

    private static DirectTransport Transport(IDnsResolver dns, TestTlsResultRecorder recorder, MtaStsClient? sts = null, int port = 9) =>
        new(new MxResolver(dns), new DirectTransportOptions
        {
            Port = port,
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = ClientTestSupport.ExpiringTimeouts },
            Security = new DeliverySecurityOptions { TlsResults = recorder, MtaSts = sts },
        });

    private static OutboundRequest Request(bool requireTls = false, bool tlsRequiredNo = false) =>
        ClientTestSupport.Request(System.Text.Encoding.UTF8.GetBytes(ClientTestSupport.Message()), ["rcpt@" + Domain], domain: Domain) with { RequireTls = requireTls, TlsRequiredNo = tlsRequiredNo };

    [Fact]
    public async Task A_failed_tlsa_lookup_of_a_secure_mx_defers_without_connecting()
    {
        InMemoryDnsResolver dns = SecureDns();
        dns.SetFailure("_9._tcp." + Mx, DnsOutcome.ServFail, DnsRecordType.TLSA);
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await Transport(dns, recorder).DeliverAsync(Request(), CancellationToken.None);
        OutboundRecipientResult rr = r.Recipients[0];
        Assert.False(rr.Delivered);
        Assert.False(rr.Permanent);
        Assert.Contains("RFC 7672", rr.Text, StringComparison.Ordinal);
        Assert.Null(r.RemoteIp);
        TlsSessionResult t = Assert.Single(recorder.Results);
        Assert.Equal("dnssec-invalid", t.ResultType);
        Assert.Equal(TlsSessionResult.Tlsa, t.PolicyType);
    }

    [Fact]
    public async Task Malformed_tlsa_data_is_unusable_not_fatal()
    {
        InMemoryDnsResolver dns = SecureDns();
        var recorder = new TestTlsResultRecorder();
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        // Usage 3 with a 5-byte SHA-256 "digest", and an unknown usage: nothing usable, so TLS without authentication is required.
        dns.Zone.Add(new TlsaRecord($"_{peer.Port}._tcp." + Mx, 300, 3, 1, 1, [1, 2, 3, 4, 5]));
        dns.Zone.Add(new TlsaRecord($"_{peer.Port}._tcp." + Mx, 300, 200, 9, 9, []));
        OutboundResult r = await Transport(dns, recorder, port: peer.Port).DeliverAsync(Request(), CancellationToken.None);
        Assert.False(r.Recipients[0].Delivered); // the fake peer offers no STARTTLS, and TLS is mandatory
        Assert.Contains("does not offer STARTTLS", r.Log, StringComparison.Ordinal);
        Assert.Equal("starttls-not-supported", Assert.Single(recorder.Results).ResultType);
    }

    [Fact]
    public async Task Requiretls_to_an_unsigned_domain_without_mta_sts_fails_permanently()
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddAddress(Mx, IPAddress.Loopback);
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await Transport(new InMemoryDnsResolver(zone), recorder).DeliverAsync(Request(requireTls: true), CancellationToken.None);
        Assert.True(r.Recipients[0].Permanent);
        Assert.Equal("5.7.30", r.Recipients[0].Enhanced);
    }

    [Fact]
    public async Task A_policy_server_that_fails_is_recorded_and_delivery_goes_on_without_a_policy()
    {
        InMemoryDnsResolver dns = SecureDns();
        dns.AuthenticByDefault = false;
        dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=1");
        // Nothing listens on the policy port: the fetch fails fast.
        using var sts = new MtaStsClient(dns, new InMemoryMtaStsPolicyCache(), new MtaStsFetchOptions
        {
            Port = 9,
            Timeout = TimeSpan.FromSeconds(5),
            ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
        });
        var recorder = new TestTlsResultRecorder();
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        OutboundResult r = await Transport(dns, recorder, sts, peer.Port).DeliverAsync(Request(), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains(recorder.Results, x => x.ResultType == "sts-policy-fetch-error" && x.PolicyType == TlsSessionResult.Sts);
        Assert.Contains(recorder.Results, x => x.ResultType == "starttls-not-supported" && x.PolicyType == TlsSessionResult.NoPolicyFound);
    }
}
