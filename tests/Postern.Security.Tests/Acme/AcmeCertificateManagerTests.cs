using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Acme;
using Postern.Security.Tls;
using Postern.Testing;

namespace Postern.Security.Tests.Acme;

public sealed class AcmeCertificateManagerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "postern-acme-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ECDsa _hostKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public AcmeCertificateManagerTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        _hostKey.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private string CertPath => Path.Combine(_dir, "certs", "mail.pem");

    private AcmeCertificateManager Manager(PebbleLab lab, Http01ChallengeResponder responder, TimeSpan? renewBefore = null, TimeProvider? time = null) =>
        new(new AcmeManagerOptions
        {
            Client = new AcmeClientOptions { DirectoryUri = lab.DirectoryUri, TrustedRoots = [lab.TrustedRoot], PollTimeout = TimeSpan.FromSeconds(60), Time = time ?? TimeProvider.System },
            StateDirectory = _dir,
            ContactEmails = ["postmaster@postern.test"],
            Responders = [responder],
            RenewBefore = renewBefore ?? TimeSpan.FromDays(30),
            FirstRetryDelay = TimeSpan.FromMinutes(5),
        }, [new AcmeManagedCertificate("mail", ["mail.postern.test", "mta-sts.postern.test"], _hostKey, CertPath)]);

    private X509Certificate2 Leaf() => X509Certificate2.CreateFromPem(File.ReadAllText(CertPath));

    [Fact]
    public async Task Placeholder_then_issued_then_renewed_on_the_same_key_and_seen_by_the_selector()
    {
        await using var lab = await PebbleLab.StartAsync();
        var responder = new Http01ChallengeResponder();
        await using var listener = new Http01Listener([new IPEndPoint(IPAddress.Loopback, lab.HttpPort)], responder);
        listener.Start();
        string keyPath = Path.Combine(_dir, "host-key.pem");
        File.WriteAllText(keyPath, _hostKey.ExportPkcs8PrivateKeyPem());

        using (var manager = Manager(lab, responder))
        {
            Assert.Equal(["mail"], manager.WritePlaceholders());
            Assert.Equal("only a self-signed placeholder so far", AcmeCertificateManager.RenewalReason(new("mail", ["mail.postern.test"], _hostKey, CertPath), DateTimeOffset.UtcNow, TimeSpan.FromDays(30)));
            var selector = new CertificateSelector([new CertificateFiles(CertPath, keyPath)]) { RecheckInterval = TimeSpan.Zero };
            Assert.Equal(selector.Select("mail.postern.test").Subject, selector.Select("mail.postern.test").Issuer);

            Assert.True(await manager.RenewDueAsync(CancellationToken.None));
            Assert.Empty(manager.Errors);
            var served = selector.Select("mta-sts.postern.test");
            Assert.NotEqual(served.Subject, served.Issuer);
            Assert.True(served.MatchesHostname("mta-sts.postern.test"));
        }
        string accountKey = File.ReadAllText(Path.Combine(_dir, AcmeCertificateManager.AccountKeyFile));
        string firstSerial;
        using (var first = Leaf())
        {
            firstSerial = first.SerialNumber;
            Assert.Equal(_hostKey.ExportSubjectPublicKeyInfo(), first.PublicKey.ExportSubjectPublicKeyInfo());
        }

        // Not due: nothing happens. Due (renew-before longer than the validity): a new certificate, same key, same account.
        using (var manager = Manager(lab, responder))
        {
            Assert.True(await manager.RenewDueAsync(CancellationToken.None));
            using var same = Leaf();
            Assert.Equal(firstSerial, same.SerialNumber);
        }
        using (var manager = Manager(lab, responder, renewBefore: TimeSpan.FromDays(100 * 365)))
        {
            Assert.True(await manager.RenewDueAsync(CancellationToken.None));
        }
        using var renewed = Leaf();
        Assert.NotEqual(firstSerial, renewed.SerialNumber);
        Assert.Equal(_hostKey.ExportSubjectPublicKeyInfo(), renewed.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(accountKey, File.ReadAllText(Path.Combine(_dir, AcmeCertificateManager.AccountKeyFile)));
    }

    [Fact]
    public async Task Refused_validation_backs_off_then_succeeds_on_retry()
    {
        await using var lab = await PebbleLab.StartAsync();
        var responder = new Http01ChallengeResponder();
        var time = new ManualTime();
        using var manager = Manager(lab, responder, time: time);
        manager.WritePlaceholders();

        // Nothing answers http-01 yet: the CA refuses the authorization.
        Assert.False(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Contains("http-01 validation of", manager.Errors["mail"], StringComparison.Ordinal);
        var next = manager.NextAttempt("mail");
        Assert.Equal(time.Now + TimeSpan.FromMinutes(5), next);

        // Before the retry time nothing is attempted (the error and its time stay as they were).
        time.Now += TimeSpan.FromMinutes(4);
        Assert.False(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Equal(next, manager.NextAttempt("mail"));

        await using var listener = new Http01Listener([new IPEndPoint(IPAddress.Loopback, lab.HttpPort)], responder);
        listener.Start();
        time.Now += TimeSpan.FromMinutes(2);
        Assert.True(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Null(manager.NextAttempt("mail"));
        using var leaf = Leaf();
        Assert.NotEqual(leaf.Subject, leaf.Issuer);
    }

    [Fact]
    public async Task Ca_down_keeps_the_placeholder_and_doubles_the_wait()
    {
        await using var lab = await PebbleLab.StartAsync();
        lab.StopPebble();
        var time = new ManualTime();
        using var manager = Manager(lab, new Http01ChallengeResponder(), time: time);
        manager.WritePlaceholders();
        Assert.False(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Contains("cannot reach the ACME server", manager.Errors["mail"], StringComparison.Ordinal);
        Assert.Equal(time.Now + TimeSpan.FromMinutes(5), manager.NextAttempt("mail"));
        time.Now += TimeSpan.FromMinutes(6);
        Assert.False(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Equal(time.Now + TimeSpan.FromMinutes(10), manager.NextAttempt("mail"));
        using var leaf = Leaf();
        Assert.Equal(leaf.Subject, leaf.Issuer);
    }

    [Fact]
    public async Task A_certificate_added_while_running_is_issued_at_once_and_a_removed_one_is_dropped()
    {
        await using var lab = await PebbleLab.StartAsync();
        var responder = new Http01ChallengeResponder();
        await using var listener = new Http01Listener([new IPEndPoint(IPAddress.Loopback, lab.HttpPort)], responder);
        listener.Start();
        using var manager = Manager(lab, responder);
        manager.WritePlaceholders();
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => manager.RunAsync(stop.Token));
        static bool Issued(string path)
        {
            if (!File.Exists(path)) return false;
            using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(path));
            return leaf.Subject != leaf.Issuer;
        }
        static async Task UntilAsync(Func<bool> done, string what)
        {
            var until = DateTime.UtcNow.AddSeconds(120);
            while (!done())
            {
                Assert.True(DateTime.UtcNow < until, what);
                await Task.Delay(100);
            }
        }
        await UntilAsync(() => Issued(CertPath), "the first certificate was not issued");

        // The loop now sleeps up to MaxSleep (an hour): a new certificate wakes it.
        string webPath = Path.Combine(_dir, "certs", "web.pem");
        var web = new AcmeManagedCertificate("web", ["mta-sts.example.net", "autoconfig.example.net"], _hostKey, webPath);
        manager.SetCertificates([.. manager.Certificates, web]);
        Assert.Equal(["mail", "web"], manager.Certificates.Select(c => c.Name));
        await UntilAsync(() => Issued(webPath), "the added certificate was not issued");
        using (var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(webPath)))
            Assert.True(leaf.MatchesHostname("autoconfig.example.net"));

        manager.SetCertificates([.. manager.Certificates.Where(c => c.Name != "web")]);
        Assert.Equal(["mail"], manager.Certificates.Select(c => c.Name));
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task A_removed_failing_certificate_leaves_no_error_behind()
    {
        await using var lab = await PebbleLab.StartAsync();
        lab.StopPebble();
        using var manager = Manager(lab, new Http01ChallengeResponder());
        manager.WritePlaceholders();
        Assert.False(await manager.RenewDueAsync(CancellationToken.None));
        Assert.Contains("mail", manager.Errors.Keys);
        manager.SetCertificates([]);
        Assert.Empty(manager.Errors);
        Assert.Null(manager.NextAttempt("mail"));
        Assert.True(await manager.RenewDueAsync(CancellationToken.None));
    }
}
