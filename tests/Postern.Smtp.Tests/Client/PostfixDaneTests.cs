using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Dns;
using Postern.Security.Dane;
using Postern.Security.MtaSts;
using Postern.Security.Tests.Dane;
using Postern.Smtp.Client;
using Postern.Smtp.Server;
using Postern.Smtp.Tests.Interop;
using Postern.Smtp.Tests.Server;
using Postern.Store.Reports;
using Postern.Testing;

namespace Postern.Smtp.Tests.Client;

/// <summary>Keeps the TLS session results of direct delivery (RFC 8460), as the report store would.</summary>
public sealed class TestTlsResultRecorder : ITlsResultRecorder
{
    public ConcurrentQueue<TlsSessionResult> Results { get; } = new();

    public void Record(TlsSessionResult result) => Results.Enqueue(result);

    public List<TlsSessionResult> For(string domain) => Results.Where(r => r.PolicyDomain == domain).ToList();
}

/// <summary>
/// A Postfix MX on 127.x.y.2:25 presenting leaf + intermediate 2 + intermediate 1 + root, found
/// through the DNS lab: DNSSEC-signed domains whose MX hosts (all that Postfix) have DANE-EE,
/// DANE-TA (the root, so the chain goes through both intermediates) and wrong TLSA records; an
/// unsigned domain with a wrong TLSA record; MTA-STS domains with a policy served over HTTPS on
/// loopback. Postern's own SMTP server (offering REQUIRETLS over TLS) is the MX of one more
/// signed domain, with its DANE-EE record.
/// </summary>
public sealed class PostfixDaneFixture : IAsyncLifetime
{
    public const string Ee = "ee." + DnsLab.SignedZone, Ta = "ta." + DnsLab.SignedZone, Bad = "bad." + DnsLab.SignedZone, Unusable = "unusable." + DnsLab.SignedZone;
    public const string Unsigned = "wrongtlsa." + DnsLab.InsecureZone, StsOutside = "stsout." + DnsLab.InsecureZone, StsOk = "stsok." + DnsLab.InsecureZone;
    public const string PosternDomain = "pmx." + DnsLab.SignedZone;
    public const string MxTa = "mx-ta." + DnsLab.SignedZone;

