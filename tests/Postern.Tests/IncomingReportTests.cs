using System.Net;
using System.Net.Sockets;
using Postern.Store.Reports;

namespace Postern.Tests;

/// <summary>
/// Reports reaching a quickstart domain's reporting addresses over SMTP (Python's smtplib) are
/// delivered as mail, then parsed, stored once and shown by `postern dmarc reports` and
/// `postern tlsrpt reports` while the server runs; hostile attachments are refused, bounded.
/// </summary>
public class IncomingReportTests
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures", "reports");

    [Fact]
    public async Task Reports_sent_to_the_quickstart_reporting_addresses_are_stored_once_and_listed_while_serving()
    {
        using var tmp = new TempFolder();
        // quickstart creates dmarc-reports@ and tls-reports@ as addresses of the account.
        var q = Cli.Run("quickstart", "alice@example.test", "--dir", tmp.Path, "--skip-checks");
        Assert.True(q.ExitCode == 0, q.Stderr + q.Stdout);
        Assert.Contains("rua=mailto:dmarc-reports@example.test", q.Stdout, StringComparison.Ordinal);
        Assert.Contains("rua=mailto:tls-reports@example.test", q.Stdout, StringComparison.Ordinal);
        string data = tmp.Sub("data");
        int smtpPort = FreePort();
        // quickstart's own configuration listens on port 25 of every address; this one on loopback.
        File.WriteAllText(tmp.Sub("test.conf"), $$"""
            hostname: mail.example.test
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [127.0.0.1]
                smtp: {enabled: true, port: {{smtpPort}}}
            dns:
              nameservers: ["127.0.0.1:9"]
            """);
        using var serve = ServeProcess.Start(tmp.Sub("test.conf"));
        serve.WaitForLog("serving mail.example.test");

        var send = await PythonAsync(Path.Combine(Fixtures, "send_reports.py"), smtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), Fixtures, "example.test");
        Assert.True(send.ExitCode == 0, send.Output);
        Assert.Contains("done 11", send.Output, StringComparison.Ordinal);
        // The TLS report was sent last: once it is stored, everything before it was processed.
        serve.WaitForLog("report stored kind=tlsrpt org=Google Inc.");
        string log = serve.Log;
        Assert.Contains("report stored kind=dmarc org=google.com report-id=13918441658917392281 domain=example.test rows=2 messages=15", log, StringComparison.Ordinal);
        Assert.Contains("report stored kind=dmarc org=Enterprise Outlook", log, StringComparison.Ordinal);
        Assert.Contains("report duplicate kind=dmarc org=google.com", log, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(log, "report stored kind=dmarc"));
        // Bombs stop at the decompression limit; XXE and corrupt archives are refused; the huge message is not looked at.
        Assert.Equal(2, CountOf(log, $"decompressed report larger than {Mail.Reports.DmarcAggregateReport.MaxXmlSize} bytes"));
        Assert.Contains($"kind=tlsrpt rcpt=tls-reports@example.test from=bomb@reporter.example error=decompressed report larger than {Mail.Reports.TlsReport.MaxJsonSize} bytes", log, StringComparison.Ordinal);
        Assert.Contains("from=xxe@reporter.example error=invalid XML", log, StringComparison.Ordinal);
        Assert.Contains("from=corrupt@reporter.example error=", log, StringComparison.Ordinal);
        Assert.Contains("report not processed: message of", log, StringComparison.Ordinal);
        // Mail to alice@ is not a report, whatever it carries.
        Assert.DoesNotContain("rcpt=alice@example.test", log, StringComparison.Ordinal);

        // Every message was delivered as mail, reports or not.
        Assert.Equal(11, (await Cli.ReadAccountAsync(data, "alice"))["INBOX"].Count);

        var reports = Cli.Run("dmarc", "reports", "--dir", data, "--days", "100000", "--rows");
        Assert.True(reports.ExitCode == 0, reports.Stderr);
        string o = reports.Stdout;
        Assert.Contains("2026-11-28T00:00:00Z..2026-11-28T23:59:59Z example.test org=google.com id=13918441658917392281 p=reject messages=15 rows=2 rcpt=dmarc-reports@example.test", o, StringComparison.Ordinal);
        Assert.Contains("org=Enterprise?Outlook id=9b3f4c1e2d6a4f0b8e7d5c3a1b2f4e6d p=reject messages=5 rows=2", o, StringComparison.Ordinal);
        Assert.Contains("    203.0.113.9 count=3 dis=reject dkim=fail spf=fail header-from=example.test spf-auth=softfail(spoofer.example)", o, StringComparison.Ordinal);
        Assert.Contains("    198.51.100.7 count=1 dis=quarantine dkim=fail spf=fail header-from=example.test envelope-from=example.test spf-auth=fail(example.test,mfrom) override=local_policy", o, StringComparison.Ordinal);
        Assert.Contains("Summary of 2 reports (last 100000 days): 20 messages", o, StringComparison.Ordinal);
        Assert.Contains("  disposition: none 16, quarantine 1, reject 3", o, StringComparison.Ordinal);
        Assert.Contains("  DMARC pass 16 (80.0%), fail 4", o, StringComparison.Ordinal);
        Assert.Contains("  DKIM aligned pass 16 (80.0%), fail 4", o, StringComparison.Ordinal);
        Assert.Contains("  SPF aligned pass 12 (60.0%), fail 8", o, StringComparison.Ordinal);
        Assert.Matches(@"192\.0\.2\.25 +messages=12 pass=12 fail=0 header-from=example\.test", o);
        Assert.Equal(2, CountOf(o, " org="));

        var none = Cli.Run("dmarc", "reports", "--dir", data, "--days", "100000", "--domain", "other.test");
        Assert.True(none.ExitCode == 0, none.Stderr);
        Assert.Contains("No DMARC reports about other.test", none.Stdout, StringComparison.Ordinal);

        var tls = Cli.Run("tlsrpt", "reports", "--dir", data, "--days", "100000", "--domain", "example.test");
        Assert.True(tls.ExitCode == 0, tls.Stderr);
        Assert.Contains("2026-11-28T00:00:00Z..2026-11-28T23:59:59Z org=Google?Inc. id=2026-11-28T00:00:00Z_example.test successful=41 failed=2 rcpt=tls-reports@example.test", tls.Stdout, StringComparison.Ordinal);
        Assert.Contains("  policy sts example.test successful=41 failed=2 mx=mail.example.test", tls.Stdout, StringComparison.Ordinal);
        Assert.Contains("    failure certificate-expired sessions=2 mx=mail.example.test receiving-ip=192.0.2.10 sending-ip=209.85.220.41", tls.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 reports: 41 successful sessions, 2 failed", tls.Stdout, StringComparison.Ordinal);

        // The same through the library, and the report is stored once.
        Assert.Single(IncomingReportQueries.DmarcReports(data, "example.test", DateTimeOffset.UnixEpoch, 100), r => r.OrgName == "google.com");
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static async Task<(int ExitCode, string Output)> PythonAsync(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout + await stderr);
    }
}
