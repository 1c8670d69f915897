using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Postern.Config;
using Postern.Security.Tls;
using Postern.Serve;
using Postern.Store.Sqlite;

namespace Postern.Tests;

/// <summary>
/// The running server's view of the mail domains for ACME, without a CA: which certificate files the
/// listeners get as domains come and go (AcmeService.UpdateDomains), and when the domain list is read
/// again (DirectoryChangeCheck). Issuance against pebble: AcmeServeTests.
/// </summary>
public class AcmeDomainChangeTests
{
    private static LoadedConfig Load(TempFolder tmp, bool https)
    {
        Directory.CreateDirectory(tmp.Sub("data"));
        using (var ca = TlsCertificates.CreateSelfSigned())
            File.WriteAllText(tmp.Sub("ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(tmp.Sub("postern.conf"), $"""
            hostname: mail.postern.test
            data-dir: data
            listeners:
              local:
                ips: [127.0.0.1]
                tls:
                  acme: true
                imaps: {"{"}enabled: true, port: {AcmeServeTests.FreePort()}{"}"}
                https: {"{"}enabled: {(https ? "true" : "false")}, port: {AcmeServeTests.FreePort()}{"}"}
            acme:
              directory-url: https://127.0.0.1:{AcmeServeTests.FreePort()}/dir
              trusted-ca-file: ca.pem
              tls-alpn-port: {AcmeServeTests.FreePort()}
              http-port: {AcmeServeTests.FreePort()}
            """);
        return ConfigLoader.Load(tmp.Sub("postern.conf"));
    }

    private static List<string> Names(IReadOnlyDictionary<string, List<CertificateFiles>> files) =>
        [.. files["local"].Select(f => Path.GetFileName(f.CertificatePath))];

    [Fact]
    public async Task Added_domains_get_a_placeholder_and_their_files_removed_ones_lose_them_and_the_host_certificate_stays_first()
    {
        using var tmp = new TempFolder();
        await using var acme = AcmeService.Create(Load(tmp, https: true), NullLogger.Instance, ["postern.test"]);
        Assert.NotNull(acme);
        Assert.Equal(["mail.postern.test.ecdsa-p256.pem", "mta-sts.postern.test.ecdsa-p256.pem"], Names(acme.Files));
        IReadOnlyDictionary<string, List<CertificateFiles>>? changed = null;
        acme.FilesChanged = f => changed = f;

        Assert.False(acme.UpdateDomains(["Postern.TEST."])); // the same, written differently
        Assert.Null(changed);

        Assert.True(acme.UpdateDomains(["postern.test", "new.test"]));
        Assert.NotNull(changed);
        Assert.Equal(["mail.postern.test.ecdsa-p256.pem", "mta-sts.new.test.ecdsa-p256.pem", "mta-sts.postern.test.ecdsa-p256.pem"], Names(changed));
        Assert.Equal(["new.test", "postern.test"], acme.Domains);
        string placeholder = tmp.Sub("data/acme/certs/mta-sts.new.test.ecdsa-p256.pem");
        using (var cert = X509Certificate2.CreateFromPem(File.ReadAllText(placeholder)))
        {
            Assert.True(cert.MatchesHostname("mta-sts.new.test"));
            Assert.True(cert.MatchesHostname("autoconfig.new.test"));
            Assert.True(cert.MatchesHostname("autodiscover.new.test"));
        }
        // The listeners can load every file they are given.
        var selector = new CertificateSelector(changed["local"]);
        Assert.True(selector.Select("autoconfig.new.test").MatchesHostname("autoconfig.new.test"));

        changed = null;
        Assert.True(acme.UpdateDomains(["new.test"]));
        Assert.Equal(["mail.postern.test.ecdsa-p256.pem", "mta-sts.new.test.ecdsa-p256.pem"], Names(changed!));
        Assert.True(File.Exists(tmp.Sub("data/acme/certs/mta-sts.postern.test.ecdsa-p256.pem"))); // kept for when it comes back

        Assert.True(acme.UpdateDomains([]));
        Assert.Equal(["mail.postern.test.ecdsa-p256.pem"], Names(changed!));
    }

    [Fact]
    public async Task A_check_that_failed_reads_the_list_again_at_the_next_one_though_nothing_changed_since()
    {
        using var tmp = new TempFolder();
        await using var acme = AcmeService.Create(Load(tmp, https: true), NullLogger.Instance, []);
        Assert.NotNull(acme);
        // The placeholder cannot be written: its temporary file's name is taken by a folder.
        string blocker = tmp.Sub("data/acme/certs/mta-sts.new.test.ecdsa-p256.pem.tmp");
        Directory.CreateDirectory(blocker);
        int lists = 0;
        Task<IReadOnlyList<string>> List(CancellationToken _)
        {
            lists++;
            return Task.FromResult<IReadOnlyList<string>>(["new.test"]);
        }
        bool changed = true;
        await Assert.ThrowsAnyAsync<Exception>(() => acme.CheckDomainsAsync(List, () => changed, CancellationToken.None));
        Assert.Empty(acme.Domains);
        changed = false;
        Directory.Delete(blocker);
        await acme.CheckDomainsAsync(List, () => changed, CancellationToken.None);
        Assert.Equal(["new.test"], acme.Domains);
        Assert.Equal(2, lists);
        await acme.CheckDomainsAsync(List, () => changed, CancellationToken.None); // unchanged: not read
        Assert.Equal(2, lists);
    }

    [Fact]
    public async Task Without_the_web_listener_domains_get_no_certificates()
    {
        using var tmp = new TempFolder();
        await using var acme = AcmeService.Create(Load(tmp, https: false), NullLogger.Instance, ["postern.test"]);
        Assert.NotNull(acme);
        Assert.Equal(["mail.postern.test.ecdsa-p256.pem"], Names(acme.Files));
        Assert.False(acme.UpdateDomains(["postern.test", "new.test"]));
        Assert.Empty(acme.Domains);
    }

    [Fact]
    public async Task The_change_check_sees_a_domain_added_by_another_connection()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        await using (var store = SqliteMailStore.Open(data)) { }
        using var check = new DirectoryChangeCheck(Path.Combine(data, "postern.db"));
        Assert.True(check.HasChanged()); // the first look
        Assert.False(check.HasChanged());
        var added = Cli.Run("config", "domain", "add", "new.test", "--dir", data); // another process
        Assert.True(added.ExitCode == 0, added.Stderr + added.Stdout);
        Assert.True(check.HasChanged());
        Assert.False(check.HasChanged());
    }

    [Fact]
    public void The_change_check_without_a_database_says_changed()
    {
        using var tmp = new TempFolder();
        using var check = new DirectoryChangeCheck(tmp.Sub("missing/postern.db"));
        Assert.True(check.HasChanged());
        Assert.True(check.HasChanged());
    }
}
