using System.Net;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// An unusable <c>_mta-sts</c> TXT record (two STSv1 records, no id): RFC 8461 §3.1 treats it as no
/// policy available now, a cached policy stays in force (§5.1), and the TLS report gets an
/// <c>sts-policy-invalid</c> failure (RFC 8460 §4.3.2.2).
/// </summary>
public class MtaStsInvalidRecordTests
{
    private const string Domain = "sts.test", Mx = "mx.sts.test";

    private static InMemoryDnsResolver Dns(params string[] records)
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, Mx);
        zone.AddAddress(Mx, IPAddress.Loopback);
        foreach (string r in records) zone.AddTxt("_mta-sts." + Domain, r);
        return new InMemoryDnsResolver(zone);
    }

    private static async Task<OutboundResult> DeliverAsync(IDnsResolver dns, IMtaStsPolicyCache cache, int port, TestTlsResultRecorder recorder)
    {
        // Nothing listens on the policy port: a fetch, if one were made, fails (and would be recorded as sts-policy-fetch-error).
        using var sts = new MtaStsClient(dns, cache, new MtaStsFetchOptions
        {
            Port = 9,
            Timeout = TimeSpan.FromSeconds(5),
            ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
        });
        return await new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Port = port,
            // Nothing here waits for a timeout; generous ones keep a loaded machine from cutting a TLS handshake short.
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(30)) },
            Security = new DeliverySecurityOptions { TlsResults = recorder, MtaSts = sts },
        }).DeliverAsync(ClientTestSupport.Request(System.Text.Encoding.UTF8.GetBytes(ClientTestSupport.Message()), ["rcpt@" + Domain], domain: Domain),
            CancellationToken.None);
    }

    [Theory]
    [InlineData("v=STSv1; id=one;", "v=STSv1; id=two;")]
    [InlineData("v=STSv1;")]
    [InlineData("v=STSv1; id=bad id with spaces;")]
    public async Task An_invalid_record_without_a_cached_policy_is_reported_and_mail_goes_out_as_without_a_policy(params string[] records)
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var recorder = new TestTlsResultRecorder();
        OutboundResult r = await DeliverAsync(Dns(records), new InMemoryMtaStsPolicyCache(), peer.Port, recorder);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("opportunistic", r.Tls.Policy);
        Assert.Contains("MTA-STS:", r.Log, StringComparison.Ordinal);
        TlsSessionResult invalid = Assert.Single(recorder.Results, x => x.PolicyType == TlsSessionResult.Sts);
        Assert.False(invalid.Success);
        Assert.Equal("sts-policy-invalid", invalid.ResultType);
        Assert.Contains("_mta-sts." + Domain, invalid.AdditionalInformation, StringComparison.Ordinal);
        Assert.DoesNotContain(recorder.Results, x => x.ResultType == "sts-policy-fetch-error"); // nothing was fetched
        Assert.Contains(recorder.Results, x => x.PolicyType == TlsSessionResult.NoPolicyFound && x.Success);
    }

    [Fact]
    public async Task An_invalid_record_keeps_a_cached_enforce_policy_in_force_and_is_reported()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Certificate = PeerBehavior.TestCertificate });
        var cache = new InMemoryMtaStsPolicyCache();
        MtaStsPolicy policy = MtaStsPolicy.Parse("version: STSv1\r\nmode: enforce\r\nmx: other.sts.test\r\nmax_age: 604800\r\n"u8, out string? error)
            ?? throw new InvalidOperationException(error);
        await cache.PutAsync(new CachedMtaStsPolicy(Domain, "one", policy, DateTimeOffset.UtcNow), CancellationToken.None);
        var recorder = new TestTlsResultRecorder();
        // Two records where there was one: an attacker (or a mistake) cannot switch the cached policy off this way.
        OutboundResult r = await DeliverAsync(Dns("v=STSv1; id=one;", "v=STSv1; id=two;"), cache, peer.Port, recorder);
        Assert.False(r.Recipients[0].Delivered, r.Log);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Contains("not an MX host of the MTA-STS policy", r.Recipients[0].Text, StringComparison.Ordinal);
        Assert.Empty(peer.Messages);
        TlsSessionResult invalid = Assert.Single(recorder.Results, x => x.ResultType == "sts-policy-invalid");
        Assert.Equal(["other.sts.test"], invalid.MxHostPatterns);
        Assert.Contains(recorder.Results, x => x.ResultType == "validation-failure");
        Assert.Equal("one", (await cache.GetAsync(Domain, CancellationToken.None))!.Id); // the cache is unchanged
    }
}