    public DnsLab Dns { get; private set; } = null!;
    public PostfixMxInstance Mx { get; private set; } = null!;
    public SmtpTestServer Postern { get; private set; } = null!;
    internal TestChain Chain { get; } = TestChain.Create(MxTa);
    internal PolicyServer Sts { get; private set; } = null!;
    public X509Certificate2 StsRoot { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(PostfixInstance.Available, "postfix is not installed (scripts/test-packages.txt)");
        int a = Random.Shared.Next(16, 250), b = Random.Shared.Next(16, 250);
        IPAddress ip = IPAddress.Parse($"127.{a}.{b}.2");
        Postern = await SmtpTestServer.StartAsync();
        await Postern.Store.Directory.AddAddressAsync("alice@" + PosternDomain, "alice");
        X509Certificate2 posternCert = Postern.Server.Options.Certificate!;

        string ee = Hex(DaneVerifier.AssociationData(Chain.Leaf, 1, 1));
        string ta = Hex(DaneVerifier.AssociationData(Chain.Root, 1, 1));
        string wrong = Hex(RandomNumberGenerator.GetBytes(32));
        string posternEe = Hex(DaneVerifier.AssociationData(posternCert, 1, 1));
        Dns = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.SignedZone] = $"""
                ee IN MX 10 mx-ee
                ta IN MX 10 mx-ta
                bad IN MX 10 mx-bad
                unusable IN MX 10 mx-unusable
                pmx IN MX 10 mx-postern
                mx-ee IN A {ip}
                mx-ta IN A {ip}
                mx-bad IN A {ip}
                mx-unusable IN A {ip}
                mx-postern IN A 127.0.0.1
                _25._tcp.mx-ee IN TLSA 3 1 1 {ee}
                _25._tcp.mx-ta IN TLSA 2 1 1 {ta}
                _25._tcp.mx-bad IN TLSA 3 1 1 {wrong}
                _25._tcp.mx-unusable IN TLSA 1 1 1 {ee}
                _{Postern.MxPort}._tcp.mx-postern IN TLSA 3 1 1 {posternEe}
                """,
            [DnsLab.InsecureZone] = $"""
                wrongtlsa IN MX 10 mx-wrong
                mx-wrong IN A {ip}
                _25._tcp.mx-wrong IN TLSA 3 1 1 {wrong}
                stsout IN MX 10 mx-wrong
                _mta-sts.stsout IN TXT "v=STSv1; id=20261130"
                stsok IN MX 10 {MxTa}.
                _mta-sts.stsok IN TXT "v=STSv1; id=20261130"
                """,
        });
        string chain = string.Concat(new[] { Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1, Chain.Root }.Select(c => c.ExportCertificatePem() + "\n"));
        string key = ((ECDsa)Chain.LeafKey).ExportPkcs8PrivateKeyPem();
        string[] domains = [Ee, Ta, Bad, Unusable, Unsigned, StsOutside, StsOk];
        Mx = await PostfixMxInstance.StartAsync(ip, MxTa, domains, key, chain);

        // One policy server for both MTA-STS domains; the policy names mx-ta only.
        (StsRoot, X509Certificate2 server) = PolicyCertificates();
        Sts = new PolicyServer(server) { Response = PolicyServer.Ok($"version: STSv1\r\nmode: enforce\r\nmx: {MxTa}\r\nmax_age: 86400\r\n") };
    }

    private static (X509Certificate2, X509Certificate2) PolicyCertificates()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootReq = new CertificateRequest("CN=MTA-STS Lab Root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        X509Certificate2 root = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=mta-sts", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("mta-sts." + StsOutside);
        san.AddDnsName("mta-sts." + StsOk);
        req.CertificateExtensions.Add(san.Build());
        using X509Certificate2 c = req.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        return (root, X509CertificateLoader.LoadPkcs12(c.CopyWithPrivateKey(key).Export(X509ContentType.Pfx), null));
    }

    private static string Hex(byte[] b) => Convert.ToHexStringLower(b);

    public async Task DisposeAsync()
    {
        Mx?.Dispose();
        if (Sts is not null) await Sts.DisposeAsync();
        if (Postern is not null) await Postern.DisposeAsync();
        if (Dns is not null) await Dns.DisposeAsync();
    }
}

/// <summary>DANE, MTA-STS and REQUIRETLS in direct delivery against real peers (the issue's "Tests with real peers").</summary>
public class PostfixDaneTests(PostfixDaneFixture fixture) : IClassFixture<PostfixDaneFixture>
{
    private readonly TestTlsResultRecorder _recorder = new();
    private readonly InMemoryMtaStsPolicyCache _stsCache = new();

