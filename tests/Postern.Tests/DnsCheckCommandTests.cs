using System.Text.RegularExpressions;
using Postern.Testing;

namespace Postern.Tests;

/// <summary>
/// `postern config dnscheck` against the DNS lab: signed.test holds some of the records right and
/// some wrong; insecure.test (unsigned) holds exactly what `config dnsrecords` prints.
/// </summary>
public class DnsCheckCommandTests
{
    private static void Ok((int ExitCode, string Stdout, string Stderr) r) => Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);

    /// <summary>The record lines of zone-file text (no comments, no commented-out records).</summary>
    private static string RecordLines(string zoneText) =>
        string.Join("\n", zoneText.Split('\n').Where(l => l.Length > 0 && !l.StartsWith(';')));

    [Fact]
    public async Task Dnscheck_lists_each_wrong_or_missing_record_with_its_fix_and_passes_a_complete_zone()
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("srv");
        Ok(Cli.Run("quickstart", "you@signed.test", "--hostname", "mail.signed.test", "--dir", dir, "--skip-checks"));
        string conf = Path.Combine(dir, "postern.conf"), data = Path.Combine(dir, "data");
        // A second server, for insecure.test, whose zone gets exactly the printed set.
        string dir2 = tmp.Sub("srv2");
        Ok(Cli.Run("quickstart", "you@insecure.test", "--hostname", "mail.insecure.test", "--dir", dir2, "--skip-checks"));
        string conf2 = Path.Combine(dir2, "postern.conf");
        string insecureRecords = Cli.Run("config", "dnsrecords", "insecure.test", "--config", conf2).Stdout;
        // signed.test: the lab's own records (MX and A right, SPF, TLSA and CAA wrong) plus these.
        string signedRecords = Cli.Run("config", "dnsrecords", "signed.test", "--config", conf).Stdout;
        string Line(string start) => signedRecords.Split('\n').Single(l => l.StartsWith(start, StringComparison.Ordinal));
        string edDkim = signedRecords.Split('\n').First(l => l.Contains("._domainkey.signed.test. IN TXT \"v=DKIM1; k=ed25519", StringComparison.Ordinal));
        string ecdsaTlsa = signedRecords.Split('\n').First(l => l.StartsWith("_25._tcp.mail.signed.test. IN TLSA", StringComparison.Ordinal));
        string signedExtra = string.Join("\n",
            "@ IN TXT \"v=spf1 mx ~all\"",                     // a second SPF record
            Line("mail.signed.test. IN TXT"),                    // right
            edDkim,                                              // right; the RSA key's record is missing
            Line("_dmarc.signed.test."),                         // right; TLSRPT missing
            ecdsaTlsa,                                           // right, next to the lab's wrong one
            Line("_imaps._tcp.signed.test."),                    // right
            "_submission._tcp IN SRV 10 1 2525 mail.signed.test.", // wrong port; _imap and _pop3s missing
            Line("_pop3._tcp.signed.test."));

        await using var lab = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.SignedZone] = signedExtra,
            [DnsLab.InsecureZone] = RecordLines(insecureRecords),
        });
        foreach (string c in new[] { conf, conf2 })
        {
            string text = File.ReadAllText(c);
            text = text.Replace("\n  nameservers: []", $"\n  nameservers: [\"{lab.ResolverEndPoint}\"]", StringComparison.Ordinal)
                       .Replace("trusted-nameservers: []", "trusted-nameservers: [127.0.0.1]", StringComparison.Ordinal);
            // Without the web listener (its MTA-STS policy fetch is tested in WebServeTests): the records here are the mail ones.
            text = Regex.Replace(text, @"(\n\s+https:\s*\n(?:\s+#[^\n]*\n)*\s+enabled:) true", "$1 false");
            Assert.Contains("https:", text, StringComparison.Ordinal);
            File.WriteAllText(c, text);
        }

        var signed = Cli.Run("config", "dnscheck", "signed.test", "--config", conf);
        Assert.True(signed.ExitCode == 1, signed.Stdout + signed.Stderr + lab.Log);
        string o = signed.Stdout;
        string[] problems = [.. o.Split('\n').Where(l => l.StartsWith("PROBLEM ", StringComparison.Ordinal))];
        void Problem(string name, string text) =>
            Assert.True(problems.Any(p => p.StartsWith("PROBLEM " + name + ": ", StringComparison.Ordinal) && p.Contains(text, StringComparison.Ordinal)), $"no problem \"{name}: ...{text}...\" in:\n{o}");
        Problem("signed.test.", "2 v=spf1 records");
        Problem("signed.test.", "RFC 7208 §4.5 permerror");
        Problem(Regex.Match(signedRecords, @"(\d{6}r)\._domainkey").Groups[1].Value + "._domainkey.signed.test.", "DKIM key record missing");
        Problem("_smtp._tls.signed.test.", "no v=TLSRPTv1 record");
        Problem("mail.signed.test.", "CAA does not have 0 issue \"letsencrypt.org\" (it has: ca.example)");
        Problem("_25._tcp.mail.signed.test.", "TLSA 3 1 1 0123456789abcdef");
        Problem("_submission._tcp.signed.test.", "wrong value: 10 1 2525 mail.signed.test");
        Problem("_imap._tcp.signed.test.", "missing");
        Problem("_pop3s._tcp.signed.test.", "missing");
        Assert.Equal(8, problems.Length);
        Assert.Contains("  fix: replace it with _submission._tcp.signed.test. IN SRV 10 1 587 mail.signed.test.", o, StringComparison.Ordinal);
        Assert.Contains("  fix: keep only signed.test. IN TXT \"v=spf1 mx ~all\"", o, StringComparison.Ordinal);
        Assert.DoesNotContain("NOTE", o, StringComparison.Ordinal); // signed.test is DNSSEC-authentic

        // A complete zone passes, with a note that DANE needs DNSSEC (insecure.test is not signed).
        var insecure = Cli.Run("config", "dnscheck", "insecure.test", "--config", conf2);
        Assert.True(insecure.ExitCode == 0, insecure.Stdout + insecure.Stderr);
        Assert.Contains("insecure.test: all ", insecure.Stdout, StringComparison.Ordinal);
        Assert.Contains("NOTE insecure.test. is not DNSSEC-authentic", insecure.Stdout, StringComparison.Ordinal);
        Assert.Contains("DANE needs a DNSSEC-signed zone", insecure.Stdout, StringComparison.Ordinal);

        Assert.NotEqual(0, Cli.Run("config", "dnscheck", "example.org", "--config", conf).ExitCode); // not local
    }
}
