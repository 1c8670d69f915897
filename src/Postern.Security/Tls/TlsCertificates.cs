using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Security.Tls;

/// <summary>Options for <see cref="TlsCertificates.CreateSelfSigned"/>.</summary>
public sealed record SelfSignedCertificateOptions
{
    /// <summary>DNS names for the subjectAltName; the first is also the subject CN.</summary>
    public IReadOnlyList<string> DnsNames { get; init; } = ["localhost"];
    /// <summary>IP addresses for the subjectAltName.</summary>
    public IReadOnlyList<IPAddress> IPAddresses { get; init; } = [IPAddress.Loopback, IPAddress.IPv6Loopback];
    /// <summary>Validity period from now.</summary>
    public TimeSpan Validity { get; init; } = TimeSpan.FromDays(365);
    /// <summary>Key type: ECDSA P-256 (default) or RSA-2048.</summary>
    public CertificateKeyType KeyType { get; init; } = CertificateKeyType.EcdsaP256;
}

/// <summary>Key algorithm of a generated certificate.</summary>
public enum CertificateKeyType
{
    /// <summary>ECDSA on NIST P-256 with SHA-256.</summary>
    EcdsaP256,
    /// <summary>RSA 2048 bits with SHA-256 (PKCS#1 v1.5 signatures).</summary>
    Rsa2048,
}

/// <summary>Self-signed certificates and PEM certificate/key files for TLS listeners.</summary>
public static class TlsCertificates
{
    /// <summary>Creates a self-signed server certificate with its private key.</summary>
    public static X509Certificate2 CreateSelfSigned(SelfSignedCertificateOptions? options = null)
    {
        options ??= new SelfSignedCertificateOptions();
        if (options.DnsNames.Count == 0 && options.IPAddresses.Count == 0) throw new ArgumentException("At least one DNS name or IP address is required.", nameof(options));
        string cn = options.DnsNames.Count > 0 ? options.DnsNames[0] : options.IPAddresses[0].ToString();
        var subject = new X500DistinguishedName("CN=" + cn.Replace(",", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal));
        var san = new SubjectAlternativeNameBuilder();
        foreach (string dns in options.DnsNames) san.AddDnsName(dns);
        foreach (IPAddress ip in options.IPAddresses) san.AddIpAddress(ip);

        CertificateRequest request;
        AsymmetricAlgorithm key;
        if (options.KeyType == CertificateKeyType.Rsa2048)
        {
            var rsa = RSA.Create(2048);
            key = rsa;
            request = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        }
        else
        {
            var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            key = ec;
            request = new CertificateRequest(subject, ec, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        }
        using (key)
        {
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            // RFC 5280 §4.2.1.12: id-kp-serverAuth.
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var now = DateTimeOffset.UtcNow;
            using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(options.Validity));
            return MakeUsableBySslStream(cert);
        }
    }

    /// <summary>Writes the certificate (PEM "CERTIFICATE") and its private key (PEM PKCS#8 "PRIVATE KEY", mode 0600 on Unix).</summary>
    public static void SavePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        string keyPem = certificate.GetECDsaPrivateKey() is { } ec ? ec.ExportPkcs8PrivateKeyPem()
            : certificate.GetRSAPrivateKey() is { } rsa ? rsa.ExportPkcs8PrivateKeyPem()
            : throw new ArgumentException("Certificate has no exportable ECDSA or RSA private key.", nameof(certificate));
        WriteAtomically(keyPath, keyPem, secret: true);
        WriteAtomically(certificatePath, certificate.ExportCertificatePem() + "\n", secret: false);
    }

    /// <summary>
    /// Loads a PEM certificate (chain allowed, leaf first) and PEM private key into a certificate usable
    /// as an SslStream server certificate.
    /// </summary>
    public static X509Certificate2 LoadPem(string certificatePath, string keyPath)
    {
        using var cert = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        return MakeUsableBySslStream(cert);
    }

    /// <summary>Loads all certificates of a PEM file (e.g. the chain to send after the leaf).</summary>
    public static X509Certificate2Collection LoadPemChain(string certificatePath)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(certificatePath);
        return collection;
    }

    // A key created in memory or read from PEM is "ephemeral"; SslStream on Windows cannot use such
    // keys, and on Linux it works but the round trip through PKCS#12 gives one uniform kind of object
    // on every platform, which is what localserve (also on macOS/Windows) needs.
    private static X509Certificate2 MakeUsableBySslStream(X509Certificate2 cert)
    {
        byte[] pfx = cert.Export(X509ContentType.Pkcs12);
        try
        {
            return X509CertificateLoader.LoadPkcs12(pfx, null, X509KeyStorageFlags.Exportable);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pfx);
        }
    }

    private static void WriteAtomically(string path, string content, bool secret)
    {
        string tmp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows() && secret) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var fs = new FileStream(tmp, options))
        {
            using var writer = new StreamWriter(fs);
            writer.Write(content);
            writer.Flush();
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
