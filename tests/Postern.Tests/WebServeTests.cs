using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Postern.Dns;
using Postern.Security.MtaSts;
using Postern.Testing;
using Postern.Web;

namespace Postern.Tests;

/// <summary>
/// `postern serve` with the web listener on the ACME ports, against pebble on loopback: the
/// validations (tls-alpn-01 on the https port, http-01 on the http port) are answered by the web
/// listener, the host name and each domain's mta-sts./autoconfig./autodiscover. names are
/// certified, and the MTA-STS policy is fetched over HTTPS with SNI by Postern's own MTA-STS client.
/// </summary>
public class WebServeTests
{
    private static string Config(string directoryUrl, string caFile, int imaps, int https, int http, int tlsAlpnPort) => $"""
        hostname: mail.postern.test
        data-dir: data
        shutdown-grace-seconds: 2
        listeners:
          local:
            ips: [127.0.0.1]
            tls:
              acme: true
            smtp:
              enabled: true
              port: {AcmeServeTests.FreePort()}
            imaps:
              enabled: true
              port: {imaps}
            submissions:
              enabled: true
              port: {AcmeServeTests.FreePort()}
            https:
              enabled: true
              port: {https}
            http:
              enabled: true
              port: {http}
        mta-sts:
          mode: testing
          max-age-seconds: 86400
        acme:
          directory-url: {directoryUrl}
          contact-email: postmaster@postern.test
          trusted-ca-file: {caFile}
          tls-alpn-port: {tlsAlpnPort}
          http-port: {http}
        """;

