using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml.Linq;
using Postern.Dns;
using Postern.Security.Acme;
using Postern.Security.MtaSts;
using Postern.Security.Tls;

namespace Postern.Web.Tests;

/// <summary>A web listener on loopback with certificates for the example.org names, shared by the tests.</summary>
public sealed class WebServerFixture : IAsyncLifetime
{
    public const string Domain = "example.org";
    public const string HostName = "mail.example.org";

    public X509Certificate2 HostCertificate { get; } = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = [HostName] });
    public X509Certificate2 WebCertificate { get; } = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions
    {
        DnsNames = ["mta-sts." + Domain, "autoconfig." + Domain, "autodiscover." + Domain],
    });
    public Http01ChallengeResponder Http01 { get; } = new();
    public TlsAlpn01ChallengeResponder TlsAlpn01 { get; } = new();
    public MtaStsPolicy Policy { get; } = new(MtaStsMode.Enforce, TimeSpan.FromDays(7), [HostName]);
    public WebServer Server { get; private set; } = null!;
    public LineLogger Log { get; } = new();
    public int HttpsPort { get; private set; }
    public int HttpPort { get; private set; }

    public async Task InitializeAsync()
    {
        Http01.Add(HostName, "token-1", "token-1.thumbprint");
        TlsAlpn01.Add(HostName, "token-2", "token-2.thumbprint");
        Server = new WebServer(new WebServerOptions
        {
            HttpsEndPoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            HttpEndPoints = [new IPEndPoint(IPAddress.Loopback, 0)],
            CertificateSelector = name => name is not null && name.StartsWith("mail.", StringComparison.Ordinal) ? HostCertificate : name is null ? HostCertificate : WebCertificate,
            Http01 = Http01,
            TlsAlpn01 = TlsAlpn01,
            RequestHeadersTimeout = TimeSpan.FromSeconds(3),
            Content = new MailSiteContent
            {
                IsLocalDomain = (d, _) => ValueTask.FromResult(d == Domain),
                MtaStsPolicy = Policy,
                ClientSettings = new MailClientSettings(HostName, 993, 143, 465, 587),
                ServerHostNames = [HostName],
            },
        }, Log);
        await Server.StartAsync();
        HttpsPort = Server.BoundEndPoints.Single(b => b.Scheme == "https").EndPoint.Port;
        HttpPort = Server.BoundEndPoints.Single(b => b.Scheme == "http").EndPoint.Port;
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        HostCertificate.Dispose();
        WebCertificate.Dispose();
    }

    /// <summary>An HTTPS client that connects every name to the loopback listener and trusts the test certificates.</summary>
    public HttpClient Client(bool checkName = true)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = async (ctx, ct) =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(IPAddress.Loopback, ctx.DnsEndPoint.Port, ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        var trusted = new[] { HostCertificate.Thumbprint, WebCertificate.Thumbprint };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            cert is not null && trusted.Contains(cert.GetCertHashString()) && (!checkName || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0);
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Https(string host, string pathAndQuery) => new($"https://{host}:{HttpsPort}{pathAndQuery}");
}

/// <summary>Collects the server's log lines, for failure messages.</summary>
public sealed class LineLogger : Microsoft.Extensions.Logging.ILogger
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public string Text => string.Join("\n", _lines);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
}

public class WebServerTests(WebServerFixture web) : IClassFixture<WebServerFixture>
{
    private const string Domain = WebServerFixture.Domain;

