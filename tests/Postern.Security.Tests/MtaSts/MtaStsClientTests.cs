using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Testing;

namespace Postern.Security.Tests.MtaSts;

public sealed class MtaStsClientTests : IAsyncLifetime
{
    private const string Domain = "example.org";
    private const string Policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 86400\r\n";

    private static readonly (X509Certificate2 Root, X509Certificate2 Server, X509Certificate2 WrongName) Certs = MakeCerts();
    private PolicyServer _server = null!;
    private readonly InMemoryDnsResolver _dns = new();
    private readonly InMemoryMtaStsPolicyCache _cache = new();
    private readonly FakeTime _time = new();

    private static (X509Certificate2, X509Certificate2, X509Certificate2) MakeCerts()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootReq = new CertificateRequest("CN=MTA-STS Test Root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        X509Certificate2 root = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        X509Certificate2 Leaf(string name)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(name);
            req.CertificateExtensions.Add(san.Build());
            using X509Certificate2 c = req.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
            // A PFX round trip so SslStream on Linux can use the key.
            return X509CertificateLoader.LoadPkcs12(c.CopyWithPrivateKey(key).Export(X509ContentType.Pfx), null);
        }
        return (root, Leaf("mta-sts." + Domain), Leaf("other.example.net"));
    }

    public Task InitializeAsync()
    {
        _server = new PolicyServer(Certs.Server) { Response = PolicyServer.Ok(Policy) };
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=one;");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private MtaStsClient Client(TimeSpan? timeout = null) => new(_dns, _cache, new MtaStsFetchOptions
    {
        Port = _server.Port,
        TrustedRoots = [Certs.Root],
        Timeout = timeout ?? TimeSpan.FromSeconds(20),
        ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
    }, _time);

    [Fact]
    public async Task Fetches_caches_and_refetches_when_the_id_changes()
    {
        using MtaStsClient client = Client();
        MtaStsLookup first = await client.GetPolicyAsync(Domain, default);
        Assert.Null(first.Error);
        Assert.False(first.FromCache);
        Assert.Equal(MtaStsMode.Enforce, first.Policy!.Mode);
        Assert.Contains("GET /.well-known/mta-sts.txt HTTP/1.1", _server.LastRequest, StringComparison.Ordinal);
        Assert.Contains("Host: mta-sts.example.org", _server.LastRequest, StringComparison.Ordinal);

        // Same id: the cache answers, the server is not asked.
        MtaStsLookup second = await client.GetPolicyAsync(Domain, default);
        Assert.True(second.FromCache);
        Assert.Equal(1, _server.Requests);

        // New id: fetched again.
        _dns.Zone.Remove("_mta-sts." + Domain);
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=two;");
        _server.Response = PolicyServer.Ok(Policy.Replace("enforce", "testing", StringComparison.Ordinal));
        MtaStsLookup third = await client.GetPolicyAsync(Domain, default);
        Assert.Equal(MtaStsMode.Testing, third.Policy!.Mode);
        Assert.Equal("two", third.Id);
        Assert.Equal(2, _server.Requests);
    }

    [Fact]
    public async Task A_cached_policy_survives_a_stripped_record_and_a_failed_fetch_until_it_expires()
    {
        using MtaStsClient client = Client();
        Assert.NotNull((await client.GetPolicyAsync(Domain, default)).Policy);

        // An attacker removes the TXT record: the cached policy stays in force (RFC 8461 §5.1).
        _dns.Zone.Remove("_mta-sts." + Domain);
        MtaStsLookup stripped = await client.GetPolicyAsync(Domain, default);
        Assert.True(stripped.FromCache);
        Assert.Equal(MtaStsMode.Enforce, stripped.Policy!.Mode);

        // A new id whose policy cannot be fetched: the cached one still applies, with the error.
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=three;");
        _server.Response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        MtaStsLookup failed = await client.GetPolicyAsync(Domain, default);
        Assert.True(failed.FromCache);
        Assert.Contains("HTTP 404", failed.Error, StringComparison.Ordinal);

        // After max_age the cache no longer applies.
        _time.Advance(TimeSpan.FromDays(2));
        MtaStsLookup expired = await client.GetPolicyAsync(Domain, default);
        Assert.Null(expired.Policy);
        Assert.Contains("HTTP 404", expired.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "HTTP 301")]
    [InlineData("html", "not text/plain")]
    [InlineData("invalid", "no mx")]
    [InlineData("big", "larger than")]
    public async Task Bad_answers_give_no_policy_with_a_reason(string kind, string reason)
    {
        _server.Response = kind switch
        {
            "html" => PolicyServer.Ok(Policy, "text/html"),
            "invalid" => PolicyServer.Ok("version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n"),
            "big" => PolicyServer.Ok(Policy + new string('#', MtaStsPolicy.MaxSize)),
            _ => kind,
        };
        using MtaStsClient client = Client();
        MtaStsLookup r = await client.GetPolicyAsync(Domain, default);
        Assert.Null(r.Policy);
        Assert.Contains(reason, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Certificate_for_another_name_is_refused()
    {
        await _server.DisposeAsync();
        _server = new PolicyServer(Certs.WrongName) { Response = PolicyServer.Ok(Policy) };
        using MtaStsClient client = Client();
        MtaStsLookup r = await client.GetPolicyAsync(Domain, default);
        Assert.Null(r.Policy);
        Assert.NotNull(r.Error);
    }

    [Fact]
    public async Task A_slow_server_times_out()
    {
        _server.Delay = TimeSpan.FromSeconds(30);
        using MtaStsClient client = Client(TimeSpan.FromSeconds(1));
        MtaStsLookup r = await client.GetPolicyAsync(Domain, default);
        Assert.Null(r.Policy);
        Assert.Contains("no answer within", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_are_strict_and_cnames_of_the_recipient_domain_are_not_followed()
    {
        using MtaStsClient client = Client();
        // Two STSv1 records: no policy.
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=other;");
        MtaStsLookup two = await client.GetPolicyAsync(Domain, default);
        Assert.Contains("2 MTA-STS records", two.Error, StringComparison.Ordinal);
        Assert.True(two.RecordInvalid); // reported as sts-policy-invalid
        // One record without an id: invalid too.
        _dns.Zone.Remove("_mta-sts." + Domain);
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1;");
        Assert.True((await client.GetPolicyAsync(Domain, default)).RecordInvalid);
        // Non-STS TXT records are ignored.
        _dns.Zone.Remove("_mta-sts." + Domain);
        _dns.Zone.AddTxt("_mta-sts." + Domain, "google-site-verification=abc");
        Assert.Equal(MtaStsLookup.NoPolicy, await client.GetPolicyAsync(Domain, default));
        // alias.example CNAME example.org: the policy of example.org is not used for alias.example.
        _dns.Zone.AddCname("alias.example", Domain);
        MtaStsLookup alias = await client.GetPolicyAsync("alias.example", default);
        Assert.Null(alias.Policy);
        Assert.Equal(0, _server.Requests);
    }

    [Fact]
    public async Task Temporary_dns_errors_keep_the_cached_policy()
    {
        using MtaStsClient client = Client();
        Assert.NotNull((await client.GetPolicyAsync(Domain, default)).Policy);
        _dns.SetFailure("_mta-sts." + Domain, DnsOutcome.ServFail);
        MtaStsLookup r = await client.GetPolicyAsync(Domain, default);
        Assert.True(r.FromCache);
        Assert.Contains("temporary DNS error", r.Error, StringComparison.Ordinal);
        Assert.False(r.RecordInvalid); // a DNS failure is not an invalid record
        // An invalid record keeps the cached policy too (RFC 8461 §5.1), without a fetch.
        _dns.ClearFailures();
        _dns.Zone.AddTxt("_mta-sts." + Domain, "v=STSv1; id=two;");
        int requests = _server.Requests;
        MtaStsLookup invalid = await client.GetPolicyAsync(Domain, default);
        Assert.True(invalid.FromCache);
        Assert.True(invalid.RecordInvalid);
        Assert.NotNull(invalid.Policy);
        Assert.Equal(requests, _server.Requests);
    }

    private sealed class FakeTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
}