    [Theory]
    [InlineData("tls-alpn-01")]
    [InlineData("http-01")]
    public async Task Serve_answers_acme_through_the_web_listener_and_serves_the_mta_sts_policy_with_the_printed_id(string challenge)
    {
        await using var lab = await PebbleLab.StartAsync();
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Directory.CreateDirectory(data);
        Cli.AddAccount(data, "alice"); // creates the store
        var added = Cli.Run("config", "domain", "add", "postern.test", "--dir", data);
        Assert.True(added.ExitCode == 0, added.Stderr + added.Stdout);
        int imaps = AcmeServeTests.FreePort();
        // tls-alpn-01: the https port is pebble's validation port; http-01 only: https elsewhere, tls-alpn-01 off.
        int https = challenge == "tls-alpn-01" ? lab.TlsPort : AcmeServeTests.FreePort();
        string conf = tmp.Sub("postern.conf");
        File.WriteAllText(conf, Config(lab.DirectoryUri.ToString(), lab.TrustedRootFile, imaps, https, lab.HttpPort, challenge == "tls-alpn-01" ? lab.TlsPort : 0));
        var test = Cli.Run("config", "test", "--config", conf);
        Assert.True(test.ExitCode == 0, test.Stderr + test.Stdout);

        using var serve = ServeProcess.Start(conf);
        serve.WaitForLog("serving mail.postern.test");
        serve.WaitForLog("acme obtained certificate=mail.postern.test");
        serve.WaitForLog("acme obtained certificate=mta-sts.postern.test");
        Assert.Contains($"local: https 127.0.0.1:{https}", serve.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("acme tls-alpn-01 127.0.0.1", serve.Log, StringComparison.Ordinal); // no separate challenge listener
        Assert.DoesNotContain("acme http-01 127.0.0.1", serve.Log, StringComparison.Ordinal);
        Assert.Contains(challenge == "http-01" ? "acme http-01 answered path=/.well-known/acme-challenge/" : "acme tls-alpn-01 answering name=mta-sts.postern.test", serve.Log, StringComparison.Ordinal);

        // The policy as a sending server fetches it: SNI mta-sts.postern.test, certificate verified against pebble's root.
        using var root = await lab.IssuingRootAsync();
        using var client = new MtaStsClient(new InMemoryDnsResolver(new DnsZone()), new InMemoryMtaStsPolicyCache(), new MtaStsFetchOptions
        {
            Port = https,
            TrustedRoots = [root],
            Timeout = TimeSpan.FromSeconds(10),
            ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
        });
        // The listener reads the issued files within its recheck interval (10 s): poll.
        var until = DateTime.UtcNow.AddSeconds(60);
        MtaStsPolicy? policy;
        string? error;
        while (true)
        {
            (policy, error) = await client.FetchPolicyAsync("postern.test", CancellationToken.None);
            if (policy is not null) break;
            Assert.True(DateTime.UtcNow < until, $"policy not fetched: {error}\n{serve.Log}");
            await Task.Delay(250);
        }
        Assert.Equal(MtaStsMode.Testing, policy.Mode);
        Assert.Equal(TimeSpan.FromDays(1), policy.MaxAge);
        Assert.Equal(new[] { "mail.postern.test" }, policy.Mx);

        // `config dnsrecords` announces exactly this policy's id, and prints the records for real.
        var records = Cli.Run("config", "dnsrecords", "postern.test", "--config", conf);
        Assert.True(records.ExitCode == 0, records.Stderr);
        var id = Regex.Match(records.Stdout, "\n_mta-sts\\.postern\\.test\\. IN TXT \"v=STSv1; id=([0-9a-z]+)\"");
        Assert.True(id.Success, records.Stdout);
        Assert.Equal(MtaStsPolicyFile.Id(policy), id.Groups[1].Value);
        Assert.Contains("\nautoconfig.postern.test. IN CNAME mail.postern.test.", records.Stdout, StringComparison.Ordinal);

        // Thunderbird autoconfig at autoconfig.postern.test, on the issued certificate.
        using (var served = AcmeServeTests.ServedCertificate(https, "autoconfig.postern.test"))
        {
            Assert.True(served.MatchesHostname("autoconfig.postern.test"));
            Assert.True(served.MatchesHostname("autodiscover.postern.test"));
            Assert.NotEqual(served.Subject, served.Issuer);
        }
        using (var http = TrustingClient(root))
        {
            var xml = XDocument.Parse(await http.GetStringAsync(new Uri($"https://autoconfig.postern.test:{https}/mail/config-v1.1.xml")));
            var imap = xml.Root!.Element("emailProvider")!.Elements("incomingServer").First();
            Assert.Equal(imaps.ToString(System.Globalization.CultureInfo.InvariantCulture), imap.Element("port")!.Value);
            Assert.Equal("mail.postern.test", imap.Element("hostname")!.Value);
        }

        var stop = Cli.Run("stop", "--config", conf);
        Assert.True(stop.ExitCode == 0, stop.Stderr);
        Assert.True(serve.WaitForExit(30_000), serve.Log);
        Assert.Equal(0, serve.Process.ExitCode);
    }

    private static HttpClient TrustingClient(X509Certificate2 root)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (ctx, ct) =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(IPAddress.Loopback, ctx.DnsEndPoint.Port, ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, sent, errors) =>
        {
            if (cert is null || (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            if (sent is not null) chain.ChainPolicy.ExtraStore.AddRange(sent.ChainPolicy.ExtraStore); // the intermediates the server sent
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    [Fact]
    public void Web_listener_configuration_errors_are_named()
    {
        var e = Assert.Throws<Postern.Config.ConfigException>(() => Postern.Config.ConfigLoader.Parse("""
            hostname: mail.test
            listeners:
              a:
                ips: [127.0.0.1]
                imaps: {enabled: true, port: 443}
                https: {enabled: true, port: 443}
            mta-sts:
              max-age-seconds: 99999999
            """, "t.conf"));
        Assert.Contains(e.Errors, x => x.Contains("listeners.a.https.port: 127.0.0.1 port 443 is already used by listeners.a.imaps", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Contains("mta-sts.max-age-seconds: must be between 0 and 31557600", StringComparison.Ordinal));
    }
}
