using System.Net;
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
        Assert.Equal([TlsChannelBinding.TlsServerEndPoint], TlsChannelBinding.AvailableTypes(tls.Server));
        byte[]? s = TlsChannelBinding.Get(tls.Server, TlsChannelBinding.TlsServerEndPoint);
        byte[]? c = TlsChannelBinding.Get(tls.Client, TlsChannelBinding.TlsServerEndPoint);
        Assert.NotNull(s);
        Assert.Equal(s, c);
        // RFC 5929 §4.1: ECDSA-SHA256 certificate → SHA-256 of the DER certificate.
        Assert.Equal(SHA256.HashData(LoopbackTls.Certificate.RawData), s);
        Assert.Null(TlsChannelBinding.Get(tls.Server, TlsChannelBinding.TlsExporter));
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