    [Fact]
    public async Task The_mta_sts_policy_is_fetched_by_postern_own_client_and_follows_rfc_8461()
    {
        // Postern's MTA-STS client (the one outgoing delivery uses): SNI mta-sts.example.org, verified certificate, no redirects.
        using var client = new MtaStsClient(new InMemoryDnsResolver(new DnsZone()), new InMemoryMtaStsPolicyCache(), new MtaStsFetchOptions
        {
            Port = web.HttpsPort,
            TrustedRoots = [web.WebCertificate],
            ResolveHost = (_, _) => ValueTask.FromResult<IReadOnlyList<IPAddress>>([IPAddress.Loopback]),
        });
        var (policy, error) = await client.FetchPolicyAsync(Domain, CancellationToken.None);
        Assert.True(policy is not null, error);
        Assert.Equal(MtaStsMode.Enforce, policy.Mode);
        Assert.Equal(TimeSpan.FromDays(7), policy.MaxAge);
        Assert.Equal(new[] { WebServerFixture.HostName }, policy.Mx);
        Assert.True(policy.AllowsMx(WebServerFixture.HostName));
        Assert.Equal(MtaStsPolicyFile.Id(web.Policy), MtaStsPolicyFile.Id(policy));

        // The raw response, by the rules of RFC 8461 §3.2/§3.3.
        using var http = web.Client();
        using var response = await http.GetAsync(web.Https("mta-sts." + Domain, "/.well-known/mta-sts.txt"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.False(response.Headers.Contains("Server"));
        string body = await response.Content.ReadAsStringAsync();
        string[] lines = body.Split("\r\n");
        Assert.Equal("", lines[^1]); // every line ends with CRLF
        Assert.Equal("version: STSv1", lines[0]); // version first
        Assert.Contains("mode: enforce", lines);
        Assert.Contains("mx: mail.example.org", lines);
        Assert.Contains(lines, l => l.StartsWith("max_age: ", StringComparison.Ordinal) && long.Parse(l[9..], System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 31557600);
        Assert.All(lines[..^1], l => Assert.Matches("^[a-z_]+: [!-~]+$", l));
        Assert.True(Encoding.UTF8.GetByteCount(body) < MtaStsPolicy.MaxSize);
    }

    [Theory]
    [InlineData("mta-sts.other.org", "/.well-known/mta-sts.txt")]
    [InlineData("mail.example.org", "/.well-known/mta-sts.txt")]
    [InlineData("mta-sts.example.org", "/")]
    [InlineData("mta-sts.example.org", "/.well-known/mta-sts.txt/../../etc/passwd")]
    [InlineData("autoconfig.other.org", "/mail/config-v1.1.xml")]
    [InlineData("autoconfig.example.org", "/favicon.ico")]
    public async Task Unknown_hosts_and_paths_are_404(string host, string path)
    {
        using var http = web.Client(checkName: false); // other.org has no certificate here
        using var response = await http.GetAsync(web.Https(host, path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Plain_http_serves_only_acme_http01()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{web.HttpPort}/.well-known/mta-sts.txt");
        request.Headers.Host = "mta-sts." + Domain;
        using (var r = await http.SendAsync(request)) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{web.HttpPort}/.well-known/acme-challenge/token-1");
        request.Headers.Host = WebServerFixture.HostName;
        using (var r = await http.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("token-1.thumbprint", await r.Content.ReadAsStringAsync());
            Assert.False(r.Headers.Contains("Server"));
        }
        using (var r = await http.GetAsync(new Uri($"http://127.0.0.1:{web.HttpPort}/.well-known/acme-challenge/unknown"))) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await http.GetAsync(new Uri($"http://127.0.0.1:{web.HttpPort}/mail/config-v1.1.xml"))) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [Theory]
    [InlineData("autoconfig.example.org", "/mail/config-v1.1.xml?emailaddress=you%40example.org")]
    [InlineData("autoconfig.example.org", "/.well-known/autoconfig/mail/config-v1.1.xml")]
    [InlineData("mail.example.org", "/mail/config-v1.1.xml?emailaddress=you%40example.org")]
    public async Task Thunderbird_autoconfig_lists_implicit_tls_first(string host, string path)
    {
        using var http = web.Client();
        using var response = await http.GetAsync(web.Https(host, path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType!.MediaType);
        var doc = XDocument.Parse(await response.Content.ReadAsStringAsync());
        var provider = doc.Root!.Element("emailProvider")!;
        Assert.Equal("1.1", doc.Root.Attribute("version")!.Value);
        Assert.Equal(Domain, provider.Attribute("id")!.Value);
        Assert.Equal(Domain, provider.Element("domain")!.Value);
        var incoming = provider.Elements("incomingServer").ToList();
        Assert.Equal(new[] { ("imap", "993", "SSL"), ("imap", "143", "STARTTLS") }, incoming.Select(s => (s.Attribute("type")!.Value, s.Element("port")!.Value, s.Element("socketType")!.Value)));
        var outgoing = provider.Elements("outgoingServer").ToList();
        Assert.Equal(new[] { ("smtp", "465", "SSL"), ("smtp", "587", "STARTTLS") }, outgoing.Select(s => (s.Attribute("type")!.Value, s.Element("port")!.Value, s.Element("socketType")!.Value)));
        Assert.All(incoming.Concat(outgoing), s =>
        {
            Assert.Equal(WebServerFixture.HostName, s.Element("hostname")!.Value);
            Assert.Equal("%EMAILADDRESS%", s.Element("username")!.Value);
        });
    }

    private static string AutodiscoverRequest(string email) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
          <Request>
            <EMailAddress>{email}</EMailAddress>
            <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
          </Request>
        </Autodiscover>
        """;

    [Fact]
    public async Task Outlook_autodiscover_answers_a_post_with_imap_and_smtp_settings()
    {
        using var http = web.Client();
        using var response = await http.PostAsync(web.Https("autodiscover." + Domain, "/Autodiscover/Autodiscover.xml"),
            new StringContent(AutodiscoverRequest("you@example.org"), Encoding.UTF8, "text/xml"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = XDocument.Parse(await response.Content.ReadAsStringAsync());
        XNamespace r = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
        XNamespace a = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
        Assert.Equal(r + "Autodiscover", doc.Root!.Name);
        var account = doc.Root.Element(a + "Response")!.Element(a + "Account")!;
        Assert.Equal("email", account.Element(a + "AccountType")!.Value);
        var protocols = account.Elements(a + "Protocol").ToDictionary(p => p.Element(a + "Type")!.Value);
        Assert.Equal("993", protocols["IMAP"].Element(a + "Port")!.Value);
        Assert.Equal("465", protocols["SMTP"].Element(a + "Port")!.Value);
        Assert.Equal("SSL", protocols["SMTP"].Element(a + "Encryption")!.Value);
        Assert.Equal("you@example.org", protocols["IMAP"].Element(a + "LoginName")!.Value);
        Assert.Equal(WebServerFixture.HostName, protocols["IMAP"].Element(a + "Server")!.Value);

        // Another domain's address, a GET, and a body that is not a request.
        using (var other = await http.PostAsync(web.Https("autodiscover." + Domain, "/autodiscover/autodiscover.xml"), new StringContent(AutodiscoverRequest("you@other.org"))))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using (var get = await http.GetAsync(web.Https("autodiscover." + Domain, "/autodiscover/autodiscover.xml")))
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        using (var junk = await http.PostAsync(web.Https("autodiscover." + Domain, "/autodiscover/autodiscover.xml"), new StringContent("<html>")))
            Assert.Equal(HttpStatusCode.BadRequest, junk.StatusCode);
    }

    [Fact]
    public async Task Autodiscover_refuses_external_entities_and_large_bodies()
    {
        using var http = web.Client();
        string path = Path.Combine(Path.GetTempPath(), "postern-xxe-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "secret@example.org");
        try
        {
            string xxe = $"""
                <?xml version="1.0"?>
                <!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "file://{path}">]>
                <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>
                """;
            using var response = await http.PostAsync(web.Https("autodiscover." + Domain, "/autodiscover/autodiscover.xml"), new StringContent(xxe));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.DoesNotContain("secret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
        // Over the 16 KiB limit: announced by Content-Length (refused before any body byte is read),
        // and chunked (refused once the limit is passed). Raw HTTP/1.1, so that the client does not
        // race the server's early answer with its own upload.
        Assert.StartsWith("HTTP/1.1 413 ", await RawPostAsync("Content-Length: 100000\r\n\r\n"), StringComparison.Ordinal);
        string chunk = new string(' ', 16_385);
        Assert.StartsWith("HTTP/1.1 413 ", await RawPostAsync($"Transfer-Encoding: chunked\r\n\r\n{chunk.Length:x}\r\n{chunk}\r\n"), StringComparison.Ordinal);
    }

    private async Task<string> RawPostAsync(string rest)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
        await using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "autodiscover." + Domain, ApplicationProtocols = [SslApplicationProtocol.Http11] });
        await ssl.WriteAsync(Encoding.ASCII.GetBytes("POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.example.org\r\nContent-Type: text/xml\r\n" + rest));
        var buffer = new byte[4096];
        int n = await ssl.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public async Task Apple_profile_is_a_plist_with_the_account()
    {
        using var http = web.Client();
        using var response = await http.GetAsync(web.Https("autoconfig." + Domain, "/apple.mobileconfig?emailaddress=you%40example.org"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-apple-aspen-config", response.Content.Headers.ContentType!.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        var doc = XDocument.Parse(text);
        var values = doc.Descendants("key").ToDictionary(k => k.Value + "#" + k.ElementsBeforeSelf().Count(), k => ((XElement)k.NextNode!).Value);
        Assert.Contains(values, kv => kv.Key.StartsWith("EmailAddress#", StringComparison.Ordinal) && kv.Value == "you@example.org");
        Assert.Contains(values, kv => kv.Key.StartsWith("IncomingMailServerPortNumber#", StringComparison.Ordinal) && kv.Value == "993");
        Assert.Contains(values, kv => kv.Key.StartsWith("PayloadType#", StringComparison.Ordinal) && kv.Value == "com.apple.mail.managed");
        // The same profile each time (same UUIDs), so that a second download replaces the first.
        Assert.Equal(text, await http.GetStringAsync(web.Https("autoconfig." + Domain, "/apple.mobileconfig?emailaddress=you%40example.org")));
        using var other = await http.GetAsync(web.Https("autoconfig." + Domain, "/apple.mobileconfig?emailaddress=you%40other.org"));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task Certificates_are_chosen_by_sni()
    {
        using var hostCert = await ServedCertificateAsync(WebServerFixture.HostName, "http/1.1");
        Assert.Equal(web.HostCertificate.Thumbprint, hostCert.Thumbprint);
        using var webCert = await ServedCertificateAsync("mta-sts." + Domain, "h2");
        Assert.Equal(web.WebCertificate.Thumbprint, webCert.Thumbprint);
    }

    private async Task<X509Certificate2> ServedCertificateAsync(string sni, string alpn)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
        await using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni, ApplicationProtocols = [new SslApplicationProtocol(alpn)] });
        return X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
    }

    [Fact]
    public async Task Tls_alpn_01_validation_gets_the_challenge_certificate_on_the_https_port()
    {
        // RFC 8737 §3: SNI = the name, ALPN = only acme-tls/1.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
            await using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
            try
            {
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = WebServerFixture.HostName, ApplicationProtocols = [TlsAlpn01ChallengeResponder.AcmeTls1] });
            }
            catch (IOException e)
            {
                Assert.Fail(e.Message + "\nserver log:\n" + web.Log.Text);
            }
            Assert.Equal(TlsAlpn01ChallengeResponder.AcmeTls1, ssl.NegotiatedApplicationProtocol);
            using var cert = X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
            var ext = cert.Extensions[TlsAlpn01ChallengeResponder.AcmeIdentifierOid];
            Assert.NotNull(ext);
            Assert.True(ext.Critical);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData("token-2.thumbprint"u8), ext.RawData[2..]);
        }
        // acme-tls/1 for a name without a pending challenge: no handshake at all (never the ordinary certificate).
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
            await using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
            await Assert.ThrowsAnyAsync<Exception>(() => ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mta-sts." + Domain, ApplicationProtocols = [TlsAlpn01ChallengeResponder.AcmeTls1] }));
        }
        // Ordinary clients on the same port still get HTTPS.
        using var http = web.Client();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(web.Https("mta-sts." + Domain, "/.well-known/mta-sts.txt"))).StatusCode);
    }

    [Fact]
    public async Task Huge_request_lines_and_headers_are_refused()
    {
        using var http = web.Client();
        using (var r = await http.GetAsync(web.Https("mta-sts." + Domain, "/" + new string('a', 10_000))))
            Assert.Equal(HttpStatusCode.RequestUriTooLong, r.StatusCode);
        var request = new HttpRequestMessage(HttpMethod.Get, web.Https("mta-sts." + Domain, "/.well-known/mta-sts.txt"));
        for (int i = 0; i < 10; i++) request.Headers.Add("X-Big-" + i, new string('b', 4000));
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }

    /// <summary>Reads until the server closes; false if it is still open when the guard (far above the 2 s limit) runs out.</summary>
    private static async Task<bool> ClosedByServerAsync(Stream stream, Func<Task>? trickle)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[4096];
        var read = Task.Run(async () =>
        {
            try
            {
                while (await stream.ReadAsync(buffer, guard.Token) > 0) { }
                return true;
            }
            catch (IOException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        });
        if (trickle is not null)
        {
            while (!read.IsCompleted && !guard.IsCancellationRequested)
            {
                try { await trickle(); } catch (IOException) { break; }
                await Task.WhenAny(read, Task.Delay(500));
            }
        }
        return await read;
    }

    [Fact]
    public async Task Slow_clients_are_cut_off_before_and_after_the_handshake()
    {
        // Slowloris on plain HTTP: a header byte every half second never completes the request.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpPort);
            var s = client.GetStream();
            await s.WriteAsync("GET /.well-known/acme-challenge/token-1 HTTP/1.1\r\nHost: x\r\n"u8.ToArray());
            Assert.True(await ClosedByServerAsync(s, () => s.WriteAsync("X"u8.ToArray()).AsTask()));
        }
        // A TCP connection to the HTTPS port that never sends a ClientHello.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
            Assert.True(await ClosedByServerAsync(client.GetStream(), null));
        }
        // Half a ClientHello.
        byte[] hello = await TlsClientHelloTests.CaptureClientHelloAsync("mta-sts." + Domain, "http/1.1");
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
            await client.GetStream().WriteAsync(hello.AsMemory(0, hello.Length / 2));
            Assert.True(await ClosedByServerAsync(client.GetStream(), null));
        }
        // After the handshake, headers one byte at a time.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, web.HttpsPort);
            await using var ssl = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mta-sts." + Domain, ApplicationProtocols = [SslApplicationProtocol.Http11] });
            await ssl.WriteAsync("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.org\r\n"u8.ToArray());
            Assert.True(await ClosedByServerAsync(ssl, () => ssl.WriteAsync("X"u8.ToArray()).AsTask()));
        }
    }
}
