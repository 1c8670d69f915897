using Postern.Testing;

namespace Postern.Tests;

/// <summary>Keys made with <c>postern dkim gen</c>, published with <c>dkim txt</c> in the DNSSEC lab's signed and unsigned zones.</summary>
public sealed class DkimLabFixture : IAsyncLifetime
{
    internal TempFolder Folder { get; } = new();

    public DnsLab Lab { get; private set; } = null!;

    public string RsaKey => Folder.Sub("rsa.pem");

    public string EdKey => Folder.Sub("ed.pem");

    public async Task InitializeAsync()
    {
        Assert.Equal(0, PosternProcess.Run("dkim", "gen", "rsa", "-o", RsaKey).ExitCode);
        Assert.Equal(0, PosternProcess.Run("dkim", "gen", "ed25519", "-o", EdKey).ExitCode);
        string rsaLine = PosternProcess.Run("dkim", "txt", RsaKey, "--selector", "rsa", "--domain", DnsLab.SignedZone).Stdout.Trim();
        string edLine = PosternProcess.Run("dkim", "txt", EdKey, "--selector", "ed", "--domain", DnsLab.SignedZone).Stdout.Trim();
        string edInsecure = PosternProcess.Run("dkim", "txt", EdKey, "--selector", "ed", "--domain", DnsLab.InsecureZone).Stdout.Trim();
        Lab = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.SignedZone] = rsaLine + "\n" + edLine + "\nweak._domainkey IN TXT \"v=DKIM1; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ==\"",
            [DnsLab.InsecureZone] = edInsecure,
        });
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
        Folder.Dispose();
    }
}

public class DkimCommandTests(DkimLabFixture fixture) : IClassFixture<DkimLabFixture>
{
    private string Server => fixture.Lab.ResolverEndPoint.ToString();

    private const string Message = "From: Alice <alice@signed.test>\nTo: bob@example.net\nSubject: CLI test\nDate: Mon, 30 Nov 2026 06:00:00 +0000\n\nHello  world\n";

    private string Sign(string key, string selector, string domain, params string[] extra)
    {
        string input = fixture.Folder.Sub(Guid.NewGuid().ToString("N") + ".eml");
        File.WriteAllText(input, Message.Replace("signed.test", domain, StringComparison.Ordinal));
        var r = PosternProcess.Run(["dkim", "sign", input, "--key", key, "--domain", domain, "--selector", selector, .. extra]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string signed = fixture.Folder.Sub(Guid.NewGuid().ToString("N") + ".eml");
        File.WriteAllText(signed, r.Stdout);
        return signed;
    }

    [Fact]
    public void Gen_refuses_short_rsa_keys_and_existing_files()
    {
        var r = PosternProcess.Run("dkim", "gen", "rsa", "--bits", "1024");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("2048", r.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, PosternProcess.Run("dkim", "gen", "ed25519", "-o", fixture.EdKey).ExitCode);
        var pem = PosternProcess.Run("dkim", "gen", "ed25519");
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Txt_prints_the_record()
    {
        var r = PosternProcess.Run("dkim", "txt", fixture.EdKey);
        Assert.Equal(0, r.ExitCode);
        Assert.Matches("^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=\n$", r.Stdout);
        Assert.StartsWith("v=DKIM1; k=rsa; p=MIIB", PosternProcess.Run("dkim", "txt", fixture.RsaKey).Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rsa")]
    [InlineData("ed")]
    public void Signed_message_verifies_against_the_dnssec_lab(string selector)
    {
        string signed = Sign(selector == "rsa" ? fixture.RsaKey : fixture.EdKey, selector, DnsLab.SignedZone, "--expire", "2d");
        Assert.Contains(" x=", File.ReadAllText(signed), StringComparison.Ordinal);
        var r = PosternProcess.Run("dkim", "verify", signed, "--server", Server);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains($"dkim=pass d={DnsLab.SignedZone} s={selector}", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("dnssec=yes", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsigned_zone_key_verifies_without_dnssec()
    {
        string signed = Sign(fixture.EdKey, "ed", DnsLab.InsecureZone);
        var r = PosternProcess.Run("dkim", "verify", signed, "--server", Server);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("dnssec=no", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_unsigned_and_unknown_selector_do_not_pass()
    {
        string signed = Sign(fixture.EdKey, "ed", DnsLab.SignedZone, "-c", "simple/simple");
        File.WriteAllText(signed, File.ReadAllText(signed).Replace("Hello  world", "Hello world", StringComparison.Ordinal));
        var bad = PosternProcess.Run("dkim", "verify", signed, "--server", Server);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("dkim=fail", bad.Stdout, StringComparison.Ordinal);

        string plain = fixture.Folder.Sub("plain.eml");
        File.WriteAllText(plain, Message);
        var none = PosternProcess.Run("dkim", "verify", plain, "--server", Server);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("dkim=none", none.Stdout, StringComparison.Ordinal);

        string other = Sign(fixture.EdKey, "nosuch", DnsLab.SignedZone);
        var missing = PosternProcess.Run("dkim", "verify", other, "--server", Server);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("dkim=permerror", missing.Stdout, StringComparison.Ordinal);
        Assert.Contains("no key record", missing.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookup_prints_key_details_and_authenticity()
    {
        var r = PosternProcess.Run("dkim", "lookup", "rsa", DnsLab.SignedZone, "--server", Server);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains(";; key: rsa 2048 bits", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("authentic: yes", r.Stdout, StringComparison.Ordinal);

        var weak = PosternProcess.Run("dkim", "lookup", "weak", DnsLab.SignedZone, "--server", Server);
        Assert.Equal(1, weak.ExitCode);
        Assert.Contains("too short", weak.Stdout, StringComparison.Ordinal);

        var none = PosternProcess.Run("dkim", "lookup", "nosuch", DnsLab.SignedZone, "--server", Server);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("no key record", none.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Sign_reports_bad_input()
    {
        string plain = fixture.Folder.Sub("nofrom.eml");
        File.WriteAllText(plain, "Subject: no from\n\nbody\n");
        var r = PosternProcess.Run("dkim", "sign", plain, "--key", fixture.EdKey, "--domain", "signed.test", "--selector", "ed");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("From", r.Stderr, StringComparison.Ordinal);
        var badKey = PosternProcess.Run("dkim", "sign", plain, "--key", plain, "--domain", "signed.test", "--selector", "ed");
        Assert.Equal(3, badKey.ExitCode);
        var badExpire = PosternProcess.Run("dkim", "sign", plain, "--key", fixture.EdKey, "--domain", "signed.test", "--selector", "ed", "--expire", "soon");
        Assert.Equal(3, badExpire.ExitCode);
    }
}
