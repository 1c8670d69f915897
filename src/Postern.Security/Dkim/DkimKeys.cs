// DKIM keys: the DNS key record (RFC 6376 §3.6.1, RFC 8463 §4) and private keys for
// signing, stored as PKCS#8 PEM ("PRIVATE KEY"), the format OpenSSL and dkimpy use.
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Security.Dkim;

/// <summary>Key types (k= of key records).</summary>
public enum DkimKeyType
{
    /// <summary>RSA.</summary>
    Rsa,
    /// <summary>Ed25519 (RFC 8463).</summary>
    Ed25519,
}

/// <summary>A parsed DKIM key record.</summary>
public sealed class DkimKeyRecord
{
    /// <summary>Key type (k=, default rsa).</summary>
    public DkimKeyType KeyType { get; private init; }

    /// <summary>The public key data (p=): SubjectPublicKeyInfo or RSAPublicKey DER for RSA, 32 raw bytes for Ed25519. Empty: revoked.</summary>
    public byte[] PublicKey { get; private init; } = [];

    /// <summary>Acceptable hash algorithms (h=), or null for any.</summary>
    public IReadOnlyList<string>? HashAlgorithms { get; private init; }

    /// <summary>Service types (s=): "*" or "email" must be among them.</summary>
    public IReadOnlyList<string> ServiceTypes { get; private init; } = ["*"];

    /// <summary>t=y: the domain is testing DKIM.</summary>
    public bool Testing { get; private init; }

    /// <summary>t=s: i= must use exactly the d= domain, no subdomain.</summary>
    public bool StrictIdentity { get; private init; }

    /// <summary>Whether the key was revoked (empty p=).</summary>
    public bool IsRevoked => PublicKey.Length == 0;

    /// <summary>Parses a key record's text.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out DkimKeyRecord? record, [NotNullWhen(false)] out string? error)
    {
        record = null;
        ArgumentNullException.ThrowIfNull(text);
        if (!DkimTagList.TryParse(text, out Dictionary<string, string>? t, out error)) return false;
        // RFC 6376 §3.6.1: v=, if present, is first and "DKIM1".
        if (t.TryGetValue("v", out string? v) && (v != "DKIM1" || !text.TrimStart().StartsWith('v')))
        {
            error = "key record version is not DKIM1";
            return false;
        }
        if (!t.TryGetValue("p", out string? p)) { error = "key record has no p= tag"; return false; }
        DkimKeyType kt = DkimKeyType.Rsa;
        if (t.TryGetValue("k", out string? k))
        {
            switch (k.ToLowerInvariant())
            {
                case "rsa": kt = DkimKeyType.Rsa; break;
                case "ed25519": kt = DkimKeyType.Ed25519; break;
                default: error = $"unknown key type k={DkimTagList.Short(k)}"; return false;
            }
        }
        byte[] key;
        try
        {
            key = Convert.FromBase64String(DkimTagList.RemoveWhiteSpace(p));
        }
        catch (FormatException)
        {
            error = "invalid base64 in p=";
            return false;
        }
        string[]? h = t.TryGetValue("h", out string? hv) ? [.. hv.Split(':').Select(x => x.Trim().ToLowerInvariant())] : null;
        string[] s = t.TryGetValue("s", out string? sv) ? [.. sv.Split(':').Select(x => x.Trim().ToLowerInvariant())] : ["*"];
        string[] flags = t.TryGetValue("t", out string? tv) ? [.. tv.Split(':').Select(x => x.Trim().ToLowerInvariant())] : [];
        record = new DkimKeyRecord
        {
            KeyType = kt, PublicKey = key, HashAlgorithms = h, ServiceTypes = s, Testing = flags.Contains("y"), StrictIdentity = flags.Contains("s"),
        };
        error = null;
        return true;
    }
}

/// <summary>A private key for DKIM signing: RSA (2048 bits or more) or Ed25519.</summary>
public sealed class DkimPrivateKey : IDisposable
{
    // RFC 8410 §7: PKCS#8 of an Ed25519 key is this fixed prefix and the 32-byte seed.
    private static readonly byte[] Ed25519Pkcs8Prefix = Convert.FromHexString("302e020100300506032b657004220420");

    private readonly RSA? _rsa;
    private readonly byte[]? _ed25519;

    private DkimPrivateKey(RSA rsa) => _rsa = rsa;

    private DkimPrivateKey(byte[] ed25519) => _ed25519 = ed25519;

    /// <summary>The key type.</summary>
    public DkimKeyType KeyType => _rsa is null ? DkimKeyType.Ed25519 : DkimKeyType.Rsa;

    /// <summary>The signing algorithm for this key.</summary>
    public DkimAlgorithm Algorithm => _rsa is null ? DkimAlgorithm.Ed25519Sha256 : DkimAlgorithm.RsaSha256;

