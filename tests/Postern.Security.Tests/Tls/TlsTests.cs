using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.RegularExpressions;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Tls;

namespace Postern.Security.Tests.Tls;

public class TlsTests
{
    [Fact]
    public async Task Server_end_point_binding_is_equal_on_both_sides()
    {
        await using var tls = await LoopbackTls.ConnectAsync();
        Assert.Equal([TlsChannelBinding.TlsExporter, TlsChannelBinding.TlsServerEndPoint], TlsChannelBinding.AvailableTypes(tls.Server));
        byte[]? s = TlsChannelBinding.Get(tls.Server, TlsChannelBinding.TlsServerEndPoint);
        byte[]? c = TlsChannelBinding.Get(tls.Client, TlsChannelBinding.TlsServerEndPoint);
        Assert.NotNull(s);
        Assert.Equal(s, c);
        // RFC 5929 §4.1: ECDSA-SHA256 certificate → SHA-256 of the DER certificate.
        Assert.Equal(SHA256.HashData(LoopbackTls.Certificate.RawData), s);
    }

    [Theory]
    [InlineData(SslProtocols.Tls13)]
    [InlineData(SslProtocols.Tls12)]
    public async Task Exporter_binding_is_equal_on_both_sides_and_differs_per_connection(SslProtocols protocol)
    {
        await using var tls = await LoopbackTls.ConnectAsync(protocols: protocol);
        Assert.Equal(protocol, tls.Server.SslProtocol);
        Assert.True(TlsKeyingMaterial.IsSupported);
        // RFC 9266 §2: 32 octets, label EXPORTER-Channel-Binding; on TLS 1.2 only with the
        // extended master secret, which OpenSSL negotiates by default.
        byte[]? s = TlsChannelBinding.Get(tls.Server, TlsChannelBinding.TlsExporter);
        byte[]? c = TlsChannelBinding.Get(tls.Client, TlsChannelBinding.TlsExporter);
        Assert.NotNull(s);
        Assert.Equal(32, s.Length);
        Assert.Equal(s, c);
        await using var other = await LoopbackTls.ConnectAsync(protocols: protocol);
        Assert.NotEqual(s, TlsChannelBinding.Get(other.Server, TlsChannelBinding.TlsExporter));
        // Another label gives other material (RFC 5705 §4).
        Assert.NotEqual(s, TlsKeyingMaterial.Export(tls.Server, "EXPORTER-postern-test", 32));
    }

    [Fact]
    public async Task Exporter_is_null_after_dispose()
    {
        var tls = await LoopbackTls.ConnectAsync();
        await tls.DisposeAsync();
        Assert.Null(TlsKeyingMaterial.ExportChannelBinding(tls.Server));
    }

    [Fact]
    public async Task Exporter_matches_openssl_s_client()
    {
        // The real peer: OpenSSL's own client prints the exporter output for the same label.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var psi = new ProcessStartInfo("openssl", $"s_client -connect 127.0.0.1:{port} -keymatexport {TlsKeyingMaterial.ChannelBindingLabel} -keymatexportlen 32")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var proc = Process.Start(psi)!;
        using var socket = await listener.AcceptTcpClientAsync();
        await using var server = new SslStream(socket.GetStream(), false);
        await server.AuthenticateAsServerAsync(LoopbackTls.Certificate);
        byte[]? ours = TlsKeyingMaterial.ExportChannelBinding(server);
        proc.StandardInput.Close();
        string output = await proc.StandardOutput.ReadToEndAsync();
        await proc.WaitForExitAsync();
        Match m = Regex.Match(output, "Keying material: ([0-9A-F]+)");
        Assert.True(m.Success, output);
        Assert.Equal(m.Groups[1].Value, Convert.ToHexString(ours!));
    }

    [Fact]
    public void Self_signed_certificate_has_sans_and_key()
    {
        using var cert = TlsCertificates.CreateSelfSigned(new() { DnsNames = ["localhost", "mail.example"], KeyType = CertificateKeyType.Rsa2048 });
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("CN=localhost", cert.Subject);
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["localhost", "mail.example"], san.EnumerateDnsNames());
        Assert.Contains(IPAddress.IPv6Loopback, san.EnumerateIPAddresses());
        Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.True(cert.MatchesHostname("mail.example"));
    }

    [Fact]
    public async Task Pem_roundtrip_gives_a_certificate_SslStream_accepts()
    {
        string dir = Directory.CreateTempSubdirectory("postern-tls-").FullName;
        try
        {
            using var cert = TlsCertificates.CreateSelfSigned();
            string certPath = Path.Combine(dir, "cert.pem"), keyPath = Path.Combine(dir, "key.pem");
            TlsCertificates.SavePem(cert, certPath, keyPath);
            Assert.Contains("BEGIN PRIVATE KEY", File.ReadAllText(keyPath), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            using var loaded = TlsCertificates.LoadPem(certPath, keyPath);
            Assert.Equal(cert.Thumbprint, loaded.Thumbprint);
            Assert.True(loaded.HasPrivateKey);
            await using var tls = await LoopbackTls.ConnectAsync(loaded);
            Assert.True(tls.Client.IsAuthenticated);
            Assert.Equal(loaded.Thumbprint, new X509Certificate2(tls.Client.RemoteCertificate!).Thumbprint);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}

public class ServerEndPointHashTests
{
    [Theory]
    [InlineData("SHA1", 32)]   // RFC 5929 §4.1: MD5/SHA-1 signatures use SHA-256
    [InlineData("SHA256", 32)]
    [InlineData("SHA384", 48)]
    [InlineData("SHA512", 64)]
    public void Hash_follows_the_certificate_signature_algorithm(string hashName, int expectedLength)
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=x", rsa, new HashAlgorithmName(hashName), RSASignaturePadding.Pkcs1);
        using var cert = hashName == "SHA1"
            ? req.Create(new X500DistinguishedName("CN=x"), new Sha1RsaSignatureGenerator(rsa), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1), [1])
            : req.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        if (hashName == "SHA1") Assert.Equal("1.2.840.113549.1.1.5", cert.SignatureAlgorithm.Value);
        byte[] cb = TlsChannelBinding.ComputeServerEndPoint(cert)!;
        Assert.Equal(expectedLength, cb.Length);
        byte[] expected = expectedLength switch { 48 => SHA384.HashData(cert.RawData), 64 => SHA512.HashData(cert.RawData), _ => SHA256.HashData(cert.RawData) };
        Assert.Equal(expected, cb);
    }

    [Fact]
    public void Rsa_pss_certificates_have_no_server_end_point_binding()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=x", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        Assert.Null(TlsChannelBinding.ComputeServerEndPoint(cert));
    }
}

/// <summary>.NET refuses to sign certificates with SHA-1; old certificates in the wild still are.</summary>
internal sealed class Sha1RsaSignatureGenerator(RSA key) : X509SignatureGenerator
{
    // AlgorithmIdentifier { sha1WithRSAEncryption, NULL }
    public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) =>
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00];

    public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) =>
        key.SignData(data, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);

    protected override PublicKey BuildPublicKey() => X509SignatureGenerator.CreateForRSA(key, RSASignaturePadding.Pkcs1).PublicKey;
}
