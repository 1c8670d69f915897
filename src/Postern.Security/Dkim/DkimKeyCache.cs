// Parsed public keys, shared by verifications. Importing a key into OpenSSL 3 costs far more
// than verifying with it (its decoder framework), and the same few keys sign most mail, so
// keys are kept by their p= bytes. RSAOpenSsl verification creates a fresh EVP_PKEY_CTX per
// call over the shared read-only EVP_PKEY, so one instance serves concurrent verifications.
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Postern.Security.Dkim;

/// <summary>A bounded cache of imported RSA public keys.</summary>
internal static class DkimKeyCache
{
    private const int MaxEntries = 1024;
    private static readonly ConcurrentDictionary<string, RSA> Keys = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, OpenSslEd25519.Ed25519KeyHandle> EdKeys = new(StringComparer.Ordinal);

    /// <summary>The imported Ed25519 key of p= (32 raw bytes), or null if it is not one.</summary>
    public static OpenSslEd25519.Ed25519KeyHandle? GetEd25519(byte[] publicKey)
    {
        string id = Convert.ToBase64String(publicKey);
        if (EdKeys.TryGetValue(id, out OpenSslEd25519.Ed25519KeyHandle? cached)) return cached;
        OpenSslEd25519.Ed25519KeyHandle? key = OpenSslEd25519.ImportPublicKey(publicKey);
        if (key is null) return null;
        // Dropped handles are freed by their finalizer once no verification uses them.
        if (EdKeys.Count >= MaxEntries) EdKeys.Clear();
        return EdKeys.GetOrAdd(id, key);
    }

    /// <summary>The RSA key of p= (SubjectPublicKeyInfo or RSAPublicKey DER), or null if it is not one.</summary>
    public static RSA? GetRsa(byte[] publicKey)
    {
        string id = Convert.ToBase64String(publicKey);
        if (Keys.TryGetValue(id, out RSA? cached)) return cached;
        RSA rsa = RSA.Create();
        try
        {
            try { rsa.ImportSubjectPublicKeyInfo(publicKey, out _); }
            catch (CryptographicException) { rsa.ImportRSAPublicKey(publicKey, out _); }
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
            return null;
        }
        // Crude bound: when full, start again (keys in use stay referenced by their callers).
        if (Keys.Count >= MaxEntries) Keys.Clear();
        return Keys.GetOrAdd(id, rsa);
    }
}
