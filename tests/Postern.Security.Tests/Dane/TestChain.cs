using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Security.Tests.Dane;

/// <summary>A root → intermediate 1 → intermediate 2 → leaf chain made in memory.</summary>
internal sealed class TestChain
{
    public required X509Certificate2 Root { get; init; }
    public required X509Certificate2 Intermediate1 { get; init; }
    public required X509Certificate2 Intermediate2 { get; init; }
    public required X509Certificate2 Leaf { get; init; }
    public required AsymmetricAlgorithm LeafKey { get; init; }

    /// <summary>The leaf with its private key, for a TLS server.</summary>
    public X509Certificate2 LeafWithKey() => LeafKey switch
    {
        ECDsa ec => Leaf.CopyWithPrivateKey(ec),
        RSA rsa => Leaf.CopyWithPrivateKey(rsa),
        _ => throw new InvalidOperationException(),
    };

    public static TestChain Create(string leafName = "mx.example.org", DateTimeOffset? leafNotAfter = null, bool intermediate2IsCa = true,
        Func<AsymmetricAlgorithm>? keyFactory = null, RSASignaturePadding? rsaPadding = null)
    {
        keyFactory ??= () => ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = DateTimeOffset.UtcNow;
        AsymmetricAlgorithm rk = keyFactory(), i1k = keyFactory(), i2k = keyFactory(), lk = keyFactory();
        X509Certificate2 root = Request("CN=Test Root", rk, true, null, rsaPadding).CreateSelfSigned(now.AddDays(-10), now.AddYears(5));
        X509Certificate2 i1 = Issue(Request("CN=Test Intermediate 1", i1k, true, null, rsaPadding), root, rk, now.AddDays(-5), now.AddYears(2), rsaPadding);
        X509Certificate2 i2 = Issue(Request("CN=Test Intermediate 2", i2k, intermediate2IsCa, null, rsaPadding), i1, i1k, now.AddDays(-5), now.AddYears(1), rsaPadding);
        X509Certificate2 leaf = Issue(Request("CN=" + leafName, lk, false, leafName, rsaPadding), i2, i2k, now.AddDays(-2), leafNotAfter ?? now.AddDays(90), rsaPadding);
        return new TestChain { Root = root, Intermediate1 = i1, Intermediate2 = i2, Leaf = leaf, LeafKey = lk };
    }

    public static CertificateRequest Request(string subject, AsymmetricAlgorithm key, bool ca, string? dnsName, RSASignaturePadding? padding = null)
    {
        CertificateRequest req = key switch
        {
            ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, padding ?? RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("key"),
        };
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        if (dnsName is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(dnsName);
            req.CertificateExtensions.Add(san.Build());
        }
        return req;
    }

    private static X509Certificate2 Issue(CertificateRequest req, X509Certificate2 issuer, AsymmetricAlgorithm issuerKey, DateTimeOffset from, DateTimeOffset to, RSASignaturePadding? padding)
    {
        X509SignatureGenerator gen = issuerKey switch
        {
            ECDsa ec => X509SignatureGenerator.CreateForECDsa(ec),
            RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, padding ?? RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("key"),
        };
        if (to > issuer.NotAfter)
            to = issuer.NotAfter;
        return req.Create(issuer.SubjectName, gen, from, to, RandomNumberGenerator.GetBytes(8));
    }
}
