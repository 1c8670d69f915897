using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Tls;

namespace Postern.Tests;

/// <summary>The intermediates of a chain file are sent after the leaf (clients do not fetch them).</summary>
public class CertificateChainTests
{
    [Fact]
    public async Task The_selected_context_carries_the_chain_files_intermediates_and_a_handshake_sends_them()
    {
        using var tmp = new TempFolder();
        var now = DateTimeOffset.UtcNow;
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootReq = new CertificateRequest("CN=Test root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootReq.CreateSelfSigned(now.AddHours(-1), now.AddDays(2));
        using var midKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var midReq = new CertificateRequest("CN=Test intermediate", midKey, HashAlgorithmName.SHA256);
        midReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        midReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var midPublic = midReq.Create(root, now.AddHours(-1), now.AddDays(2), [1, 2, 3]);
        using var mid = midPublic.CopyWithPrivateKey(midKey);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafReq = new CertificateRequest("CN=mail.chain.test", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("mail.chain.test");
        leafReq.CertificateExtensions.Add(san.Build());
        using var leaf = leafReq.Create(mid, now.AddHours(-1), now.AddDays(1), [4, 5, 6]);
        File.WriteAllText(tmp.Sub("chain.pem"), leaf.ExportCertificatePem() + "\n" + mid.ExportCertificatePem() + "\n");
        File.WriteAllText(tmp.Sub("key.pem"), leafKey.ExportPkcs8PrivateKeyPem());

        var selector = new CertificateSelector([new CertificateFiles(tmp.Sub("chain.pem"), tmp.Sub("key.pem"))]);
        var context = selector.SelectContext("mail.chain.test");
        Assert.Equal(leaf.Thumbprint, context.TargetCertificate.Thumbprint);
        Assert.Equal(mid.Thumbprint, Assert.Single(context.IntermediateCertificates).Thumbprint);

        // A client that trusts only the root verifies the server's chain without any help.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serverTask = Task.Run(async () =>
        {
            using var c = await listener.AcceptTcpClientAsync();
            using var ssl = new SslStream(c.GetStream());
            await ssl.AuthenticateAsServerAsync((_, hello, _, _) => ValueTask.FromResult(new SslServerAuthenticationOptions { ServerCertificateContext = selector.SelectContext(hello.ServerName) }), null, default);
            await ssl.WriteAsync(new byte[] { 1 });
        });
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        bool verified = false;
        using var clientSsl = new SslStream(client.GetStream(), false, (_, cert, chain, errors) =>
        {
            using var x = new X509Chain();
            x.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            x.ChainPolicy.CustomTrustStore.Add(root);
            x.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // Only what the server sent (the chain built by SslStream from the handshake) is extra.
            foreach (var e in chain!.ChainPolicy.ExtraStore) x.ChainPolicy.ExtraStore.Add(e);
            verified = x.Build(X509CertificateLoader.LoadCertificate(cert!.GetRawCertData()));
            return true;
        });
        await clientSsl.AuthenticateAsClientAsync("mail.chain.test");
        await clientSsl.ReadExactlyAsync(new byte[1]);
        await serverTask;
        Assert.True(verified);
    }
}
