// The issue-7 end-to-end test, in one run on loopback: `postern quickstart` for a test domain; the
// DNS lab (nsd + unbound, signed zone) serves the records quickstart printed; pebble issues the
// certificate through the config's acme section; `postern serve` starts on the generated config
// moved to loopback ports; Postfix delivers a message to the MX; Python's imaplib reads it over
// TLS checking the certificate against pebble's CA; the user replies over submissions (implicit
// TLS); Postern's queue delivers it to Postfix, the MX of the other domain found through the lab,
// with DKIM signatures dkimpy verifies; `backup` and `verifydata` succeed; SIGTERM stops the server
// with exit code 0 and nothing lost.
//
// The machine running the suite may be loaded (2 shared cores): every wait is bounded but long,
// and every process is stopped by its PID in finally blocks (Dispose).
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Postern.Config;
using Postern.Dns;
using Postern.Testing;

namespace Postern.Tests;

public partial class EndToEndTests
{
    private const string Domain = "e2e." + DnsLab.SignedZone;
    private const string Host = "mail." + Domain;
    private const string OtherDomain = "other." + DnsLab.SignedZone;
    private const string OtherMx = "mx." + OtherDomain;

    [Fact]
    public async Task Quickstart_dns_acme_serve_postfix_imap_submission_dkim_backup_and_sigterm()
    {
        Assert.True(DnsLab.IsAvailable, "nsd, unbound and ldnsutils are needed (scripts/test-packages.txt)");
        Assert.True(PebbleLab.IsAvailable, "pebble is needed (scripts/test-packages.txt)");
        Assert.True(PostfixPeer.Available, "postfix is needed (scripts/test-packages.txt)");
        // Addresses at random in 127/8 so that parallel runs do not meet on port 25.
        int a = Random.Shared.Next(16, 250), b = Random.Shared.Next(16, 250);
        var posternIp = IPAddress.Parse($"127.{a}.{b}.3");
        var postfixIp = IPAddress.Parse($"127.{a}.{b}.2");
        using var tmp = new TempFolder();

        // 1. quickstart, as docs/install.md says.
        var qs = Cli.Run("quickstart", "you@" + Domain, "--hostname", Host, "--dir", tmp.Path, "--skip-checks");
        Assert.True(qs.ExitCode == 0, qs.Stderr + qs.Stdout);
        string password = PasswordAfter(qs.Stdout, "Log in with user you@" + Domain);
        Assert.Contains("AmbientCapabilities=CAP_NET_BIND_SERVICE", qs.Stdout, StringComparison.Ordinal);
        List<string> records = ZoneRecords(qs.Stdout);
        foreach (string type in new[] { "MX", "TXT", "TLSA", "SRV", "CAA" })
            Assert.Contains(records, r => r.Contains($" IN {type} ", StringComparison.Ordinal));

        // 2. The DNS lab serves them (plus the host's address, which quickstart cannot know here,
        // and the other domain whose MX is Postfix).
        string extra = string.Join('\n', records) + $"""

            {Host}. IN A {posternIp}
            {OtherDomain}. IN MX 10 {OtherMx}.
            {OtherMx}. IN A {postfixIp}
            """;
        await using var dns = await DnsLab.StartAsync(new Dictionary<string, string> { [DnsLab.SignedZone] = extra });
        var resolver = dns.CreateResolver();
        var mx = await resolver.LookupMxAsync(Domain);
        Assert.True(mx.IsSuccess && mx.Authentic, mx.Describe());
        Assert.Equal(Host, Assert.Single(mx.Records).Exchange);
        var hostA = await resolver.LookupAAsync(Host);
        Assert.Equal(posternIp, Assert.Single(hostA.Records));

        // 3. pebble, resolving the names it validates through the lab.
        await using var pebble = await PebbleLab.StartAsync(dnsServer: dns.ResolverEndPoint);

        // 4. The generated config, moved to loopback: the listener's IPs and ports, ACME on against
        // pebble, DNS through the lab. Everything else stays as quickstart wrote it.
        string conf = Path.Combine(tmp.Path, "postern.conf");
        var loaded = ConfigLoader.Load(conf);
        ServerConfig c = loaded.Config;
        Assert.Equal(["internal", "public"], c.Listeners.Keys.Order(StringComparer.Ordinal));
        var listener = c.Listeners["public"];
        var used = new HashSet<int>();
        // The metrics listener stays on 127.0.0.1, on a free port.
        var metrics = c.Listeners["internal"];
        Assert.Equal(["127.0.0.1"], metrics.Ips);
        Assert.True(metrics.Metrics.Enabled);
        metrics.Metrics.Port = FreePort(IPAddress.Loopback, used);
        listener.Ips = [posternIp.ToString()];
        int smtpPort = FreePort(posternIp, used), submissionPort = FreePort(posternIp, used), submissionsPort = FreePort(posternIp, used),
            imapPort = FreePort(posternIp, used), imapsPort = FreePort(posternIp, used);
        listener.Smtp.Port = smtpPort;
        listener.Submission.Port = submissionPort;
        listener.Submissions.Port = submissionsPort;
        listener.Imap.Port = imapPort;
        listener.Imaps.Port = imapsPort;
        Assert.True(listener.Smtp.Enabled && listener.Submissions.Enabled && listener.Imaps.Enabled);
        Assert.False(listener.Tls.Acme);
        listener.Tls.Acme = true;
        Assert.Equal(QuickstartDirectory, c.Acme.DirectoryUrl);
        Assert.Equal("you@" + Domain, c.Acme.ContactEmail);
        c.Acme.DirectoryUrl = pebble.DirectoryUri.ToString();
        c.Acme.TrustedCaFile = pebble.TrustedRootFile;
        c.Acme.TlsAlpnPort = pebble.TlsPort;
        c.Acme.HttpPort = pebble.HttpPort;
        c.Dns.Nameservers = [dns.ResolverEndPoint.ToString()];
        c.Dns.TrustedNameservers = ["127.0.0.1"];
        c.ShutdownGraceSeconds = 10;
        File.WriteAllText(conf, ConfigDescriber.Describe(c));
        var test = Cli.Run("config", "test", "--config", conf);
        Assert.True(test.ExitCode == 0, test.Stderr + test.Stdout);

        // 5. serve; ACME issues the certificate on the stable host key, the listeners pick it up.
        using var serve = ServeProcess.Start(conf);
        PostfixPeer? postfix = null;
        try
        {
            await serve.WaitForLogAsync("serving " + Host);
            using (var http = new HttpClient())
                Assert.Contains("# TYPE process_cpu_seconds_total counter", await http.GetStringAsync(new Uri($"http://127.0.0.1:{metrics.Metrics.Port}/metrics")), StringComparison.Ordinal);
            await serve.WaitForLogAsync("acme obtained certificate=" + Host, 240);
            using var root = await pebble.IssuingRootAsync();
            string caFile = Path.Combine(tmp.Path, "pebble-root.pem");
            File.WriteAllText(caFile, root.ExportCertificatePem() + "\n");
            await WaitForIssuedCertificateAsync(posternIp, imapsPort, root, serve);

            // 6. Postfix: MX of the other domain, and the sender of the first message, which it relays
            // to the MX of Domain as the lab names it, checking Postern's certificate against pebble's CA.
            var mxIp = Assert.Single((await resolver.LookupAAsync(Assert.Single(mx.Records).Exchange)).Records);
            postfix = await PostfixPeer.StartAsync(postfixIp, OtherMx, [OtherDomain], [$"{Domain} smtp:[{mxIp}]:{smtpPort}"], $"""
                smtp_tls_CAfile = {caFile}
                smtp_tls_policy_maps = inline:{"{"}{"{"} [{mxIp}]:{smtpPort} = secure match={Host} {"}"}{"}"}
                smtp_tls_loglevel = 1
                """);
            string subject = "Hello from Postfix " + Guid.NewGuid().ToString("N")[..8];
#pragma warning disable CS0618 // SmtpClient is fine for a plain loopback submission into Postfix
            using (var smtp = new System.Net.Mail.SmtpClient(postfixIp.ToString(), 25))
                smtp.Send("friend@" + OtherDomain, "you@" + Domain, subject, "Sent through Postfix to Postern's MX.");
#pragma warning restore CS0618

            // 7. imaplib over implicit TLS, verifying the certificate for the host name against pebble's CA.
            var read = await PythonAsync("imap-wait", posternIp.ToString(), imapsPort.ToString(Inv), Host, caFile, "you@" + Domain, password, subject);
            Assert.True(read.Code == 0, $"imaplib: {read.Stderr}{read.Stdout}\npostfix log:\n{postfix.Log()}\nserve log:\n{serve.Log}");
            Assert.Contains("certificate-subject:", read.Stdout, StringComparison.Ordinal);
            Assert.Contains("Subject: " + subject, read.Stdout, StringComparison.Ordinal);
            Assert.Contains("Authentication-Results: " + Host, read.Stdout, StringComparison.Ordinal);
            Assert.Matches(@"Received: from \S*" + Regex.Escape(OtherMx), read.Stdout);
            // Postfix's policy for Postern was "secure match=HOST" against pebble's CA: it delivered only after verifying.
            Assert.Contains("Verified TLS connection established to ", postfix.Log(), StringComparison.Ordinal);

            // 8. The reply over submissions (port 465 style), through Postern's queue to Postfix.
            string replySubject = "Re: " + subject;
            string reply = Path.Combine(tmp.Path, "reply.eml");
            File.WriteAllText(reply, $"From: You <you@{Domain}>\r\nTo: friend@{OtherDomain}\r\nSubject: {replySubject}\r\n" +
                $"Date: {DateTimeOffset.UtcNow:R}\r\nMessage-ID: <{Guid.NewGuid():N}@{Domain}>\r\n\r\nThanks, it arrived.\r\n");
            var sent = await PythonAsync("submit", posternIp.ToString(), submissionsPort.ToString(Inv), Host, caFile, "you@" + Domain, password, "you@" + Domain, "friend@" + OtherDomain, reply);
            Assert.True(sent.Code == 0, $"smtplib: {sent.Stderr}{sent.Stdout}\n{serve.Log}");
            string? delivered = null;
            for (var until = DateTime.UtcNow.AddSeconds(180); delivered is null && DateTime.UtcNow < until;)
            {
                delivered = postfix.Messages().FirstOrDefault(m => m.Contains("Subject: " + replySubject, StringComparison.Ordinal));
                if (delivered is null) await Task.Delay(250);
            }
            Assert.True(delivered is not null, $"the reply did not reach Postfix\npostfix log:\n{postfix.Log()}\nserve log:\n{serve.Log}\nqueue:\n{Cli.Run("queue", "list", "--all", "--dir", loaded.DataDirectory).Stdout}");
            string deliveredFile = Path.Combine(tmp.Path, "delivered.eml");
            File.WriteAllText(deliveredFile, delivered, Encoding.Latin1);
            var dkim = await PythonAsync("dkim-verify", dns.ResolverEndPoint.Port.ToString(Inv), deliveredFile);
            Assert.True(dkim.Code == 0, $"dkimpy: {dkim.Stdout}{dkim.Stderr}\n{delivered}");
            Assert.Contains($"d={Domain}", dkim.Stdout, StringComparison.Ordinal);
            Assert.Contains("a=ed25519-sha256", dkim.Stdout, StringComparison.Ordinal);
            Assert.Contains("a=rsa-sha256", dkim.Stdout, StringComparison.Ordinal);

            // 9. A backup while the server runs, and its check.
            string backup = Path.Combine(tmp.Path, "backup");
            var bk = Cli.Run("backup", backup, "--config", conf);
            Assert.True(bk.ExitCode == 0, bk.Stderr + bk.Stdout);
            Assert.True(File.Exists(Path.Combine(backup, "postern.conf")));
            var verify = Cli.Run("verifydata", Path.Combine(backup, "data"));
            Assert.True(verify.ExitCode == 0, verify.Stderr + verify.Stdout);

            // 10. SIGTERM with an IMAP session still open: the server stops accepting, gives sessions
            // the grace time (10 s here), exits with 0; everything is still there afterwards.
            using var idle = new TcpClient();
            await idle.ConnectAsync(posternIp, imapPort);
            var idleReader = new StreamReader(idle.GetStream(), Encoding.ASCII);
            Assert.StartsWith("* OK", await idleReader.ReadLineAsync(), StringComparison.Ordinal);
            var clock = Stopwatch.StartNew();
            serve.Terminate();
            Assert.True(serve.WaitForExit(120_000), "serve did not stop after SIGTERM:\n" + serve.Log);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(100), $"stopping took {clock.Elapsed}:\n{serve.Log}");
            Assert.True(serve.Process.ExitCode == 0, serve.Log);
            Assert.Contains("stopping: no new connections", serve.Log, StringComparison.Ordinal);
            Assert.Contains("stopped", serve.Log, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(loaded.DataDirectory, "postern.ctl")));
            verify = Cli.Run("verifydata", loaded.DataDirectory);
            Assert.True(verify.ExitCode == 0, verify.Stderr + verify.Stdout);
            var inbox = (await Cli.ReadAccountAsync(loaded.DataDirectory, "you"))["INBOX"];
            Assert.Contains(inbox, m => m.Text.Contains("Subject: " + subject, StringComparison.Ordinal));
            var queue = Cli.Run("queue", "list", "--dir", loaded.DataDirectory);
            Assert.True(queue.ExitCode == 0, queue.Stderr);
            Assert.Contains("queue is empty", queue.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            postfix?.Dispose();
        }
    }

    private const string QuickstartDirectory = "https://acme-v02.api.letsencrypt.org/directory";

    private static readonly IFormatProvider Inv = System.Globalization.CultureInfo.InvariantCulture;

    /// <summary>The indented line after the one starting with <paramref name="intro"/>.</summary>
    private static string PasswordAfter(string output, string intro)
    {
        string[] lines = output.Split('\n');
        int i = Array.FindIndex(lines, l => l.StartsWith(intro, StringComparison.Ordinal));
        Assert.True(i >= 0, output);
        string password = lines.Skip(i + 1).First(l => l.Trim().Length > 0).Trim();
        Assert.True(password.Length >= 12, output);
        return password;
    }

    /// <summary>The records quickstart printed (comments and commented-out records left out).</summary>
    private static List<string> ZoneRecords(string output) =>
        [.. output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => RecordLine().IsMatch(l))];

    [GeneratedRegex(@"^\S+\.\s+IN\s+[A-Z]+\s+\S")]
    private static partial Regex RecordLine();

    private static int FreePort(IPAddress ip, HashSet<int> used)
    {
        while (true)
        {
            using var l = new TcpListener(ip, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            if (used.Add(port)) return port;
        }
    }

    /// <summary>Polls the IMAPS handshake until the listener serves a certificate that chains to pebble's root.</summary>
    private static async Task WaitForIssuedCertificateAsync(IPAddress ip, int port, X509Certificate2 root, PosternServeProcess serve)
    {
        var until = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            using (var client = new TcpClient())
            {
                await client.ConnectAsync(ip, port);
                bool trusted = false;
                using var ssl = new SslStream(client.GetStream(), false, (_, cert, chain, errors) =>
                {
                    if (cert is null) return false;
                    using var x = new X509Chain();
                    x.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    x.ChainPolicy.CustomTrustStore.Add(root);
                    x.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    if (chain is not null) x.ChainPolicy.ExtraStore.AddRange(chain.ChainElements.Select(e => e.Certificate).ToArray());
                    using var leaf = X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
                    trusted = x.Build(leaf) && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
                    return true;
                });
                await ssl.AuthenticateAsClientAsync(Host);
                if (trusted) return;
            }
            Assert.True(DateTime.UtcNow < until, "the issued certificate was not served:\n" + serve.Log);
            await Task.Delay(500);
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> PythonAsync(params string[] args)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "EndToEnd", "e2e_clients.py");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            throw new TimeoutException("python3 e2e_clients.py " + string.Join(' ', args));
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
