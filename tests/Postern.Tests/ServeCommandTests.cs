using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Postern.Config;
using Postern.Security.Tls;
using Postern.Testing;

namespace Postern.Tests;

/// <summary>`postern serve`, `stop` and `config test|describe` as an operator runs them.</summary>
public class ServeCommandTests
{
    private static int FreePort() => PosternServeProcess.FreePort();

    /// <summary>A config folder with a self-signed certificate, a data folder with one account, loopback listeners.</summary>
    private static async Task<(string Conf, int Imap, int Imaps, int Smtp)> SetupAsync(TempFolder tmp, int metricsPort = 0)
    {
        Directory.CreateDirectory(tmp.Sub("tls"));
        using (var cert = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["mail.test"] }))
            TlsCertificates.SavePem(cert, tmp.Sub("tls/cert.pem"), tmp.Sub("tls/key.pem"));
        var add = Cli.RunWithInput("secret-password\n", "account", "add", "alice", "--password-stdin", "--dir", tmp.Sub("data"));
        Assert.True(add.ExitCode == 0, add.Stderr + add.Stdout);
        await using (var store = Postern.Store.Sqlite.SqliteMailStore.Open(tmp.Sub("data")))
            await store.Directory.AddAddressAsync("alice@mail.test", "alice");
        int imap = FreePort(), imaps = FreePort(), smtp = FreePort();
        File.WriteAllText(tmp.Sub("postern.conf"), $"""
            # test server
            hostname: mail.test
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [127.0.0.1]
                tls:
                  key-certs:
                    - cert-file: tls/cert.pem
                      key-file: tls/key.pem
                smtp: {"{"}enabled: true, port: {smtp}{"}"}
                imap: {"{"}enabled: true, port: {imap}{"}"}
                imaps:
                  enabled: true
                  port: {imaps}
                metrics: {"{"}enabled: {(metricsPort > 0 ? "true" : "false")}, port: {(metricsPort > 0 ? metricsPort : 8010)}{"}"}
            dns:
              # Nothing listens there: lookups fail at once instead of waiting on the network.
              nameservers: ["127.0.0.1:9"]
            """);
        return (tmp.Sub("postern.conf"), imap, imaps, smtp);
    }

    private static string ImapsGreetingAndLogin(int port)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        ssl.AuthenticateAsClient("mail.test");
        var reader = new StreamReader(ssl, Encoding.ASCII);
        string greeting = reader.ReadLine()!;
        ssl.Write(Encoding.ASCII.GetBytes("a LOGIN alice secret-password\r\n"));
        string? line;
        while ((line = reader.ReadLine()) is not null && !line.StartsWith("a ", StringComparison.Ordinal)) { }
        return greeting + "\n" + line;
    }

    [Fact]
    public async Task Domains_addresses_and_aliases_added_with_the_cli_apply_to_a_running_server_at_once()
    {
        using var tmp = new TempFolder();
        var (conf, _, _, smtpPort) = await SetupAsync(tmp);
        string data = tmp.Sub("data");
        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.test");

        // Not local yet: the MX refuses the recipient (no relaying).
        using (var smtp = new System.Net.Mail.SmtpClient("127.0.0.1", smtpPort))
            Assert.ThrowsAny<System.Net.Mail.SmtpException>(() => smtp.Send("someone@remote.test", "team@live.test", "early", "refused"));

        void Ok(params string[] args)
        {
            var r = Cli.Run([.. args, "--dir", data]);
            Assert.True(r.ExitCode == 0, string.Join(' ', args) + ": " + r.Stderr + r.Stdout);
        }
        Ok("config", "domain", "add", "live.test");
        Ok("config", "account", "add", "bob");
        Ok("config", "address", "add", "bob@live.test", "bob");
        Ok("config", "alias", "add", "team@live.test", "bob@live.test");
        Ok("config", "alias", "addmember", "team@live.test", "alice@mail.test");

        using (var smtp = new System.Net.Mail.SmtpClient("127.0.0.1", smtpPort))
        {
            smtp.Send("someone@remote.test", "team@live.test", "to the team", "without a restart");
            // An unknown address of the now-local domain is refused, not relayed.
            Assert.ThrowsAny<System.Net.Mail.SmtpException>(() => smtp.Send("someone@remote.test", "nobody@live.test", "x", "y"));
        }
        Assert.Contains("Subject: to the team", (await Cli.ReadAccountAsync(data, "bob"))["INBOX"].Single().Text, StringComparison.Ordinal);
        Assert.Contains("Subject: to the team", (await Cli.ReadAccountAsync(data, "alice"))["INBOX"].Single().Text, StringComparison.Ordinal);

        // Removing works the same way: the alias member and then the whole domain.
        Ok("config", "alias", "rmmember", "team@live.test", "alice@mail.test");
        Ok("config", "domain", "rm", "live.test", "--with-addresses");
        using (var smtp = new System.Net.Mail.SmtpClient("127.0.0.1", smtpPort))
            Assert.ThrowsAny<System.Net.Mail.SmtpException>(() => smtp.Send("someone@remote.test", "bob@live.test", "late", "refused"));

        var stop = Cli.Run("stop", "--config", conf);
        Assert.True(stop.ExitCode == 0, stop.Stderr + stop.Stdout);
        Assert.True(serve.WaitForExit(30_000));
    }

    [Fact]
    public async Task Queue_commands_reach_the_running_server_through_its_control_socket()
    {
        using var tmp = new TempFolder();
        var (conf, _, _, _) = await SetupAsync(tmp);
        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.test");
        string data = tmp.Sub("data");
        Assert.True(File.Exists(Path.Combine(data, "postern.ctl")));
        var r = Cli.Run("queue", "list", "--dir", data);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("queue is empty", r.Stdout, StringComparison.Ordinal);
        r = Cli.Run("queue", "hold", "--dir", data, "424242");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no message 424242", r.Stderr, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(data, "queue")));
        Assert.Equal(0, Cli.Run("stop", "--config", conf).ExitCode);
        Assert.True(serve.WaitForExit(30_000));
    }

    [Fact]
    public async Task Serve_answers_on_its_listeners_and_stop_ends_it_cleanly()
    {
        using var tmp = new TempFolder();
        int metricsPort = FreePort();
        var (conf, _, imaps, smtpPort) = await SetupAsync(tmp, metricsPort);
        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.test");
        Assert.Contains($"local: metrics 127.0.0.1:{metricsPort}", serve.Log, StringComparison.Ordinal);
        string session = ImapsGreetingAndLogin(imaps);
        Assert.Contains("* OK", session, StringComparison.Ordinal);
        Assert.Contains("a OK", session, StringComparison.Ordinal);

        // Incoming mail on the SMTP listener lands in the account, with the sender checks' results.
        using (var smtp = new System.Net.Mail.SmtpClient("127.0.0.1", smtpPort))
            smtp.Send("someone@remote.test", "alice@mail.test", "hello", "through serve");
        string inbox = (await Cli.ReadAccountAsync(tmp.Sub("data"), "alice"))["INBOX"].Single().Text;
        Assert.Contains("Subject: hello", inbox, StringComparison.Ordinal);
        Assert.Contains("Authentication-Results: mail.test", inbox, StringComparison.Ordinal);
        Assert.Contains("Received: from", inbox, StringComparison.Ordinal);

        // The metrics listener counted it, with the sender checks' results (DNS is unreachable here: temperror).
        using (var http = new HttpClient())
        {
            string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
            Assert.Contains("postern_smtp_messages_total{result=\"accepted\",service=\"mx\"} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("postern_smtp_incoming_auth_total{method=\"dmarc\",result=\"temperror\"} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("postern_imap_auth_total{result=\"success\"} 1\n", metrics, StringComparison.Ordinal);
            var other = await http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/.well-known/mta-sts.txt"));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, other.StatusCode);
        }

        var second = Cli.Run("serve", "--config", conf);
        Assert.Equal(2, second.ExitCode);
        Assert.Contains("another postern server is running", second.Stderr, StringComparison.Ordinal);

        var stop = Cli.Run("stop", "--config", conf);
        Assert.True(stop.ExitCode == 0, stop.Stderr + stop.Stdout);
        Assert.True(serve.WaitForExit(30_000));
        Assert.Equal(0, serve.Process.ExitCode);
        Assert.Contains("stopped", serve.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(tmp.Sub("data/postern.ctl")));
        Assert.NotEqual(0, Cli.Run("stop", "--config", conf).ExitCode);

        // The message's DMARC evaluation was kept for aggregate reports (DNS is unreachable here: temperror).
        var evaluations = Cli.Run("dmarc", "evaluations", "--dir", tmp.Sub("data"));
        Assert.True(evaluations.ExitCode == 0, evaluations.Stderr);
        string line = Assert.Single(evaluations.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(line.Contains(" remote.test 127.0.0.1 dmarc=temperror dis=none p=- header-from=remote.test envelope-from=remote.test spf=temperror(remote.test) dkim=none", StringComparison.Ordinal), line);
        Assert.Empty(Cli.Run("dmarc", "evaluations", "--dir", tmp.Sub("data"), "--domain", "other.test").Stdout);
        Assert.Empty(Cli.Run("dmarc", "evaluations", "--dir", tmp.Sub("data"), "--day", "2001-01-01").Stdout);
        Assert.Equal(1, Cli.Run("dmarc", "evaluations", "--dir", tmp.Sub("data"), "--day", "yesterday").ExitCode);
    }

    [Fact]
    public async Task Sigterm_stops_the_server_with_exit_code_zero()
    {
        using var tmp = new TempFolder();
        var (conf, _, _, _) = await SetupAsync(tmp);
        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.test");
        serve.Terminate();
        Assert.True(serve.WaitForExit(30_000), serve.Log);
        Assert.Equal(0, serve.Process.ExitCode);
        Assert.Contains("stopped", serve.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_is_named_and_nothing_keeps_running()
    {
        using var tmp = new TempFolder();
        var (conf, imap, _, _) = await SetupAsync(tmp);
        using var blocker = new TcpListener(IPAddress.Loopback, imap);
        blocker.Start();
        var r = Cli.Run("serve", "--config", conf);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"listeners.local: cannot listen on 127.0.0.1:{imap}", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(tmp.Sub("data/postern.ctl")));
    }

    [Fact]
    public void Configuration_errors_name_file_line_and_setting_before_anything_starts()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp.Sub("postern.conf"), """
            hostname: "not a host"
            listeners:
              public:
                ips: [127.0.0.1, 300.1.1.1]
                imap: {enabled: true, port: 70000}
                imaps: {enabled: yes, port: 1993}
            dns:
              nameservers: [nowhere]
            """);
        var r = Cli.Run("config", "test", "--config", tmp.Sub("postern.conf"));
        Assert.Equal(2, r.ExitCode);
        string conf = tmp.Sub("postern.conf");
        Assert.Contains($"{conf}:1:11: hostname: \"not a host\" is not a host name", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{conf}:4:22: listeners.public.ips[1]: \"300.1.1.1\" is not an IP address", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("listeners.public.imap.port: 70000 is not a TCP port", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("dns.nameservers[0]: \"nowhere\" is not IP or IP:port", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, Cli.Run("serve", "--config", conf).ExitCode);

        File.WriteAllText(conf, "hostname: mail.test\nlistener:\n  x: 1\n");
        r = Cli.Run("config", "test", "--config", conf);
        Assert.Contains($"{conf}:2:1: listener: unknown setting", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("listeners: missing (required)", r.Stderr, StringComparison.Ordinal);

        File.WriteAllText(conf, "hostname: [a\n");
        r = Cli.Run("config", "test", "--config", conf);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not valid YAML", r.Stderr, StringComparison.Ordinal);

        r = Cli.Run("config", "test", "--config", tmp.Sub("missing.conf"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no such file", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_certificate_and_data_folder_are_reported_by_config_test_and_serve()
    {
        using var tmp = new TempFolder();
        var (conf, _, _, _) = await SetupAsync(tmp);
        File.Delete(tmp.Sub("tls/key.pem"));
        var r = Cli.Run("config", "test", "--config", conf);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("listeners.local.tls:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("key.pem: no such file", r.Stderr, StringComparison.Ordinal);
        r = Cli.Run("serve", "--config", conf);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("key.pem: no such file", r.Stderr, StringComparison.Ordinal);

        Directory.Delete(tmp.Sub("data"), true);
        r = Cli.Run("config", "test", "--config", conf);
        Assert.Contains("data-dir:", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Junk_filter_settings_are_checked_with_their_line()
    {
        const string head = "hostname: mail.test\nlisteners:\n  a:\n    ips: [127.0.0.1]\njunk-filter:\n";
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(head + "  threshold: 0.4\n  min-trained: 0\n  max-words: 10\n", "t.conf"));
        Assert.Contains(e.Errors, x => x.Contains("t.conf:6:14: junk-filter.threshold: must be above 0.5 and at most 1", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Contains("junk-filter.min-trained: must be between 1 and 100000", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Contains("junk-filter.max-words: must be between 1000 and 100000000", StringComparison.Ordinal));
        e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(head + "  threshold: NaN\n", "t.conf"));
        Assert.Contains(e.Errors, x => x.Contains("junk-filter.threshold: \"NaN\" is not a number", StringComparison.Ordinal));
        var ok = ConfigLoader.Parse(head + "  threshold: 0.99\n  enabled: false\n", "t.conf");
        Assert.Equal(0.99, ok.JunkFilter.Threshold);
        Assert.False(ok.JunkFilter.Enabled);
        Assert.Equal(20, ok.JunkFilter.MinTrained);
    }

    [Fact]
    public void Describe_prints_a_reference_the_loader_accepts_and_docs_config_md_embeds()
    {
        string text = ConfigDescriber.Describe();
        var parsed = ConfigLoader.Parse(text, "describe");
        Assert.Equal("mail.example.com", parsed.Hostname);
        Assert.True(parsed.Listeners["public"].Imaps.Enabled);
        Assert.Equal(993, parsed.Listeners["public"].Imaps.Port);
        foreach (var key in new[] { "hostname:", "data-dir:", "listeners:", "key-certs:", "trusted-nameservers:", "shutdown-grace-seconds:" })
            Assert.Contains(key, text, StringComparison.Ordinal);
        // Received reports are kept 180 days unless set; 0 keeps them forever, a negative number is refused.
        Assert.Equal(180, parsed.Reports.ReceivedRetentionDays);
        Assert.Equal(0, ConfigLoader.Parse(text.Replace("received-retention-days: 180", "received-retention-days: 0", StringComparison.Ordinal), "describe").Reports.ReceivedRetentionDays);
        var negative = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text.Replace("received-retention-days: 180", "received-retention-days: -1", StringComparison.Ordinal), "describe"));
        Assert.Contains(negative.Errors, e => e.Contains("reports.received-retention-days: must be between 0 (keep forever) and 36500", StringComparison.Ordinal));

        string repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "Postern.slnx"))) repo = Path.GetDirectoryName(repo)!;
        string doc = File.ReadAllText(Path.Combine(repo, "docs", "config.md"));
        Assert.True(doc.Contains(text, StringComparison.Ordinal), "docs/config.md does not hold the output of `postern config describe`; paste it again");
    }

    [Fact]
    public void Certificates_are_chosen_by_sni_and_reloaded_when_their_files_change()
    {
        using var tmp = new TempFolder();
        using (var a = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["mail.a.test"] }))
            TlsCertificates.SavePem(a, tmp.Sub("a.crt"), tmp.Sub("a.key"));
        using (var b = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["*.b.test"] }))
            TlsCertificates.SavePem(b, tmp.Sub("b.crt"), tmp.Sub("b.key"));
        var time = new ManualTime();
        var selector = new CertificateSelector([new(tmp.Sub("a.crt"), tmp.Sub("a.key")), new(tmp.Sub("b.crt"), tmp.Sub("b.key"))], time);
        Assert.Contains("mail.a.test", selector.Select(null).Subject, StringComparison.Ordinal);
        Assert.Contains("b.test", selector.Select("imap.b.test").Subject, StringComparison.Ordinal);
        Assert.Contains("mail.a.test", selector.Select("b.test").Subject, StringComparison.Ordinal); // a wildcard covers one label only
        Assert.Contains("mail.a.test", selector.Select("MAIL.A.TEST.").Subject, StringComparison.Ordinal);

        string oldThumb = selector.Select("mail.a.test").Thumbprint;
        using (var renewed = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["mail.a.test", "extra.a.test"] }))
            TlsCertificates.SavePem(renewed, tmp.Sub("a.crt"), tmp.Sub("a.key"));
        File.SetLastWriteTimeUtc(tmp.Sub("a.crt"), DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(oldThumb, selector.Select("mail.a.test").Thumbprint); // not yet rechecked
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.NotEqual(oldThumb, selector.Select("mail.a.test").Thumbprint);
        Assert.Contains("extra.a.test", selector.Select("extra.a.test").GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.DnsName, false) + string.Join(",", selector.Select("extra.a.test").Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames())), StringComparison.Ordinal);

        // A broken file after a change keeps the previous certificate and reports it.
        string current = selector.Select("mail.a.test").Thumbprint;
        string? failed = null;
        selector.ReloadFailed = (f, e) => failed = f.CertificatePath;
        File.WriteAllText(tmp.Sub("a.crt"), "garbage");
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(current, selector.Select("mail.a.test").Thumbprint);
        Assert.Equal(tmp.Sub("a.crt"), failed);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
