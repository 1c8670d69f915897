// JSON Web Signature for ACME requests (RFC 8555 §6.2, RFC 7515 flattened JSON serialization).
// The account key is ECDSA P-256 (ES256, RFC 7518 §3.4: the signature is r||s, 64 bytes, which
// is .NET's IEEE P1363 format). External Account Binding (RFC 8555 §7.3.4) is an HS256 JWS over
// the account's JWK, made with the MAC key the CA handed out.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Postern.Security.Acme;

/// <summary>Base64url without padding (RFC 7515 §2, RFC 4648 §5).</summary>
public static class Base64Url
{
    /// <summary>Encodes bytes.</summary>
    public static string Encode(ReadOnlySpan<byte> data) => System.Buffers.Text.Base64Url.EncodeToString(data);

    /// <summary>Decodes text; throws <see cref="FormatException"/> when it is not base64url.</summary>
    public static byte[] Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return System.Buffers.Text.Base64Url.DecodeFromChars(text.TrimEnd('='));
        }
        catch (FormatException e)
        {
            throw new FormatException("not base64url text: " + e.Message, e);
        }
    }
}

/// <summary>An ACME account key (ECDSA P-256) that signs requests as ES256.</summary>
public sealed class AcmeAccountKey : IDisposable
{
    private readonly ECDsa _key;

    /// <summary>Wraps a P-256 key; the instance owns it.</summary>
    public AcmeAccountKey(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var p = key.ExportParameters(false);
        if (p.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value && p.Curve.Oid.FriendlyName is not ("nistP256" or "ECDSA_P256"))
            throw new ArgumentException("the ACME account key must be ECDSA P-256", nameof(key));
        _key = key;
        X = Base64Url.Encode(p.Q.X);
        Y = Base64Url.Encode(p.Q.Y);
        Thumbprint = Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(JwkJson)));
    }

    /// <summary>Creates a new random key.</summary>
    public static AcmeAccountKey Create() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>Reads a PEM private key (PKCS#8 or SEC1).</summary>
    public static AcmeAccountKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            return new AcmeAccountKey(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>The private key as PKCS#8 PEM.</summary>
    public string ExportPem() => _key.ExportPkcs8PrivateKeyPem();

    private string X { get; }
    private string Y { get; }

    // RFC 7638 §3.2: the required members in lexicographic order, no white space.
    private string JwkJson => $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{X}\",\"y\":\"{Y}\"}}";

    /// <summary>The JWK thumbprint (RFC 7638, SHA-256, base64url), used in key authorizations.</summary>
    public string Thumbprint { get; }

    /// <summary>The key authorization for a challenge token (RFC 8555 §8.1).</summary>
    public string KeyAuthorization(string token) => token + "." + Thumbprint;

    /// <summary>
    /// A JWS for <paramref name="url"/>: with <paramref name="accountUrl"/> as "kid", else with the
    /// public key as "jwk" (only newAccount and revocation by account key, RFC 8555 §6.2).
    /// A null <paramref name="payload"/> makes a POST-as-GET (empty payload, §6.3).
    /// </summary>
    public byte[] Sign(string url, string nonce, string? accountUrl, object? payload, string? externalAccountBindingJson = null)
    {
        var header = new StringBuilder("{\"alg\":\"ES256\"");
        if (accountUrl is not null) header.Append(",\"kid\":").Append(JsonSerializer.Serialize(accountUrl));
        else header.Append(",\"jwk\":").Append(JwkJson);
        header.Append(",\"nonce\":").Append(JsonSerializer.Serialize(nonce));
        header.Append(",\"url\":").Append(JsonSerializer.Serialize(url)).Append('}');
        string payloadJson = payload switch
        {
            null => "",
            string s => s,
            _ => JsonSerializer.Serialize(payload),
        };
        if (externalAccountBindingJson is not null)
        {
            // The binding is a member of the newAccount payload object.
            if (!payloadJson.EndsWith('}')) throw new ArgumentException("an account binding needs an object payload", nameof(externalAccountBindingJson));
            payloadJson = payloadJson[..^1] + (payloadJson.Length > 2 ? "," : "") + "\"externalAccountBinding\":" + externalAccountBindingJson + "}";
        }
        string protectedB64 = Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToString()));
        string payloadB64 = payloadJson.Length == 0 ? "" : Base64Url.Encode(Encoding.UTF8.GetBytes(payloadJson));
        byte[] signature = _key.SignData(Encoding.ASCII.GetBytes(protectedB64 + "." + payloadB64), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return Flattened(protectedB64, payloadB64, signature);
    }

    /// <summary>
    /// The externalAccountBinding value (RFC 8555 §7.3.4): an HS256 JWS whose payload is this
    /// account's JWK, with the CA's key identifier as "kid" and the newAccount URL as "url".
    /// </summary>
    public string ExternalAccountBinding(string keyId, ReadOnlySpan<byte> macKey, string newAccountUrl)
    {
        string header = $"{{\"alg\":\"HS256\",\"kid\":{JsonSerializer.Serialize(keyId)},\"url\":{JsonSerializer.Serialize(newAccountUrl)}}}";
        string protectedB64 = Base64Url.Encode(Encoding.UTF8.GetBytes(header));
        string payloadB64 = Base64Url.Encode(Encoding.UTF8.GetBytes(JwkJson));
        byte[] mac = HMACSHA256.HashData(macKey, Encoding.ASCII.GetBytes(protectedB64 + "." + payloadB64));
        return Encoding.UTF8.GetString(Flattened(protectedB64, payloadB64, mac));
    }

    private static byte[] Flattened(string protectedB64, string payloadB64, byte[] signature) =>
        Encoding.UTF8.GetBytes($"{{\"protected\":\"{protectedB64}\",\"payload\":\"{payloadB64}\",\"signature\":\"{Base64Url.Encode(signature)}\"}}");

    /// <summary>Signs a CSR or other data with the key (for tests and tools).</summary>
    internal ECDsa Key => _key;

    /// <inheritdoc/>
    public void Dispose() => _key.Dispose();
}
