using System.Security.Cryptography;

namespace Postern.Security.Passwords;

/// <summary>The SCRAM primitives of RFC 5802 §2.2 for SHA-1 and SHA-256.</summary>
public static class ScramCrypto
{
    /// <summary>Hi(str, salt, i): PBKDF2 with HMAC over the hash, output length of the hash.</summary>
    public static byte[] SaltedPassword(HashAlgorithmName hash, ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, hash, HashLength(hash));

    /// <summary>HMAC(key, str).</summary>
    public static byte[] Hmac(HashAlgorithmName hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
#pragma warning disable CA5350 // SCRAM-SHA-1 is defined with SHA-1 (RFC 5802)
        return hash == HashAlgorithmName.SHA1 ? HMACSHA1.HashData(key, data) : HMACSHA256.HashData(key, data);
#pragma warning restore CA5350
    }

    /// <summary>H(str).</summary>
    public static byte[] Hash(HashAlgorithmName hash, ReadOnlySpan<byte> data)
    {
#pragma warning disable CA5350 // SCRAM-SHA-1 is defined with SHA-1 (RFC 5802)
        return hash == HashAlgorithmName.SHA1 ? SHA1.HashData(data) : SHA256.HashData(data);
#pragma warning restore CA5350
    }

    /// <summary>Output length of the hash in bytes.</summary>
    public static int HashLength(HashAlgorithmName hash) => hash == HashAlgorithmName.SHA1 ? 20 : 32;
}
