using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Dkim;

namespace Postern.Security.Dane;

// Checks that one certificate was signed by a given public key (RFC 5280 §4.1.1.3). DANE-TA
// (RFC 7671 §5.2) needs chains that end at a trust anchor taken from DNS, which need not be
// self-signed; .NET's X509Chain only accepts self-signed roots as custom trust anchors (it
// reports PartialChain otherwise), so the links of such a chain are verified here, one by one.
// SHA-1 and MD5 signatures are refused (RFC 9155 deprecates them for TLS).

/// <summary>Verifies certificate signatures against an issuer's public key.</summary>
public static class CertificateSignature
{
    /// <summary>True when <paramref name="certificate"/>'s signature verifies with <paramref name="issuer"/>'s public key.</summary>
    public static bool IsSignedBy(X509Certificate2 certificate, X509Certificate2 issuer) =>
        IsSignedBy(certificate, issuer.PublicKey.ExportSubjectPublicKeyInfo());

    /// <summary>True when <paramref name="certificate"/>'s signature verifies with the DER SubjectPublicKeyInfo <paramref name="issuerSpki"/>.</summary>
    public static bool IsSignedBy(X509Certificate2 certificate, ReadOnlySpan<byte> issuerSpki)
    {
        try
        {
            (ReadOnlyMemory<byte> tbs, string algorithm, ReadOnlyMemory<byte> parameters, byte[] signature) = Split(certificate.RawData);
            return algorithm switch
            {
                "1.2.840.113549.1.1.11" => VerifyRsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                "1.2.840.113549.1.1.12" => VerifyRsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
                "1.2.840.113549.1.1.13" => VerifyRsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
                "1.2.840.113549.1.1.10" => PssHash(parameters) is { } pss && VerifyRsa(issuerSpki, tbs, signature, pss, RSASignaturePadding.Pss),
                "1.2.840.10045.4.3.2" => VerifyEcdsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA256),
                "1.2.840.10045.4.3.3" => VerifyEcdsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA384),
                "1.2.840.10045.4.3.4" => VerifyEcdsa(issuerSpki, tbs, signature, HashAlgorithmName.SHA512),
                "1.3.101.112" => VerifyEd25519(issuerSpki, tbs.Span, signature),
                _ => false,
            };
        }
        catch (Exception ex) when (ex is AsnContentException or CryptographicException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }.</summary>
    private static (ReadOnlyMemory<byte> Tbs, string Algorithm, ReadOnlyMemory<byte> Parameters, byte[] Signature) Split(byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER);
        AsnReader cert = reader.ReadSequence();
        ReadOnlyMemory<byte> tbs = cert.ReadEncodedValue();
        AsnReader alg = cert.ReadSequence();
        string oid = alg.ReadObjectIdentifier();
        ReadOnlyMemory<byte> parameters = alg.HasData ? alg.ReadEncodedValue() : ReadOnlyMemory<byte>.Empty;
        byte[] signature = cert.ReadBitString(out int unused);
        if (unused != 0)
            throw new AsnContentException("signature has unused bits");
        return (tbs, oid, parameters, signature);
    }

    /// <summary>RFC 4055 §3.1 RSASSA-PSS-params, supported when MGF1 uses the same hash and the salt is as long as the hash (what .NET's PSS verifies).</summary>
    private static HashAlgorithmName? PssHash(ReadOnlyMemory<byte> parameters)
    {
        if (parameters.IsEmpty)
            return null; // defaults are SHA-1
        var seq = new AsnReader(parameters, AsnEncodingRules.DER).ReadSequence();
        string hash = "1.3.14.3.2.26", mgfHash = "1.3.14.3.2.26";
        int salt = 20;
        var tag0 = new Asn1Tag(TagClass.ContextSpecific, 0);
        var tag1 = new Asn1Tag(TagClass.ContextSpecific, 1);
        var tag2 = new Asn1Tag(TagClass.ContextSpecific, 2);
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(tag0))
            hash = seq.ReadSequence(tag0).ReadSequence().ReadObjectIdentifier();
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(tag1))
        {
            AsnReader mgf = seq.ReadSequence(tag1).ReadSequence();
            if (mgf.ReadObjectIdentifier() != "1.2.840.113549.1.1.8")
                return null;
            mgfHash = mgf.ReadSequence().ReadObjectIdentifier();
        }
        if (seq.HasData && seq.PeekTag().HasSameClassAndValue(tag2))
        {
            if (!seq.ReadSequence(tag2).TryReadInt32(out salt))
                return null;
        }
        (HashAlgorithmName name, int length)? h = hash switch
        {
            "2.16.840.1.101.3.4.2.1" => (HashAlgorithmName.SHA256, 32),
            "2.16.840.1.101.3.4.2.2" => (HashAlgorithmName.SHA384, 48),
            "2.16.840.1.101.3.4.2.3" => (HashAlgorithmName.SHA512, 64),
            _ => null,
        };
        return h is { } x && mgfHash == hash && salt == x.length ? x.name : null;
    }

    private static bool VerifyRsa(ReadOnlySpan<byte> spki, ReadOnlyMemory<byte> tbs, byte[] signature, HashAlgorithmName hash, RSASignaturePadding padding)
    {
        using RSA rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(spki, out _);
        return rsa.VerifyData(tbs.Span, signature, hash, padding);
    }

    private static bool VerifyEcdsa(ReadOnlySpan<byte> spki, ReadOnlyMemory<byte> tbs, byte[] signature, HashAlgorithmName hash)
    {
        using ECDsa ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
        return ecdsa.VerifyData(tbs.Span, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
    }

    private static bool VerifyEd25519(ReadOnlySpan<byte> spki, ReadOnlySpan<byte> tbs, byte[] signature)
    {
        // SubjectPublicKeyInfo { AlgorithmIdentifier { 1.3.101.112 }, BIT STRING key } (RFC 8410 §4).
        var seq = new AsnReader(spki.ToArray(), AsnEncodingRules.DER).ReadSequence();
        if (seq.ReadSequence().ReadObjectIdentifier() != "1.3.101.112")
            return false;
        byte[] key = seq.ReadBitString(out _);
        return key.Length == OpenSslEd25519.KeySize && OpenSslEd25519.IsAvailable && OpenSslEd25519.Verify(key, tbs, signature);
    }
}
