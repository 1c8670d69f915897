using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Tests;

public class DaneCommandTests
{
    private static string OpenSslPublicKeySha256(string certPath)
    {
        // openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256: the usual recipe for "3 1 1".
        var psi = new ProcessStartInfo("sh") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"openssl x509 -in '{certPath}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r");
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output.Split(' ')[0].Trim();
    }

    [Fact]
    public void Makerecord_matches_openssl_for_certificates_and_keys()
    {
        using var folder = new TempFolder();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 cert = new CertificateRequest("CN=mx.example.org", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(folder.Sub("cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(folder.Sub("key.pem"), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(folder.Sub("pub.pem"), key.ExportSubjectPublicKeyInfoPem());

        string expected = "3 1 1 " + OpenSslPublicKeySha256(folder.Sub("cert.pem"));
        foreach (string file in new[] { "cert.pem", "key.pem", "pub.pem" })
        {
            var r = PosternProcess.Run("dane", "makerecord", "3", "1", "1", folder.Sub(file));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(expected, r.Stdout.Trim());
        }
        var full = PosternProcess.Run("dane", "makerecord", "2", "0", "2", folder.Sub("cert.pem"));
        Assert.Equal("2 0 2 " + Convert.ToHexStringLower(SHA512.HashData(cert.RawData)), full.Stdout.Trim());
    }

    [Fact]
    public void Makerecord_refuses_bad_input_clearly()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("junk.pem"), "not a certificate");
        var junk = PosternProcess.Run("dane", "makerecord", "3", "1", "1", folder.Sub("junk.pem"));
        Assert.Equal(1, junk.ExitCode);
        Assert.Contains("no PEM certificate", junk.Stderr, StringComparison.Ordinal);
        var missing = PosternProcess.Run("dane", "makerecord", "3", "1", "1", folder.Sub("nope.pem"));
        Assert.Equal(1, missing.ExitCode);
        var range = PosternProcess.Run("dane", "makerecord", "3", "4", "1", folder.Sub("junk.pem"));
        Assert.Equal(1, range.ExitCode);
        Assert.Contains("selector 0 or 1", range.Stderr, StringComparison.Ordinal);
    }
}