    /// <summary>Key size in bits (256 for Ed25519).</summary>
    public int KeySizeBits => _rsa?.KeySize ?? 256;

    /// <summary>Creates a new RSA key (at least 2048 bits).</summary>
    public static DkimPrivateKey GenerateRsa(int bits = 2048)
    {
        if (bits < 2048) throw new ArgumentOutOfRangeException(nameof(bits), "RSA signing keys have at least 2048 bits (RFC 8301 §3.2 recommends 2048)");
        return new DkimPrivateKey(RSA.Create(bits));
    }

    /// <summary>Creates a new Ed25519 key.</summary>
    public static DkimPrivateKey GenerateEd25519() => new(OpenSslEd25519.GeneratePrivateKey());

    /// <summary>Wraps an RSA key (at least 1024 bits are needed to verify; 2048 are required here to sign).</summary>
    public static DkimPrivateKey FromRsa(RSA rsa)
    {
        ArgumentNullException.ThrowIfNull(rsa);
        if (rsa.KeySize < 2048) throw new ArgumentException("RSA signing keys must have at least 2048 bits", nameof(rsa));
        return new DkimPrivateKey(rsa);
    }

    /// <summary>Wraps a 32-byte Ed25519 private key (seed).</summary>
    public static DkimPrivateKey FromEd25519(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != OpenSslEd25519.KeySize) throw new ArgumentException("an Ed25519 private key is 32 bytes", nameof(seed));
        return new DkimPrivateKey(seed.ToArray());
    }

    /// <summary>Reads a PEM private key: PKCS#8 ("PRIVATE KEY", RSA or Ed25519) or PKCS#1 ("RSA PRIVATE KEY").</summary>
    public static DkimPrivateKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        if (!PemEncoding.TryFind(pem, out PemFields f)) throw new FormatException("no PEM block found");
        string label = pem[f.Label];
        byte[] der = Convert.FromBase64String(pem[f.Base64Data]);
        if (label == "PRIVATE KEY" && der.Length == Ed25519Pkcs8Prefix.Length + 32 && der.AsSpan().StartsWith(Ed25519Pkcs8Prefix))
            return new DkimPrivateKey(der[^32..]);
        var rsa = RSA.Create();
        try
        {
            if (label == "RSA PRIVATE KEY") rsa.ImportRSAPrivateKey(der, out _);
            else if (label == "PRIVATE KEY") rsa.ImportPkcs8PrivateKey(der, out _);
            else throw new FormatException($"unsupported PEM label \"{label}\"");
        }
        catch (CryptographicException e)
        {
            rsa.Dispose();
            throw new FormatException("not an RSA or Ed25519 private key: " + e.Message, e);
        }
        if (rsa.KeySize < 2048)
        {
            rsa.Dispose();
            throw new FormatException("RSA signing keys must have at least 2048 bits");
        }
        return new DkimPrivateKey(rsa);
    }

    /// <summary>The key as PKCS#8 PEM.</summary>
    public string ToPem()
    {
        byte[] der = _rsa is not null ? _rsa.ExportPkcs8PrivateKey() : [.. Ed25519Pkcs8Prefix, .. _ed25519!];
        return PemEncoding.WriteString("PRIVATE KEY", der) + "\n";
    }

    /// <summary>The public key as published in p=: SubjectPublicKeyInfo for RSA, raw 32 bytes for Ed25519 (RFC 8463 §4.2).</summary>
    public byte[] PublicKeyData() => _rsa is not null ? _rsa.ExportSubjectPublicKeyInfo() : OpenSslEd25519.GetPublicKey(_ed25519);

    /// <summary>The TXT record text to publish at SELECTOR._domainkey.DOMAIN.</summary>
    public string DnsRecordText() =>
        "v=DKIM1; k=" + (KeyType == DkimKeyType.Rsa ? "rsa" : "ed25519") + "; p=" + Convert.ToBase64String(PublicKeyData());

    /// <summary>Signs the SHA-256 hash of the canonicalised header data.</summary>
    internal byte[] SignHash(ReadOnlySpan<byte> sha256)
    {
        if (_rsa is not null) return _rsa.SignHash(sha256.ToArray(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        // RFC 8463 §3: Ed25519 signs the SHA-256 hash, not the data.
        return OpenSslEd25519.Sign(_ed25519, sha256);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _rsa?.Dispose();
        if (_ed25519 is not null) CryptographicOperations.ZeroMemory(_ed25519);
    }

    /// <inheritdoc/>
    public override string ToString() => KeyType == DkimKeyType.Rsa ? $"rsa-{KeySizeBits}" : "ed25519";
}

/// <summary>Encoding helpers.</summary>
internal static class DkimText
{
    public static readonly Encoding Latin1 = Encoding.Latin1;
}
