using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Smtp.Client;
using Postern.Smtp.Tests.Server;
using static Postern.Smtp.Tests.Client.ClientTestSupport;

namespace Postern.Smtp.Tests.Client;

/// <summary>Smarthost and relay transports against Postern's own SMTP server, directly and through SOCKS5.</summary>
public class SmarthostTests
{
    private static SmarthostOptions Options(SmtpTestServer server, SmarthostTlsMode mode, int port, string? user = "alice", IConnectionDialer? dialer = null) => new()
    {
        Name = "provider",
        Host = "localhost",
        Port = port,
        Tls = mode,
        UserName = user,
        Password = SmtpTestServer.Password,
        // The test server's self-signed certificate for "localhost" stands for a private CA.
        Verifier = new SystemCaVerifier(new X509Certificate2Collection(X509CertificateLoader.LoadCertificate(server.Server.Options.Certificate!.RawData))),
        Dialer = dialer ?? new LoopbackDialer(),
        Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = ShortTimeouts },
    };

    private static OutboundRequest ToBob(string subject) =>
        Request(Encoding.UTF8.GetBytes($"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\r\nHi Bob.\r\n"), ["bob@example.org"], from: "alice@example.org", domain: "example.org");

    [Fact]
    public async Task Submission_with_starttls_and_scram_auth()
    {
        await using var server = await SmtpTestServer.StartAsync();
        var transport = new SmarthostTransport(Options(server, SmarthostTlsMode.StartTls, server.SubmissionPort));
        OutboundResult r = await transport.DeliverAsync(ToBob("via smarthost 587"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used && r.Tls.CertificateVerified, r.Tls.ToString());
        Assert.Equal("provider", r.Transport);
        Assert.Contains(await server.MessagesAsync("bob"), m => m.Contains("Subject: via smarthost 587", StringComparison.Ordinal) && m.Contains("ESMTPSA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Submissions_with_implicit_tls()
    {
        await using var server = await SmtpTestServer.StartAsync();
        var transport = new SmarthostTransport(Options(server, SmarthostTlsMode.Implicit, server.SubmissionsPort));
        OutboundResult r = await transport.DeliverAsync(ToBob("via smarthost 465"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.True(r.Tls.Used && r.Tls.CertificateVerified);
        Assert.Single(await server.MessagesAsync("bob"));
    }

    [Fact]
    public async Task A_wrong_password_is_a_temporary_failure()
    {
        await using var server = await SmtpTestServer.StartAsync();
        var transport = new SmarthostTransport(Options(server, SmarthostTlsMode.StartTls, server.SubmissionPort) with { Password = "wrong" });
        OutboundResult r = await transport.DeliverAsync(ToBob("wrong password"), CancellationToken.None);
        Assert.False(r.Recipients[0].Delivered);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Contains("AUTH", r.Recipients[0].Text);
    }

    [Fact]
    public async Task Plain_is_not_used_without_tls()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior { Extensions = ["AUTH PLAIN LOGIN"] });
        var transport = new SmarthostTransport(new SmarthostOptions
        {
            Host = "127.0.0.1", Port = peer.Port, Tls = SmarthostTlsMode.None, UserName = "u", Password = "p",
            Client = new SmtpClientOptions { Timeouts = ShortTimeouts },
        });
        OutboundResult r = await transport.DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.False(r.Recipients[0].Delivered);
        Assert.Contains("PLAIN is used only over TLS", r.Recipients[0].Text);
        Assert.DoesNotContain(peer.Transcript, l => l.StartsWith("AUTH", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plain_relay_without_auth()
    {
        await using var server = await SmtpTestServer.StartAsync();
        var transport = new SmarthostTransport(Options(server, SmarthostTlsMode.None, server.MxPort, user: null) with { Host = "127.0.0.1" });
        OutboundResult r = await transport.DeliverAsync(ToBob("via relay"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.False(r.Tls.Used);
        Assert.Single(await server.MessagesAsync("bob"));
    }

    [Fact]
    public async Task Smarthost_and_direct_delivery_through_a_socks5_proxy_with_password()
    {
        await using var server = await SmtpTestServer.StartAsync();
        await using var proxy = Socks5TestProxy.Start("proxyuser", "proxypass");
        var socks = new Socks5Dialer("127.0.0.1", proxy.Port, "proxyuser", "proxypass");
        var transport = new SmarthostTransport(Options(server, SmarthostTlsMode.StartTls, server.SubmissionPort, dialer: socks));
        OutboundResult r = await transport.DeliverAsync(ToBob("via socks"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains($"localhost:{server.SubmissionPort}", proxy.Requests);

        var direct = new DirectTransport(new MxResolver(ClientTestSupport.Dns()), new DirectTransportOptions { Port = server.MxPort, Dialer = socks, Client = new SmtpClientOptions { Timeouts = ShortTimeouts } });
        r = await direct.DeliverAsync(ToBob("direct via socks") with { RecipientDomain = Domain }, CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains($"127.0.0.1:{server.MxPort}", proxy.Requests);
        Assert.Equal(2, (await server.MessagesAsync("bob")).Count);
    }

    [Fact]
    public async Task A_socks5_proxy_refusing_the_password_is_a_temporary_failure()
    {
        await using var proxy = Socks5TestProxy.Start("proxyuser", "proxypass");
        var transport = new SmarthostTransport(new SmarthostOptions
        {
            Host = "127.0.0.1", Port = 25, Tls = SmarthostTlsMode.None,
            Dialer = new Socks5Dialer("127.0.0.1", proxy.Port, "proxyuser", "nope"),
            Client = new SmtpClientOptions { Timeouts = ShortTimeouts },
        });
        OutboundResult r = await transport.DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Contains("refused the user name and password", r.Recipients[0].Text);
    }

    [Fact]
    public async Task Routes_choose_by_sender_recipient_and_attempt()
    {
        var a = new NamedTransport("a");
        var b = new NamedTransport("b");
        var c = new NamedTransport("c");
        var d = new NamedTransport("default");
        var router = new TransportRouter(
        [
            new OutboundRoute(a, ["origin.test"], [".example.test"]),
            new OutboundRoute(b, [], ["example.test"], MinimumAttempt: 3),
            new OutboundRoute(c, ["other.test"], []),
        ], d);
        string Pick(string from, string domain, int attempt) =>
            ((NamedTransport)router.Choose(Request(Encoding.ASCII.GetBytes("x"), ["x@" + domain], from: from, domain: domain, attempt: attempt))).Name;
        Assert.Equal("a", Pick("s@origin.test", "sub.example.test", 1));
        Assert.Equal("default", Pick("s@origin.test", "example.test", 1));
        Assert.Equal("b", Pick("s@origin.test", "example.test", 3));
        Assert.Equal("c", Pick("s@other.test", "elsewhere.test", 1));
        Assert.Equal("default", Pick("s@third.test", "elsewhere.test", 9));
        OutboundResult r = await router.DeliverAsync(Request(Encoding.ASCII.GetBytes("x"), ["x@e.test"], from: "s@other.test", domain: "e.test"), CancellationToken.None);
        Assert.Equal("c", r.Transport);
    }

    private sealed class NamedTransport(string name) : IOutboundTransport
    {
        public string Name => name;

        public Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken) =>
            Task.FromResult(new OutboundResult([], null, null, TlsOutcome.None, name, ""));
    }

    /// <summary>Connects to names through the system resolver but only to IPv4 loopback (the test server listens there).</summary>
    private sealed class LoopbackDialer : IConnectionDialer
    {
        public bool ResolvesNames => true;

        public Task<Stream> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken) =>
            DirectDialer.Instance.ConnectAsync(host == "localhost" ? "127.0.0.1" : host, port, timeout, cancellationToken);
    }
}

/// <summary>A minimal SOCKS5 server (RFC 1928 CONNECT, RFC 1929 user name/password) on loopback that records what it was asked to reach.</summary>
public sealed class Socks5TestProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _user, _password;
    private Task _accept = Task.CompletedTask;

    private Socks5TestProxy(string user, string password)
    {
        _user = user;
        _password = password;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public System.Collections.Concurrent.ConcurrentQueue<string> Requests { get; } = new();

    public static Socks5TestProxy Start(string user, string password)
    {
        var p = new Socks5TestProxy(user, password);
        p._listener.Start();
        p._accept = p.AcceptAsync();
        return p;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient c;
            try
            {
                c = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(c));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream s = client.GetStream();
                byte[] head = new byte[2];
                await s.ReadExactlyAsync(head);
                byte[] methods = new byte[head[1]];
                await s.ReadExactlyAsync(methods);
                if (!methods.Contains((byte)2)) { await s.WriteAsync(new byte[] { 5, 0xff }); return; }
                await s.WriteAsync(new byte[] { 5, 2 });
                byte[] ver = new byte[2];
                await s.ReadExactlyAsync(ver);
                byte[] user = new byte[ver[1]];
                await s.ReadExactlyAsync(user);
                byte[] plen = new byte[1];
                await s.ReadExactlyAsync(plen);
                byte[] pass = new byte[plen[0]];
                await s.ReadExactlyAsync(pass);
                bool ok = Encoding.UTF8.GetString(user) == _user && Encoding.UTF8.GetString(pass) == _password;
                await s.WriteAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 });
                if (!ok) return;
                byte[] req = new byte[4];
                await s.ReadExactlyAsync(req);
                string host;
                if (req[3] == 1) { byte[] a = new byte[4]; await s.ReadExactlyAsync(a); host = new IPAddress(a).ToString(); }
                else if (req[3] == 4) { byte[] a = new byte[16]; await s.ReadExactlyAsync(a); host = new IPAddress(a).ToString(); }
                else { byte[] l = new byte[1]; await s.ReadExactlyAsync(l); byte[] n = new byte[l[0]]; await s.ReadExactlyAsync(n); host = Encoding.ASCII.GetString(n); }
                byte[] portBytes = new byte[2];
                await s.ReadExactlyAsync(portBytes);
                int port = portBytes[0] << 8 | portBytes[1];
                Requests.Enqueue($"{host}:{port}");
                using var target = new TcpClient();
                try
                {
                    await target.ConnectAsync(host == "localhost" ? "127.0.0.1" : host, port);
                }
                catch (SocketException)
                {
                    await s.WriteAsync(new byte[] { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 });
                    return;
                }
                await s.WriteAsync(new byte[] { 5, 0, 0, 1, 127, 0, 0, 1, 0, 0 });
                NetworkStream t = target.GetStream();
                Task up = s.CopyToAsync(t, _stop.Token).ContinueWith(_ => target.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
                Task down = t.CopyToAsync(s, _stop.Token).ContinueWith(_ => client.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
                await Task.WhenAll(up, down);
            }
            catch (Exception)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        _stop.Dispose();
    }
}
