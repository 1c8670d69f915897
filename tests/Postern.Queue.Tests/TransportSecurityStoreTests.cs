using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Data.Sqlite;
using Postern.Dns;
using Postern.Queue.Sqlite;
using Postern.Security.MtaSts;
using Postern.Smtp.Client;
using Postern.Smtp.Delivery;
using Postern.Testing;

namespace Postern.Queue.Tests;

/// <summary>queue.db schema step 2: the MTA-STS policy cache and its refresh, per-domain STARTTLS/REQUIRETLS memory; TLS-Required: No.</summary>
public class TransportSecurityStoreTests
{
    private static CachedMtaStsPolicy Policy(string domain, string id, DateTimeOffset fetched, string mx = "mx.example.net") =>
        new(domain, id, new MtaStsPolicy(MtaStsMode.Enforce, TimeSpan.FromDays(7), [mx]), fetched);

    [Fact]
    public async Task A_version_1_database_is_upgraded_with_the_new_tables()
    {
        await using var f = new QueueFixture();
        await f.Store.DisposeAsync();
        string db = Path.Combine(f.Dir, "queue", "queue.db");
        await using (var c = new SqliteConnection("Data Source=" + db + ";Pooling=false"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "DROP TABLE mtasts_policy; DROP TABLE recipient_domain_tls; UPDATE schema_version SET version = 1;";
            await cmd.ExecuteNonQueryAsync();
        }
        await using SqliteQueueStore reopened = SqliteQueueStore.Open(f.Dir);
        await reopened.PutAsync(Policy("example.org", "a", QueueFixture.Start), default);
        Assert.NotNull(await reopened.GetAsync("example.org", default));
        await using var check = new SqliteConnection("Data Source=" + db + ";Mode=ReadOnly;Pooling=false");
        await check.OpenAsync();
        await using var v = check.CreateCommand();
        v.CommandText = "SELECT version FROM schema_version";
        Assert.Equal(2L, (long)(await v.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Policies_round_trip_and_replace()
    {
        await using var f = new QueueFixture();
        f.Store.PolicyClock = f.Clock;
        Assert.Null(await f.Store.GetAsync("example.org", default));
        await f.Store.PutAsync(Policy("example.org", "a", QueueFixture.Start), default);
        await f.Store.PutAsync(Policy("example.org", "b", QueueFixture.Start.AddHours(1), "*.example.org"), default);
        CachedMtaStsPolicy got = (await f.Store.GetAsync("example.org", default))!;
        Assert.Equal("b", got.Id);
        Assert.Equal(["*.example.org"], got.Policy.Mx);
        Assert.Equal(QueueFixture.Start.AddHours(1), got.Fetched);
        Assert.Equal(TimeSpan.FromDays(7), got.Policy.MaxAge);
        Assert.Single(await f.Store.ListPoliciesAsync());
    }

    [Fact]
    public async Task Only_unexpired_recently_used_old_fetches_are_due_for_refresh()
    {
        await using var f = new QueueFixture();
        f.Store.PolicyClock = f.Clock;
        DateTimeOffset now = QueueFixture.Start;
        await f.Store.PutAsync(Policy("old.example", "1", now - TimeSpan.FromDays(2)), default);
        await f.Store.PutAsync(Policy("fresh.example", "1", now - TimeSpan.FromHours(2)), default);
        await f.Store.PutAsync(Policy("expired.example", "1", now - TimeSpan.FromDays(8)), default);
        var due = await f.Store.ListPoliciesToRefreshAsync(now, now - TimeSpan.FromDays(1), now - TimeSpan.FromDays(60), 10);
        Assert.Equal(["old.example"], due.Select(d => d.Policy.Domain));
    }

    [Fact]
    public async Task The_refresher_fetches_due_policies_again_and_keeps_them_when_the_server_fails()
    {
        await using var f = new QueueFixture();
        f.Store.PolicyClock = f.Clock;
        (X509Certificate2 root, X509Certificate2 cert) = Certificates("mta-sts.example.org");
        await using var server = new PolicyServer(cert) { Response = PolicyServer.Ok("version: STSv1\r\nmode: testing\r\nmx: mx2.example.org\r\nmax_age: 604800\r\n") };
        var zone = new DnsZone();
        zone.AddTxt("_mta-sts.example.org", "v=STSv1; id=1");
        using var client = new MtaStsClient(new InMemoryDnsResolver(zone), f.Store, new MtaStsFetchOptions
        {
            Port = server.Port,
            TrustedRoots = [root],
            ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
        }, f.Clock);
        await f.Store.PutAsync(Policy("example.org", "1", QueueFixture.Start - TimeSpan.FromDays(3)), default);
        await using var refresher = new MtaStsPolicyRefresher(f.Store, client, time: f.Clock);
        Assert.Equal(1, await refresher.RefreshDueAsync(default));
        CachedMtaStsPolicy refreshed = (await f.Store.GetAsync("example.org", default))!;
        Assert.Equal(QueueFixture.Start, refreshed.Fetched);
        Assert.Equal(MtaStsMode.Testing, refreshed.Policy.Mode);

        // A day later the server sends garbage: the cached policy stays.
        f.Clock.Advance(TimeSpan.FromDays(2));
        server.Response = PolicyServer.Ok(new string('x', 70_000));
        Assert.Equal(0, await refresher.RefreshDueAsync(default));
        Assert.Equal(QueueFixture.Start, (await f.Store.GetAsync("example.org", default))!.Fetched);
    }

    [Fact]
    public async Task Recipient_domain_tls_is_remembered_per_domain()
    {
        await using var f = new QueueFixture();
        await f.Store.RecordAsync(new RecipientDomainTls("example.net", true, false, "mx.example.net", QueueFixture.Start), default);
        await f.Store.RecordAsync(new RecipientDomainTls("example.net", true, true, "mx2.example.net", QueueFixture.Start.AddMinutes(1)), default);
        await f.Store.RecordAsync(new RecipientDomainTls("plain.example", false, false, "mx.plain.example", QueueFixture.Start), default);
        var all = await f.Store.ListRecipientDomainTlsAsync();
        Assert.Equal(["example.net", "plain.example"], all.Select(e => e.Domain));
        RecipientDomainTls one = Assert.Single(await f.Store.ListRecipientDomainTlsAsync("EXAMPLE.net"));
        Assert.True(one.StartTls && one.RequireTls);
        Assert.Equal("mx2.example.net", one.Host);
    }

    [Theory]
    [InlineData("TLS-Required: No", false, true)]
    [InlineData("TLS-Required:  no ", false, true)]
    [InlineData("TLS-Required: Yes", false, false)]
    [InlineData("TLS-Required: No", true, false)] // RFC 8689: REQUIRETLS wins over the header
    public async Task The_tls_required_header_reaches_the_transport(string header, bool requireTls, bool expected)
    {
        await using var f = new QueueFixture();
        byte[] m = Encoding.ASCII.GetBytes($"From: alice@example.org\r\nTo: bob@remote.example\r\n{header}\r\nSubject: x\r\n\r\nHi.\r\n");
        await f.Queue.EnqueueAsync(new OutgoingMessage("alice", "alice@example.org", [new OutboundRecipient("bob@remote.example")],
            () => new MemoryStream(m, false), m.Length, false, false, requireTls, null, null, null, 1), default);
        await f.Queue.RunDueAsync();
        OutboundRequest r = Assert.Single(f.Transport.Requests);
        Assert.Equal(expected, r.TlsRequiredNo);
        Assert.Equal(requireTls, r.RequireTls);
    }

    private static (X509Certificate2, X509Certificate2) Certificates(string name)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootReq = new CertificateRequest("CN=Queue Test Root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        X509Certificate2 root = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        req.CertificateExtensions.Add(san.Build());
        using X509Certificate2 c = req.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        return (root, X509CertificateLoader.LoadPkcs12(c.CopyWithPrivateKey(key).Export(X509ContentType.Pfx), null));
    }
}
