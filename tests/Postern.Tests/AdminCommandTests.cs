using Postern.Store.Sqlite;

namespace Postern.Tests;

/// <summary>`postern config domain|account|alias members|dkim|dnsrecords|adminpassword` as an administrator uses them.</summary>
public class AdminCommandTests
{
    private static void Ok((int ExitCode, string Stdout, string Stderr) r) => Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);

    [Fact]
    public async Task Domains_are_added_listed_and_removed_only_when_unused_unless_told()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Cli.AddAccount(data, "alice");
        Ok(Cli.Run("config", "domain", "add", "Example.ORG", "--dir", data));
        Ok(Cli.Run("config", "domain", "add", "bücher.example", "--dir", data));
        Assert.NotEqual(0, Cli.Run("config", "domain", "add", "example.org", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "domain", "add", "not a domain", "--dir", data).ExitCode);
        Ok(Cli.Run("config", "address", "add", "alice@example.org", "alice", "--dir", data));

        string list = Cli.Run("config", "domain", "list", "--dir", data).Stdout;
        Assert.Contains("example.org\t1 addresses\t0 aliases", list, StringComparison.Ordinal);
        Assert.Contains("xn--bcher-kva.example\t0 addresses", list, StringComparison.Ordinal);

        await using (var store = SqliteMailStore.Open(data))
        {
            Assert.True(await store.Directory.IsLocalDomainAsync("EXAMPLE.org."));
            Assert.True(await store.Directory.IsLocalDomainAsync("xn--bcher-kva.example"));
            Assert.False(await store.Directory.IsLocalDomainAsync("example.com"));
        }

        var inUse = Cli.Run("config", "domain", "rm", "example.org", "--dir", data);
        Assert.NotEqual(0, inUse.ExitCode);
        Assert.Contains("--with-addresses", inUse.Stderr, StringComparison.Ordinal);
        Ok(Cli.Run("config", "domain", "rm", "bücher.example", "--dir", data));
        var forced = Cli.Run("config", "domain", "rm", "example.org", "--with-addresses", "--dir", data);
        Ok(forced);
        Assert.Contains("1 address(es)", forced.Stdout, StringComparison.Ordinal);
        Assert.Equal("", Cli.Run("config", "domain", "list", "--dir", data).Stdout);
        Assert.DoesNotContain("alice@example.org", Cli.Run("config", "address", "list", "--dir", data).Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "domain", "rm", "example.org", "--dir", data).ExitCode);
    }

    [Fact]
    public void Accounts_and_alias_members_are_managed_under_config()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        var add = Cli.Run("config", "account", "add", "alice", "--dir", data);
        Ok(add);
        Assert.Contains("password: ", add.Stdout, StringComparison.Ordinal);
        Ok(Cli.RunWithInput("bob-password\n", "config", "account", "add", "bob", "--password-stdin", "--dir", data));
        Assert.Equal("alice\nbob\n", Cli.Run("config", "account", "list", "--dir", data).Stdout.ReplaceLineEndings("\n"));
        Ok(Cli.RunWithInput("new-password\n", "config", "account", "password", "bob", "--password-stdin", "--dir", data));
        var prompt = Cli.RunWithInput("x\n", "config", "account", "password", "bob", "--prompt", "--dir", data);
        Assert.NotEqual(0, prompt.ExitCode);
        Assert.Contains("needs a terminal", prompt.Stderr, StringComparison.Ordinal);

        Ok(Cli.Run("config", "domain", "add", "example.org", "--dir", data));
        foreach (var (a, acc) in new[] { ("alice@example.org", "alice"), ("bob@example.org", "bob"), ("carol@example.org", "alice") })
            Ok(Cli.Run("config", "address", "add", a, acc, "--dir", data));
        Ok(Cli.Run("config", "alias", "add", "team@example.org", "alice@example.org", "--dir", data));
        var added = Cli.Run("config", "alias", "addmember", "team@example.org", "bob@example.org", "Carol@example.org", "--dir", data);
        Ok(added);
        Assert.Contains("team@example.org -> alice@example.org, bob@example.org, carol@example.org", added.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "alias", "addmember", "team@example.org", "nobody@example.org", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "alias", "addmember", "nothere@example.org", "bob@example.org", "--dir", data).ExitCode);

        // bob's address is a member: removing bob is refused until it is not.
        var refused = Cli.Run("config", "account", "rm", "bob", "--dir", data);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("bob@example.org (member of team@example.org)", refused.Stderr, StringComparison.Ordinal);
        Ok(Cli.Run("config", "alias", "rmmember", "team@example.org", "bob@example.org", "--dir", data));
        Assert.NotEqual(0, Cli.Run("config", "alias", "rmmember", "team@example.org", "bob@example.org", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "alias", "rmmember", "team@example.org", "alice@example.org", "carol@example.org", "--dir", data).ExitCode);
        Assert.Contains("team@example.org\talice@example.org,carol@example.org", Cli.Run("config", "alias", "list", "--dir", data).Stdout, StringComparison.Ordinal);

        var removed = Cli.Run("config", "account", "rm", "bob", "--dir", data);
        Ok(removed);
        Assert.Contains("removed-accounts", removed.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data, "accounts", "bob")));
        Assert.Single(Directory.GetDirectories(Path.Combine(data, "removed-accounts"), "bob-*"));
        Assert.Equal("alice\n", Cli.Run("config", "account", "list", "--dir", data).Stdout.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("bob@", Cli.Run("config", "address", "list", "--dir", data).Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "account", "rm", "bob", "--dir", data).ExitCode);
        // The same name can be created again, with a fresh mail folder.
        Ok(Cli.Run("config", "account", "add", "bob", "--dir", data));
        Assert.Equal(0, Cli.Run("verifydata", data).ExitCode);
    }

    [Fact]
    public void Dkim_keys_are_listed_added_and_retired_never_deleted()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Cli.AddAccount(data, "alice");
        Assert.NotEqual(0, Cli.Run("config", "dkim", "add", "example.org", "--dir", data).ExitCode);
        Ok(Cli.Run("config", "domain", "add", "example.org", "--dir", data));
        var ed = Cli.Run("config", "dkim", "add", "example.org", "--dir", data);
        Ok(ed);
        var rsa = Cli.Run("config", "dkim", "add", "example.org", "--type", "rsa", "--dir", data);
        Ok(rsa);
        var again = Cli.Run("config", "dkim", "add", "example.org", "--dir", data);
        Ok(again);
        string month = DateTime.UtcNow.ToString("yyyyMM", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"{month}e._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; p=", ed.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{month}r._domainkey.example.org. IN TXT \"v=DKIM1; k=rsa; p=", rsa.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{month}e2._domainkey.example.org.", again.Stdout, StringComparison.Ordinal);
        string folder = Path.Combine(data, "dkim", "example.org");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, month + "e.pem")));

        string list = Cli.Run("config", "dkim", "list", "example.org", "--dir", data).Stdout;
        Assert.Contains($"{month}e\ted25519\t", list, StringComparison.Ordinal);
        Assert.Contains($"{month}r\trsa-2048\t", list, StringComparison.Ordinal);
        Assert.Contains($"  {month}e2._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; p=", list, StringComparison.Ordinal);

        byte[] key = File.ReadAllBytes(Path.Combine(folder, month + "e.pem"));
        Ok(Cli.Run("config", "dkim", "rm", "example.org", month + "e", "--dir", data));
        Assert.False(File.Exists(Path.Combine(folder, month + "e.pem")));
        Assert.Equal(key, File.ReadAllBytes(Path.Combine(folder, "retired", month + "e.pem")));
        Assert.DoesNotContain($"{month}e\t", Cli.Run("config", "dkim", "list", "example.org", "--dir", data).Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "dkim", "rm", "example.org", month + "e", "--dir", data).ExitCode);
        Assert.NotEqual(0, Cli.Run("config", "dkim", "rm", "example.org", "../../hostkeys/ecdsa-p256", "--dir", data).ExitCode);
        // A retired selector is not reused: the next Ed25519 key gets a new name.
        Ok(Cli.Run("config", "dkim", "add", "example.org", "--dir", data));
        Assert.Contains($"{month}e3\t", Cli.Run("config", "dkim", "list", "example.org", "--dir", data).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Dnsrecords_prints_the_records_quickstart_prints_and_adminpassword_resets()
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("srv");
        var quick = Cli.Run("quickstart", "you@example.com", "--dir", dir, "--skip-checks");
        Ok(quick);
        string conf = Path.Combine(dir, "postern.conf"), data = Path.Combine(dir, "data");
        Assert.Contains("directory-url: \"https://acme-v02.api.letsencrypt.org/directory\"", File.ReadAllText(conf), StringComparison.Ordinal);
        Assert.Contains("example.com\t4 addresses", Cli.Run("config", "domain", "list", "--dir", data).Stdout, StringComparison.Ordinal);

        var records = Cli.Run("config", "dnsrecords", "example.com", "--config", conf);
        Ok(records);
        foreach (var expected in new[]
                 {
                     "example.com. IN MX 10 mail.example.com.", "_smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@example.com\"",
                     "_dmarc.example.com. IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com\"",
                     "mail.example.com. IN CAA 0 issue \"letsencrypt.org\"", "_submission._tcp.example.com. IN SRV 10 1 587 mail.example.com.",
                     "_imap._tcp.example.com. IN SRV 10 1 143 mail.example.com.", "\n_mta-sts.example.com. IN TXT \"v=STSv1; id=",
                     "\nmta-sts.example.com. IN CNAME mail.example.com.", "\nautoconfig.example.com. IN CNAME mail.example.com.",
                     "\nautodiscover.example.com. IN CNAME mail.example.com.", "https://mta-sts.example.com/.well-known/mta-sts.txt", "_25._tcp.mail.example.com. IN TLSA 3 1 1 ",
                 })
        {
            Assert.Contains(expected, records.Stdout, StringComparison.Ordinal);
            Assert.Contains(expected, quick.Stdout, StringComparison.Ordinal);
        }
        // Once the server has an ACME account, CAA names it (RFC 8657).
        Directory.CreateDirectory(Path.Combine(data, "acme"));
        File.WriteAllText(Path.Combine(data, "acme", "account.json"),
            "{\"directoryUrl\":\"https://acme-v02.api.letsencrypt.org/directory\",\"accountUrl\":\"https://acme-v02.api.letsencrypt.org/acme/acct/42\",\"caaIdentities\":[\"letsencrypt.org\"]}");
        Assert.Contains("mail.example.com. IN CAA 0 issue \"letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/42\"",
            Cli.Run("config", "dnsrecords", "example.com", "--config", conf).Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, Cli.Run("config", "dnsrecords", "example.org", "--config", conf).ExitCode);

        // The admin password: hashed in the data folder, reset by adminpassword.
        string stored = File.ReadAllText(Path.Combine(data, "admin-password"));
        Assert.StartsWith("psv1 ", stored, StringComparison.Ordinal);
        Ok(Cli.RunWithInput("admin-secret\n", "config", "adminpassword", "--password-stdin", "--dir", data));
        Assert.NotEqual(stored, File.ReadAllText(Path.Combine(data, "admin-password")));
        Assert.DoesNotContain("admin-secret", File.ReadAllText(Path.Combine(data, "admin-password")), StringComparison.Ordinal);
        Assert.True(Postern.Setup.AdminPassword.Verify(data, "admin-secret"));
        Assert.False(Postern.Setup.AdminPassword.Verify(data, "wrong"));
    }
}
