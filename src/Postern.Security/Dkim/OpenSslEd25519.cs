// Ed25519 (RFC 8032) through the system OpenSSL 3 libcrypto, since .NET has no Ed25519.
// Only the one-shot EVP_DigestSign/EVP_DigestVerify API is used, as OpenSSL requires for
// Ed25519 (no digest: the algorithm hashes internally; RFC 8463 feeds it the SHA-256 of
// the header data).
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Postern.Security.Dkim;

/// <summary>Ed25519 signatures using libcrypto.so.3.</summary>
public static partial class OpenSslEd25519
{
    private const string Lib = "libcrypto.so.3";
    private const int EvpPkeyEd25519 = 1087; // NID_ED25519

    /// <summary>Size of public keys, private keys (seeds) ...</summary>
    public const int KeySize = 32;

    /// <summary>... and of signatures.</summary>
    public const int SignatureSize = 64;

    /// <summary>Whether libcrypto.so.3 can be loaded.</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                return NativeLibrary.TryLoad(Lib, typeof(OpenSslEd25519).Assembly, null, out _);
            }
            catch (DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>Creates a new private key (32 random bytes, RFC 8032 §5.1.5).</summary>
    public static byte[] GeneratePrivateKey() => RandomNumberGenerator.GetBytes(KeySize);

    /// <summary>The public key of a private key.</summary>
    public static byte[] GetPublicKey(ReadOnlySpan<byte> privateKey)
    {
        IntPtr pkey = NewPrivate(privateKey);
        try
        {
            byte[] pub = new byte[KeySize];
            nuint len = KeySize;
            if (EVP_PKEY_get_raw_public_key(pkey, pub, ref len) != 1 || len != KeySize) throw new CryptographicException("EVP_PKEY_get_raw_public_key failed");
            return pub;
        }
        finally
        {
            EVP_PKEY_free(pkey);
        }
    }

    /// <summary>Signs <paramref name="data"/>.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> data)
    {
        IntPtr pkey = NewPrivate(privateKey);
        IntPtr ctx = EVP_MD_CTX_new();
        try
        {
            if (ctx == IntPtr.Zero) throw new CryptographicException("EVP_MD_CTX_new failed");
            if (EVP_DigestSignInit(ctx, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, pkey) != 1) throw new CryptographicException("EVP_DigestSignInit failed");
            byte[] sig = new byte[SignatureSize];
            nuint len = SignatureSize;
            if (EVP_DigestSign(ctx, sig, ref len, data, (nuint)data.Length) != 1 || len != SignatureSize) throw new CryptographicException("EVP_DigestSign failed");
            return sig;
        }
        finally
        {
            if (ctx != IntPtr.Zero) EVP_MD_CTX_free(ctx);
            EVP_PKEY_free(pkey);
        }
    }

    /// <summary>Verifies a signature; false for any malformed key or signature.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != KeySize || signature.Length != SignatureSize) return false;
        IntPtr pkey = EVP_PKEY_new_raw_public_key(EvpPkeyEd25519, IntPtr.Zero, publicKey, KeySize);
        if (pkey == IntPtr.Zero) return false;
        IntPtr ctx = EVP_MD_CTX_new();
        try
        {
            if (ctx == IntPtr.Zero) return false;
            if (EVP_DigestVerifyInit(ctx, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero, pkey) != 1) return false;
            return EVP_DigestVerify(ctx, signature, (nuint)signature.Length, data, (nuint)data.Length) == 1;
        }
        finally
        {
            if (ctx != IntPtr.Zero) EVP_MD_CTX_free(ctx);
            EVP_PKEY_free(pkey);
            ERR_clear_error();
        }
    }

    private static IntPtr NewPrivate(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeySize) throw new ArgumentException("an Ed25519 private key is 32 bytes", nameof(privateKey));
        IntPtr pkey = EVP_PKEY_new_raw_private_key(EvpPkeyEd25519, IntPtr.Zero, privateKey, KeySize);
        if (pkey == IntPtr.Zero) throw new CryptographicException("EVP_PKEY_new_raw_private_key failed");
        return pkey;
    }

    [LibraryImport(Lib)]
    private static partial IntPtr EVP_PKEY_new_raw_private_key(int type, IntPtr engine, ReadOnlySpan<byte> key, nuint keyLength);

    [LibraryImport(Lib)]
    private static partial IntPtr EVP_PKEY_new_raw_public_key(int type, IntPtr engine, ReadOnlySpan<byte> key, nuint keyLength);

    [LibraryImport(Lib)]
    private static partial int EVP_PKEY_get_raw_public_key(IntPtr pkey, Span<byte> pub, ref nuint length);

    [LibraryImport(Lib)]
    private static partial void EVP_PKEY_free(IntPtr pkey);

    [LibraryImport(Lib)]
    private static partial IntPtr EVP_MD_CTX_new();

    [LibraryImport(Lib)]
    private static partial void EVP_MD_CTX_free(IntPtr ctx);

    [LibraryImport(Lib)]
    private static partial int EVP_DigestSignInit(IntPtr ctx, IntPtr pctx, IntPtr type, IntPtr engine, IntPtr pkey);

    [LibraryImport(Lib)]
    private static partial int EVP_DigestSign(IntPtr ctx, Span<byte> sig, ref nuint sigLength, ReadOnlySpan<byte> tbs, nuint tbsLength);

    [LibraryImport(Lib)]
    private static partial int EVP_DigestVerifyInit(IntPtr ctx, IntPtr pctx, IntPtr type, IntPtr engine, IntPtr pkey);

    [LibraryImport(Lib)]
    private static partial int EVP_DigestVerify(IntPtr ctx, ReadOnlySpan<byte> sig, nuint sigLength, ReadOnlySpan<byte> tbs, nuint tbsLength);

    [LibraryImport(Lib)]
    private static partial void ERR_clear_error();
}
