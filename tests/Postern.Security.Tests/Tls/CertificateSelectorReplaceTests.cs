using Postern.Security.Tls;

namespace Postern.Security.Tests.Tls;

/// <summary>A selector's set of files changes while it is in use (a mail domain added to or removed from a running server).</summary>
public sealed class CertificateSelectorReplaceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "postern-selector-" + Guid.NewGuid().ToString("N")[..8]);

    public CertificateSelectorReplaceTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private CertificateFiles Write(string name)
    {
        var files = new CertificateFiles(Path.Combine(_dir, name + ".pem"), Path.Combine(_dir, name + ".key"));
        using var cert = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = [name] });
        TlsCertificates.SavePem(cert, files.CertificatePath, files.KeyPath);
        return files;
    }

    [Fact]
    public void Added_files_are_chosen_by_sni_at_once_kept_ones_stay_loaded_and_removed_ones_are_no_longer_chosen()
    {
        var host = Write("mail.example.org");
        var web = Write("mta-sts.example.net");
        var selector = new CertificateSelector([host]);
        var hostCertificate = selector.Select("mail.example.org");
        Assert.Same(hostCertificate, selector.Select("mta-sts.example.net")); // not known yet: the first

        selector.ReplaceFiles([host, web]);
        Assert.Equal([host, web], selector.Files);
        Assert.True(selector.Select("mta-sts.example.net").MatchesHostname("mta-sts.example.net"));
        Assert.Same(hostCertificate, selector.Select("mail.example.org")); // not loaded again

        selector.ReplaceFiles([host]);
        Assert.Same(hostCertificate, selector.Select("mta-sts.example.net"));
    }

    [Fact]
    public void A_new_pair_that_cannot_be_loaded_is_named_and_leaves_the_previous_set_in_use()
    {
        var host = Write("mail.example.org");
        var selector = new CertificateSelector([host]);
        var missing = new CertificateFiles(Path.Combine(_dir, "none.pem"), host.KeyPath);
        var e = Assert.Throws<FileNotFoundException>(() => selector.ReplaceFiles([host, missing]));
        Assert.Contains("none.pem", e.Message, StringComparison.Ordinal);
        Assert.Equal([host], selector.Files);
        Assert.Throws<ArgumentException>(() => selector.ReplaceFiles([]));
        Assert.True(selector.Select("anything.test").MatchesHostname("mail.example.org"));
    }

    [Fact]
    public void A_set_that_could_not_be_loaded_is_used_once_its_files_appear()
    {
        // A certificate the CA has not issued yet: ReplaceFiles fails now, and the set loads on a later
        // recheck once the files are there, without another ReplaceFiles.
        var host = Write("mail.example.org");
        var selector = new CertificateSelector([host]) { RecheckInterval = TimeSpan.Zero };
        IReadOnlyList<CertificateFiles>? reported = null;
        selector.PendingFilesLoaded = files => reported = files;
        var later = new CertificateFiles(Path.Combine(_dir, "autoconfig.example.net.pem"), Path.Combine(_dir, "autoconfig.example.net.key"));
        Assert.Throws<FileNotFoundException>(() => selector.ReplaceFiles([host, later]));
        Assert.True(selector.HasPendingFiles);
        Assert.True(selector.Select("autoconfig.example.net").MatchesHostname("mail.example.org")); // still the old set
        Assert.Null(reported);

        Assert.Equal(later, Write("autoconfig.example.net"));
        Assert.True(selector.Select("autoconfig.example.net").MatchesHostname("autoconfig.example.net"));
        Assert.Equal([host, later], selector.Files);
        Assert.Equal([host, later], reported);
        Assert.False(selector.HasPendingFiles);
    }

    [Fact]
    public void A_later_replacement_supersedes_a_set_still_waiting_to_load()
    {
        var host = Write("mail.example.org");
        var selector = new CertificateSelector([host]) { RecheckInterval = TimeSpan.Zero };
        var later = new CertificateFiles(Path.Combine(_dir, "gone.example.net.pem"), Path.Combine(_dir, "gone.example.net.key"));
        Assert.Throws<FileNotFoundException>(() => selector.ReplaceFiles([host, later]));
        selector.ReplaceFiles([host]); // the domain was removed again
        Assert.False(selector.HasPendingFiles);
        Write("gone.example.net");
        Assert.True(selector.Select("gone.example.net").MatchesHostname("mail.example.org"));
        Assert.Equal([host], selector.Files);
    }
}