    private DirectTransport Transport(int port = 25, MtaStsClient? sts = null)
    {
        IDnsResolver dns = fixture.Dns.CreateResolver();
        return new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Port = port,
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = ClientTestSupport.ShortTimeouts },
            Security = new DeliverySecurityOptions
            {
                MtaSts = sts,
                MtaStsVerifier = new SystemCaVerifier([fixture.Chain.Root]),
                TlsResults = _recorder,
            },
        });
    }

    private MtaStsClient StsClient() => new(fixture.Dns.CreateResolver(), _stsCache, new MtaStsFetchOptions
    {
        Port = fixture.Sts.Port,
        TrustedRoots = [fixture.StsRoot],
        Timeout = TimeSpan.FromSeconds(20),
        ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
    });

    private static OutboundRequest Request(string domain, string subject, bool requireTls = false, bool tlsRequiredNo = false, string local = "user")
    {
        byte[] message = Encoding.UTF8.GetBytes($"From: sender@origin.test\r\nTo: {local}@{domain}\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@origin.test>\r\n\r\nHello.\r\n");
        return new OutboundRequest(domain, "sender@origin.test", [new OutboundRecipient($"{local}@{domain}")], () => new MemoryStream(message), message.Length,
            false, false, requireTls, null, null, 1, "origin.test", tlsRequiredNo);
    }

    private async Task<string?> WaitForSubjectAsync(string subject)
    {
        for (int i = 0; i < 300; i++)
        {
            string? m = fixture.Mx.Messages().FirstOrDefault(x => x.Contains("Subject: " + subject, StringComparison.Ordinal));
            if (m is not null) return m;
            await Task.Delay(100);
        }
        return null;
    }

    [Fact]
    public async Task Dane_ee_delivers_with_the_certificate_checked_against_tlsa()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Ee, "dane-ee"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used && r.Tls.CertificateVerified, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.NotNull(await WaitForSubjectAsync("dane-ee"));
        TlsSessionResult t = Assert.Single(_recorder.For(PostfixDaneFixture.Ee));
        Assert.True(t.Success);
        Assert.Equal(TlsSessionResult.Tlsa, t.PolicyType);
        Assert.Equal("mx-ee." + DnsLab.SignedZone, t.ReceivingMxHostname);
        Assert.StartsWith("3 1 1 ", Assert.Single(t.PolicyStrings), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dane_ta_delivers_through_both_intermediates_sent_by_postfix()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Ta, "dane-ta"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.CertificateVerified, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.NotNull(await WaitForSubjectAsync("dane-ta"));
        Assert.True(Assert.Single(_recorder.For(PostfixDaneFixture.Ta)).Success);
    }

    [Fact]
    public async Task A_tlsa_mismatch_defers_and_records_a_tlsrpt_failure()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Bad, "dane-mismatch"), CancellationToken.None);
        OutboundRecipientResult rr = r.Recipients[0];
        Assert.False(rr.Delivered, r.Log);
        Assert.False(rr.Permanent);
        Assert.Equal("4.7.5", rr.Enhanced);
        TlsSessionResult t = Assert.Single(_recorder.For(PostfixDaneFixture.Bad));
        Assert.False(t.Success);
        Assert.Equal(TlsSessionResult.Tlsa, t.PolicyType);
        Assert.Equal("tlsa-invalid", t.ResultType);
        Assert.NotNull(t.ReceivingIp);
        Assert.Null(fixture.Mx.Messages().FirstOrDefault(m => m.Contains("Subject: dane-mismatch", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Tls_required_no_delivers_despite_a_tlsa_mismatch_and_records_it()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Bad, "tls-required-no", tlsRequiredNo: true), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used);
        Assert.False(r.Tls.CertificateVerified);
        Assert.NotNull(await WaitForSubjectAsync("tls-required-no"));
        Assert.Equal("tlsa-invalid", Assert.Single(_recorder.For(PostfixDaneFixture.Bad)).ResultType);
    }

    [Fact]
    public async Task Unusable_tlsa_records_mean_tls_without_authentication()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Unusable, "dane-unusable"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used);
        Assert.Equal("dane-unusable", r.Tls.Policy);
    }

    [Fact]
    public async Task An_unsigned_domain_with_a_wrong_tlsa_gets_opportunistic_tls()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Unsigned, "unsigned-wrong-tlsa"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used, r.Log);
        Assert.Equal("opportunistic", r.Tls.Policy);
        Assert.NotNull(await WaitForSubjectAsync("unsigned-wrong-tlsa"));
        TlsSessionResult t = Assert.Single(_recorder.For(PostfixDaneFixture.Unsigned));
        Assert.Equal(TlsSessionResult.NoPolicyFound, t.PolicyType);
        Assert.True(t.Success);
    }

    [Fact]
    public async Task Mta_sts_enforce_refuses_an_mx_outside_the_policy()
    {
        using MtaStsClient sts = StsClient();
        OutboundResult r = await Transport(sts: sts).DeliverAsync(Request(PostfixDaneFixture.StsOutside, "sts-outside"), CancellationToken.None);
        Assert.False(r.Recipients[0].Delivered, r.Log);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Contains("not an MX host of the MTA-STS policy", r.Log, StringComparison.Ordinal);
        Assert.Null(r.RemoteIp); // never connected
        TlsSessionResult t = Assert.Single(_recorder.For(PostfixDaneFixture.StsOutside));
        Assert.Equal(TlsSessionResult.Sts, t.PolicyType);
        Assert.Equal("validation-failure", t.ResultType);
        Assert.Contains(PostfixDaneFixture.MxTa, t.MxHostPatterns);
    }

    [Fact]
    public async Task Mta_sts_enforce_delivers_to_a_policy_mx_with_a_valid_certificate()
    {
        using MtaStsClient sts = StsClient();
        OutboundResult r = await Transport(sts: sts).DeliverAsync(Request(PostfixDaneFixture.StsOk, "sts-ok"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("mta-sts", r.Tls.Policy);
        Assert.True(r.Tls.CertificateVerified, r.Log);
        TlsSessionResult t = Assert.Single(_recorder.For(PostfixDaneFixture.StsOk));
        Assert.True(t.Success);
        Assert.Equal(TlsSessionResult.Sts, t.PolicyType);
        Assert.Contains("mode: enforce", t.PolicyStrings);
    }

    [Fact]
    public async Task Requiretls_fails_permanently_towards_postfix_without_requiretls()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Ee, "requiretls-postfix", requireTls: true), CancellationToken.None);
        OutboundRecipientResult rr = r.Recipients[0];
        Assert.False(rr.Delivered, r.Log);
        Assert.True(rr.Permanent, r.Log);
        Assert.Equal("5.7.30", rr.Enhanced);
        Assert.Contains("does not offer REQUIRETLS", rr.Text, StringComparison.Ordinal);
        Assert.Null(fixture.Mx.Messages().FirstOrDefault(m => m.Contains("Subject: requiretls-postfix", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Requiretls_fails_permanently_without_dane_or_mta_sts()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixDaneFixture.Unsigned, "requiretls-nopolicy", requireTls: true), CancellationToken.None);
        OutboundRecipientResult rr = r.Recipients[0];
        Assert.True(rr.Permanent, r.Log);
        Assert.Equal("5.7.30", rr.Enhanced);
        Assert.Null(r.RemoteIp);
    }

    [Fact]
    public async Task Requiretls_is_delivered_to_postern_over_dane_verified_tls()
    {
        var memory = new RecordingDomainMemory();
        IDnsResolver dns = fixture.Dns.CreateResolver();
        var transport = new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Port = fixture.Postern.MxPort,
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = ClientTestSupport.ShortTimeouts },
            Security = new DeliverySecurityOptions { TlsResults = _recorder, DomainMemory = memory },
        });
        OutboundResult r = await transport.DeliverAsync(Request(PostfixDaneFixture.PosternDomain, "requiretls-postern", requireTls: true, local: "alice"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("dane", r.Tls.Policy);
        Assert.True(r.Tls.CertificateVerified);
        List<string> inbox = await fixture.Postern.MessagesAsync("alice");
        string m = Assert.Single(inbox, x => x.Contains("Subject: requiretls-postern", StringComparison.Ordinal));
        Assert.Contains(" requiretls)", m, StringComparison.Ordinal); // Postern notes the REQUIRETLS parameter in its Received field
        RecipientDomainTls seen = Assert.Single(memory.Entries);
        Assert.True(seen.StartTls && seen.RequireTls);
    }

    private sealed class RecordingDomainMemory : IRecipientDomainTlsMemory
    {
        public ConcurrentQueue<RecipientDomainTls> Entries { get; } = new();

        public ValueTask RecordAsync(RecipientDomainTls entry, CancellationToken cancellationToken)
        {
            Entries.Enqueue(entry);
            return ValueTask.CompletedTask;
        }
    }
}
