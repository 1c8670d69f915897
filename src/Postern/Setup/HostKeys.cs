// Stable TLS host keys. The server's certificates are always issued for these keys (self-signed
// at quickstart, by ACME later, reused at each renewal), so the TLSA records published for DANE
// (RFC 7671 §5.1: "3 1 1", the SHA-256 of the public key) stay valid across renewals.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Setup;

/// <summary>The host keys in DATA/hostkeys: one ECDSA P-256 and one RSA-2048 key, PKCS#8 PEM, mode 0600.</summary>
internal sealed class HostKeys : IDisposable
{
    public const string Folder = "hostkeys";
    public const string EcdsaFile = "ecdsa-p256.pem";
    public const string RsaFile = "rsa-2048.pem";

    private HostKeys(ECDsa ecdsa, RSA rsa, string folder)
    {
        Ecdsa = ecdsa;
        Rsa = rsa;
        Directory = folder;
    }

    public ECDsa Ecdsa { get; }
    public RSA Rsa { get; }
    public string Directory { get; }
    public string EcdsaPath => Path.Combine(Directory, EcdsaFile);
    public string RsaPath => Path.Combine(Directory, RsaFile);

    /// <summary>Loads the keys of a data folder, creating missing ones.</summary>
    public static HostKeys LoadOrCreate(string dataDirectory)
    {
        string folder = Path.Combine(dataDirectory, Folder);
        System.IO.Directory.CreateDirectory(folder);
        var ecdsa = ECDsa.Create();
        var rsa = RSA.Create();
        string ecPath = Path.Combine(folder, EcdsaFile), rsaPath = Path.Combine(folder, RsaFile);
        if (File.Exists(ecPath)) ecdsa.ImportFromPem(File.ReadAllText(ecPath));
        else
        {
            ecdsa.GenerateKey(ECCurve.NamedCurves.nistP256);
            WritePrivate(ecPath, ecdsa.ExportPkcs8PrivateKeyPem());
        }
        if (File.Exists(rsaPath)) rsa.ImportFromPem(File.ReadAllText(rsaPath));
        else
        {
            rsa.KeySize = 2048;
            WritePrivate(rsaPath, rsa.ExportPkcs8PrivateKeyPem());
        }
        return new HostKeys(ecdsa, rsa, folder);
    }

    /// <summary>Writes a new private key file readable by the owner only, fsynced.</summary>
    public static void WritePrivate(string path, string pem)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var fs = new FileStream(path, options))
        using (var w = new StreamWriter(fs))
        {
            w.Write(pem);
            w.Flush();
            fs.Flush(flushToDisk: true);
        }
    }

    /// <summary>TLSA "3 1 1" data of each key: SHA-256 of the SubjectPublicKeyInfo, lower-case hex.</summary>
    public IEnumerable<(string Algorithm, string Sha256)> TlsaDigests()
    {
        yield return ("ECDSA P-256", Convert.ToHexStringLower(SHA256.HashData(Ecdsa.ExportSubjectPublicKeyInfo())));
        yield return ("RSA-2048", Convert.ToHexStringLower(SHA256.HashData(Rsa.ExportSubjectPublicKeyInfo())));
    }

    /// <summary>
    /// A self-signed certificate for <paramref name="hostNames"/> on the ECDSA host key, for the time
    /// before a CA-issued certificate exists. Written as PEM chain and key files.
    /// </summary>
    public void WriteSelfSigned(IReadOnlyList<string> hostNames, string certPath, string keyPath, TimeSpan validity)
    {
        var req = new CertificateRequest("CN=" + hostNames[0], Ecdsa, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in hostNames) san.AddDnsName(n);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var cert = req.CreateSelfSigned(now.AddMinutes(-5), now.Add(validity));
        File.WriteAllText(certPath, cert.ExportCertificatePem() + "\n");
        WritePrivate(keyPath, Ecdsa.ExportPkcs8PrivateKeyPem());
    }

    public void Dispose()
    {
        Ecdsa.Dispose();
        Rsa.Dispose();
    }
}
