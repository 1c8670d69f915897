using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Postern.Dns;
using Postern.Dns.Wire;

namespace Postern.Tests;

/// <summary>
/// `postern dane dialmx DOMAIN` against a small DNS server on loopback (a trusted resolver address,
/// so its AD bit counts): errors exit 3 with a message, data is printed host by host.
/// </summary>
public class DaneDialMxCommandTests
{
    /// <summary>A UDP DNS server on 127.0.0.1 answering from a zone; names under <see cref="SignedSuffix"/> get the AD bit, TLSA names in <see cref="ServFail"/> fail.</summary>
    private sealed class ZoneServer : IDisposable
    {
        public const string SignedSuffix = "signed.test";
        private readonly Socket _udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public ZoneServer()
        {
            _udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _loop = Task.Run(LoopAsync);
        }

        public DnsZone Zone { get; } = new();
        public HashSet<string> ServFail { get; } = new(StringComparer.OrdinalIgnoreCase);
        public string Address => ((IPEndPoint)_udp.LocalEndPoint!).ToString();

        private async Task LoopAsync()
        {
            byte[] buffer = new byte[4096];
            while (!_stop.IsCancellationRequested)
            {
                SocketReceiveFromResult r;
                try
                {
                    r = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                if (!DnsMessageReader.TryRead(buffer.AsSpan(0, r.ReceivedBytes), out DnsMessage? query, out _) || query.Questions.Count != 1) continue;
                DnsMessage response = Zone.Answer(query);
                string name = query.Questions[0].Name.TrimEnd('.');
                response.AuthenticData = name.EndsWith(SignedSuffix, StringComparison.OrdinalIgnoreCase);
                if (ServFail.Contains(name))
                {
                    response.ResponseCode = DnsResponseCode.ServFail;
                    response.Answers.Clear();
                    response.Authorities.Clear();
                    response.AuthenticData = false;
                }
                try
                {
                    await _udp.SendToAsync(DnsMessageWriter.Write(response), SocketFlags.None, r.RemoteEndPoint);
                }
                catch (SocketException)
                {
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _udp.Dispose();
            try
            {
                _loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
            _stop.Dispose();
        }
    }

    /// <summary>A loopback port with nothing listening on it.</summary>
    private static int ClosedPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public void Bad_arguments_and_unresolvable_domains_exit_3_with_a_message()
    {
        var badServer = Cli.Run("dane", "dialmx", "example.test", "--server", "not-an-ip");
        Assert.Equal(3, badServer.ExitCode);
        Assert.Contains("invalid server \"not-an-ip\"", badServer.Stderr, StringComparison.Ordinal);

        var badPort = Cli.Run("dane", "dialmx", "example.test", "--server", "127.0.0.1:53", "--port", "0");
        Assert.Equal(3, badPort.ExitCode);
        Assert.Contains("--port must be 1 to 65535", badPort.Stderr, StringComparison.Ordinal);

        using var dns = new ZoneServer();
        dns.Zone.AddMx("nomail.test", 0, ".");
        var nx = Cli.Run("dane", "dialmx", "nowhere.test", "--server", dns.Address);
        Assert.Equal(3, nx.ExitCode);
        Assert.Contains("nowhere.test does not exist (NXDOMAIN)", nx.Stderr, StringComparison.Ordinal);
        var nullMx = Cli.Run("dane", "dialmx", "nomail.test", "--server", dns.Address);
        Assert.Equal(3, nullMx.ExitCode);
        Assert.Contains("accepts no mail (null MX", nullMx.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsigned_domain_is_shown_with_its_mx_hosts_and_no_dane()
    {
        using var dns = new ZoneServer();
        dns.Zone.AddMx("plain.test", 10, "mx1.plain.test");
        dns.Zone.AddMx("plain.test", 20, "mx2.plain.test");
        dns.Zone.AddAddress("mx1.plain.test", IPAddress.Loopback);
        dns.Zone.AddAddress("mx2.plain.test", IPAddress.Loopback);
        var r = Cli.Run("dane", "dialmx", "plain.test", "--server", dns.Address);
        Assert.Equal(2, r.ExitCode); // no DANE for some host
        Assert.Contains("MX plain.test: 10 mx1.plain.test, 20 mx2.plain.test; not DNSSEC-authentic (DANE does not apply to this domain)", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("== mx1.plain.test", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("== mx2.plain.test", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("addresses: 127.0.0.1; not DNSSEC-authentic", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict mx1.plain.test: no DANE", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signed_domain_shows_its_tlsa_records_a_failed_tlsa_lookup_and_an_unreachable_host()
    {
        using var dns = new ZoneServer();
        int port = ClosedPort();
        const string Domain = "mail.signed.test";
        dns.Zone.AddMx(Domain, 10, "mx1.signed.test");
        dns.Zone.AddMx(Domain, 20, "mx2.signed.test");
        dns.Zone.AddAddress("mx1.signed.test", IPAddress.Loopback);
        dns.Zone.AddAddress("mx2.signed.test", IPAddress.Loopback);
        byte[] digest = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        dns.Zone.Add(new TlsaRecord($"_{port}._tcp.mx1.signed.test", 300, 3, 1, 1, digest));
        dns.ServFail.Add($"_{port}._tcp.mx2.signed.test");

        var r = Cli.Run("dane", "dialmx", Domain, "--server", dns.Address, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains($"MX {Domain}: 10 mx1.signed.test, 20 mx2.signed.test; DNSSEC-authentic", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("addresses: 127.0.0.1; DNSSEC-authentic", r.Stdout, StringComparison.Ordinal);
        // mx1: the record is printed, then the dial fails (nothing listens).
        Assert.Contains($"TLSA _{port}._tcp.mx1.signed.test: Success, DNSSEC-authentic", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("TLSA 3 1 1 " + Convert.ToHexStringLower(digest), r.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict mx1.signed.test: connection error", r.Stdout, StringComparison.Ordinal);
        Assert.Contains($"mx1.signed.test:{port}", r.Stderr, StringComparison.Ordinal);
        // mx2: the TLSA lookup fails, so delivery there would be deferred; that is the worst verdict.
        Assert.Contains("verdict mx2.signed.test: TLSA lookup failed: delivery would be deferred (RFC 7672 §2.1.2)", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, r.ExitCode);
    }
    /// <summary>One STARTTLS session on loopback: greeting, EHLO, STARTTLS, the handshake (recording the SNI name), QUIT.</summary>
    private static async Task<string?> StartTlsPeerAsync(TcpListener listener, X509Certificate2 certificate, CancellationToken ct)
    {
        using TcpClient c = await listener.AcceptTcpClientAsync(ct);
        Stream stream = c.GetStream();
        var reader = new StreamReader(stream, Encoding.ASCII);
        async Task Write(string line)
        {
            byte[] b = Encoding.ASCII.GetBytes(line + "\r\n");
            await stream.WriteAsync(b, ct);
        }
        await Write("220 peer.test ESMTP");
        string? sni = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            string verb = line.Split(' ')[0].ToUpperInvariant();
            if (verb == "EHLO") await Write(sni is null ? "250-peer.test\r\n250 STARTTLS" : "250 peer.test");
            else if (verb == "STARTTLS")
            {
                await Write("220 2.0.0 go ahead");
                var ssl = new SslStream(stream);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, ct);
                sni = ssl.TargetHostName ?? "";
                stream = ssl;
                reader = new StreamReader(ssl, Encoding.ASCII);
            }
            else if (verb == "QUIT")
            {
                await Write("221 2.0.0 bye");
                break;
            }
            else await Write("250 ok");
        }
        return sni;
    }

    [Fact]
    public async Task A_cname_mx_host_uses_the_tlsa_records_and_sni_of_the_expanded_name()
    {
        // RFC 7672 §2.2.2-2.2.3: mx.signed.test is an alias of host.signed.test, all signed: the TLSA base domain is the expanded
        // name, which is also the SNI name (§8.1).
        using var dns = new ZoneServer();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 generated = new CertificateRequest("CN=host.signed.test", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using X509Certificate2 cert = X509CertificateLoader.LoadPkcs12(generated.Export(X509ContentType.Pfx), null);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            const string Domain = "cname.signed.test";
            dns.Zone.AddMx(Domain, 10, "mx.signed.test");
            dns.Zone.AddCname("mx.signed.test", "host.signed.test");
            dns.Zone.AddAddress("host.signed.test", IPAddress.Loopback);
            dns.Zone.Add(new TlsaRecord($"_{port}._tcp.host.signed.test", 300, 3, 1, 1, SHA256.HashData(cert.PublicKey.ExportSubjectPublicKeyInfo())));
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            Task<string?> peer = StartTlsPeerAsync(listener, cert, cts.Token);

            var r = await Task.Run(() => Cli.Run("dane", "dialmx", Domain, "--server", dns.Address, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            Assert.Contains("mx.signed.test is an alias of host.signed.test", r.Stdout, StringComparison.Ordinal);
            Assert.Contains($"TLSA _{port}._tcp.host.signed.test: Success, DNSSEC-authentic", r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain($"TLSA _{port}._tcp.mx.signed.test", r.Stdout, StringComparison.Ordinal); // found at the expanded name
            Assert.Contains("TLSA base domain host.signed.test (sent as SNI", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("verdict mx.signed.test: verified", r.Stdout, StringComparison.Ordinal);
            Assert.Equal("host.signed.test", await peer.WaitAsync(cts.Token));
        }
        finally
        {
            listener.Stop();
        }
    }
}
