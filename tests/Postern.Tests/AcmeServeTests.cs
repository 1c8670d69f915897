using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Config;
using Postern.Testing;

namespace Postern.Tests;

/// <summary>`postern serve` with `tls.acme: true` against pebble on loopback.</summary>
public class AcmeServeTests
{
    internal static int FreePort() => PosternServeProcess.FreePort();

    private static string Config(string directoryUrl, string caFile, int imaps, int tlsPort, int httpPort, string extra = "") => $"""
        hostname: mail.postern.test
        data-dir: data
        shutdown-grace-seconds: 2
        listeners:
          local:
            ips: [127.0.0.1]
            tls:
              acme: true
              acme-names: [mta-sts.postern.test]
            imaps:
              enabled: true
              port: {imaps}
        acme:
          directory-url: {directoryUrl}
          contact-email: postmaster@postern.test
          trusted-ca-file: {caFile}
          tls-alpn-port: {tlsPort}
          http-port: {httpPort}
        {extra}
        """;

    internal static X509Certificate2 ServedCertificate(int port, string sni)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        ssl.AuthenticateAsClient(sni);
        return X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
    }

    private static byte[] HostKeySpki(string data)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(Path.Combine(data, "hostkeys", "ecdsa-p256.pem")));
        return key.ExportSubjectPublicKeyInfo();
    }

    [Theory]
    [InlineData("tls-alpn-01")]
    [InlineData("http-01")]
    public async Task Serve_starts_on_a_placeholder_then_serves_the_issued_certificate_on_the_host_key(string challenge)
    {
        await using var lab = await PebbleLab.StartAsync();
        using var tmp = new TempFolder();
        Directory.CreateDirectory(tmp.Sub("data"));
        int imaps = FreePort();
        // With tls-alpn-port 0 only http-01 is answered.
        File.WriteAllText(tmp.Sub("postern.conf"), Config(lab.DirectoryUri.ToString(), lab.TrustedRootFile, imaps, challenge == "http-01" ? 0 : lab.TlsPort, lab.HttpPort));
        var test = Cli.Run("config", "test", "--config", tmp.Sub("postern.conf"));
        Assert.True(test.ExitCode == 0, test.Stderr);

        using var serve = ServeProcess.Start(tmp.Sub("postern.conf"));
        serve.WaitForLog("serving mail.postern.test");
        serve.WaitForLog("acme obtained certificate=mail.postern.test");
        Assert.Contains(challenge == "http-01" ? "acme http-01 answered path=/.well-known/acme-challenge/" : "acme tls-alpn-01 answering name=mail.postern.test", serve.Log, StringComparison.Ordinal);

        // The listener reads the renewed file within its recheck interval (10 s): poll the handshake.
        using var root = await lab.IssuingRootAsync();
        var until = DateTime.UtcNow.AddSeconds(60);
        X509Certificate2 served;
        while (true)
        {
            served = ServedCertificate(imaps, "mta-sts.postern.test");
            if (served.Subject != served.Issuer) break;
            served.Dispose();
            Assert.True(DateTime.UtcNow < until, "the issued certificate was not served:\n" + serve.Log);
            await Task.Delay(250);
        }
        using (served)
        {
            Assert.True(served.MatchesHostname("mta-sts.postern.test"));
            Assert.Equal(HostKeySpki(tmp.Sub("data")), served.PublicKey.ExportSubjectPublicKeyInfo());
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(tmp.Sub("data/acme/certs/mail.postern.test.ecdsa-p256.pem"));
            using var x = new X509Chain();
            x.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            x.ChainPolicy.CustomTrustStore.Add(root);
            x.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            x.ChainPolicy.ExtraStore.AddRange(chain);
            Assert.True(x.Build(served));
        }
        Assert.True(File.Exists(tmp.Sub("data/acme/account-key.pem")));
        // The account URL is kept for CAA accounturi records (RFC 8657, `config dnsrecords`).
        var account = Postern.Security.Acme.AcmeAccountRecord.TryLoad(tmp.Sub("data/acme"));
        Assert.NotNull(account);
        Assert.StartsWith("https://", account.AccountUrl, StringComparison.Ordinal);

        var stop = Cli.Run("stop", "--config", tmp.Sub("postern.conf"));
        Assert.True(stop.ExitCode == 0, stop.Stderr);
        Assert.True(serve.WaitForExit(30_000), serve.Log);
        Assert.Equal(0, serve.Process.ExitCode);
    }

    /// <summary>The certificate served on <paramref name="port"/> for <paramref name="sni"/> once <paramref name="wanted"/> holds, polled for at most 120 s.</summary>
    private static async Task<X509Certificate2> ServedWhenAsync(int port, string sni, Func<X509Certificate2, bool> wanted, PosternServeProcess serve, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var served = ServedCertificate(port, sni);
            if (wanted(served)) return served;
            served.Dispose();
            Assert.True(DateTime.UtcNow < until, $"{what} (SNI {sni}):\n{serve.Log}");
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_domain_added_while_serve_runs_gets_its_web_names_certified_and_a_removed_one_loses_them()
    {
        await using var lab = await PebbleLab.StartAsync();
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        Cli.AddAccount(data, "alice"); // creates the store
        var added = Cli.Run("config", "domain", "add", "postern.test", "--dir", data);
        Assert.True(added.ExitCode == 0, added.Stderr + added.Stdout);
        int imaps = FreePort(), https = FreePort();
        // http-01 through the web listener's http port; https on a port of its own.
        string conf = tmp.Sub("postern.conf");
        File.WriteAllText(conf, $"""
            hostname: mail.postern.test
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [127.0.0.1]
                tls:
                  acme: true
                imaps:
                  enabled: true
                  port: {imaps}
                https:
                  enabled: true
                  port: {https}
                http:
                  enabled: true
                  port: {lab.HttpPort}
            acme:
              directory-url: {lab.DirectoryUri}
              contact-email: postmaster@postern.test
              trusted-ca-file: {lab.TrustedRootFile}
              tls-alpn-port: 0
              http-port: {lab.HttpPort}
            """);
        var test = Cli.Run("config", "test", "--config", conf);
        Assert.True(test.ExitCode == 0, test.Stderr + test.Stdout);

        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.postern.test");
        serve.WaitForLog("acme obtained certificate=mta-sts.postern.test");

        // While it runs: a new domain, from another process.
        added = Cli.Run("config", "domain", "add", "newdomain.test", "--dir", data);
        Assert.True(added.ExitCode == 0, added.Stderr + added.Stdout);
        serve.WaitForLog("acme domain added domain=newdomain.test");
        serve.WaitForLog("acme obtained certificate=mta-sts.newdomain.test");
        using var root = await lab.IssuingRootAsync();
        using (var served = await ServedWhenAsync(https, "mta-sts.newdomain.test", c => c.MatchesHostname("mta-sts.newdomain.test") && c.Subject != c.Issuer, serve,
                   "the issued certificate of the new domain was not served"))
        {
            Assert.True(served.MatchesHostname("autoconfig.newdomain.test"));
            Assert.True(served.MatchesHostname("autodiscover.newdomain.test"));
            Assert.Equal(HostKeySpki(data), served.PublicKey.ExportSubjectPublicKeyInfo());
            var chain = new X509Certificate2Collection();
            chain.ImportFromPemFile(Path.Combine(data, "acme/certs/mta-sts.newdomain.test.ecdsa-p256.pem"));
            using var x = new X509Chain();
            x.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            x.ChainPolicy.CustomTrustStore.Add(root);
            x.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            x.ChainPolicy.ExtraStore.AddRange(chain);
            Assert.True(x.Build(served));
        }
        // The MTA-STS policy of the new domain, over https with SNI, on that certificate.
        using (var client = new TcpClient("127.0.0.1", https))
        using (var ssl = new SslStream(client.GetStream(), false, (_, _, _, errors) => (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0))
        {
            await ssl.AuthenticateAsClientAsync("mta-sts.newdomain.test");
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.newdomain.test\r\nConnection: close\r\n\r\n"));
            using var reader = new StreamReader(ssl, Encoding.ASCII);
            string response = await reader.ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
            Assert.Contains("version: STSv1", response, StringComparison.Ordinal);
        }

        // Removed while it runs: its names are no longer served (the host certificate answers) nor renewed.
        var removed = Cli.Run("config", "domain", "rm", "newdomain.test", "--dir", data);
        Assert.True(removed.ExitCode == 0, removed.Stderr + removed.Stdout);
        serve.WaitForLog("acme domain removed domain=newdomain.test");
        using (var served = await ServedWhenAsync(https, "mta-sts.newdomain.test", c => !c.MatchesHostname("mta-sts.newdomain.test"), serve,
                   "the removed domain's certificate is still served"))
        {
            Assert.True(served.MatchesHostname("mail.postern.test"));
        }
        // The domain of the start is untouched.
        using (var served = ServedCertificate(https, "mta-sts.postern.test"))
            Assert.True(served.MatchesHostname("mta-sts.postern.test"));

        var stop = Cli.Run("stop", "--config", conf);
        Assert.True(stop.ExitCode == 0, stop.Stderr);
        Assert.True(serve.WaitForExit(30_000), serve.Log);
        Assert.Equal(0, serve.Process.ExitCode);
    }

    [Fact]
    public async Task Acme_server_down_serve_keeps_running_on_the_placeholder_and_says_it_retries()
    {
        using var tmp = new TempFolder();
        Directory.CreateDirectory(tmp.Sub("data"));
        File.WriteAllText(tmp.Sub("ca.pem"), "");
        using (var ca = Postern.Security.Tls.TlsCertificates.CreateSelfSigned())
            File.WriteAllText(tmp.Sub("ca.pem"), ca.ExportCertificatePem());
        int imaps = FreePort(), closed = FreePort();
        File.WriteAllText(tmp.Sub("postern.conf"), Config($"https://127.0.0.1:{closed}/dir", "ca.pem", imaps, FreePort(), FreePort()));
        using var serve = ServeProcess.Start(tmp.Sub("postern.conf"));
        serve.WaitForLog("serving mail.postern.test");
        serve.WaitForLog("not obtained: cannot reach the ACME server at https://127.0.0.1:");
        Assert.Contains("the current certificate stays in use, retrying in 5m", serve.Log, StringComparison.Ordinal);
        using (var served = ServedCertificate(imaps, "mail.postern.test"))
        {
            Assert.Equal(served.Subject, served.Issuer);
            Assert.Equal(HostKeySpki(tmp.Sub("data")), served.PublicKey.ExportSubjectPublicKeyInfo());
        }
        var stop = Cli.Run("stop", "--config", tmp.Sub("postern.conf"));
        Assert.True(stop.ExitCode == 0, stop.Stderr);
        Assert.True(serve.WaitForExit(30_000), serve.Log);
        await Task.CompletedTask;
    }

    [Fact]
    public void Acme_configuration_errors_are_named()
    {
        static IReadOnlyList<string> Errors(string text)
        {
            var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "t.conf"));
            return e.Errors;
        }
        var errors = Errors("""
            hostname: mail.test
            listeners:
              a:
                ips: [127.0.0.1]
                tls: {acme: true, acme-names: ["bad name"]}
                imaps: {enabled: true, port: 993}
            acme:
              eab-key-id: kid
              http-port: 993
            """);
        Assert.Contains(errors, e => e.Contains("listeners.a.tls.acme: needs acme.directory-url", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("listeners.a.tls.acme-names[0]: \"bad name\" is not a host name", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("acme.eab-hmac-key: External Account Binding needs both", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("acme.http-port: 127.0.0.1 port 993 is already used by listeners.a.imaps", StringComparison.Ordinal));

        errors = Errors("""
            hostname: mail.test
            listeners:
              a:
                ips: [127.0.0.1]
                tls: {acme: true}
            acme:
              directory-url: http://ca.test/dir
              eab-key-id: kid
              eab-hmac-key: "not+base64url"
            """);
        Assert.Contains(errors, e => e.Contains("acme.directory-url: \"http://ca.test/dir\" is not an https:// URL", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("acme.eab-hmac-key: is not base64url", StringComparison.Ordinal));
    }
}
