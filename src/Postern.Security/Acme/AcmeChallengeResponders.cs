// Answering ACME challenges. http-01 (RFC 8555 §8.3): the CA fetches
// http://NAME/.well-known/acme-challenge/TOKEN on port 80 and expects the key authorization.
// tls-alpn-01 (RFC 8737 §3): the CA connects to NAME on port 443 offering only the ALPN protocol
// "acme-tls/1" with SNI NAME, and expects a self-signed certificate for NAME carrying the critical
// acmeIdentifier extension with the SHA-256 of the key authorization.
using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Postern.Security.Acme;

/// <summary>Makes a challenge answerable while the CA validates it.</summary>
public interface IAcmeChallengeResponder
{
    /// <summary>The challenge type answered, e.g. <see cref="AcmeChallenge.Http01"/>.</summary>
    string ChallengeType { get; }

    /// <summary>Starts answering the challenge of <paramref name="identifier"/>.</summary>
    void Add(string identifier, string token, string keyAuthorization);

    /// <summary>Stops answering it.</summary>
    void Remove(string identifier, string token);
}

/// <summary>
/// http-01 answers: token → key authorization, served by <see cref="Http01Listener"/> or by any
/// web server on port 80 through <see cref="TryGetResponse"/>.
/// </summary>
public sealed class Http01ChallengeResponder : IAcmeChallengeResponder
{
    /// <summary>The path prefix of challenge requests (RFC 8555 §8.3).</summary>
    public const string PathPrefix = "/.well-known/acme-challenge/";

    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public string ChallengeType => AcmeChallenge.Http01;

    /// <inheritdoc/>
    public void Add(string identifier, string token, string keyAuthorization) => _tokens[token] = keyAuthorization;

    /// <inheritdoc/>
    public void Remove(string identifier, string token) => _tokens.TryRemove(token, out _);

    /// <summary>The body to answer a GET of <paramref name="path"/> with, when it is a known challenge.</summary>
    public bool TryGetResponse(string path, out string keyAuthorization)
    {
        keyAuthorization = "";
        if (path is null || !path.StartsWith(PathPrefix, StringComparison.Ordinal)) return false;
        return _tokens.TryGetValue(path[PathPrefix.Length..], out keyAuthorization!);
    }
}

/// <summary>tls-alpn-01 answers: a validation certificate per identifier (RFC 8737).</summary>
public sealed class TlsAlpn01ChallengeResponder : IAcmeChallengeResponder
{
    /// <summary>The ALPN protocol name of validation connections (RFC 8737 §6.2).</summary>
    public static readonly SslApplicationProtocol AcmeTls1 = new("acme-tls/1");

    /// <summary>OID of the acmeIdentifier extension (RFC 8737 §6.1).</summary>
    public const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

    private readonly ConcurrentDictionary<string, X509Certificate2> _certificates = new(StringComparer.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public string ChallengeType => AcmeChallenge.TlsAlpn01;

    /// <inheritdoc/>
    public void Add(string identifier, string token, string keyAuthorization) =>
        _certificates[identifier] = CreateValidationCertificate(identifier, keyAuthorization);

    /// <inheritdoc/>
    public void Remove(string identifier, string token) => _certificates.TryRemove(identifier, out _);

    /// <summary>The validation certificate for a server name offered with ALPN "acme-tls/1", if a challenge is pending for it.</summary>
    public X509Certificate2? Find(string? serverName) =>
        serverName is not null && _certificates.TryGetValue(serverName.TrimEnd('.'), out var c) ? c : null;

    /// <summary>
    /// A self-signed certificate for <paramref name="identifier"/> with the critical acmeIdentifier
    /// extension holding SHA-256(key authorization) (RFC 8737 §3).
    /// </summary>
    public static X509Certificate2 CreateValidationCertificate(string identifier, string keyAuthorization)
    {
        ArgumentNullException.ThrowIfNull(keyAuthorization);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + identifier.Replace(",", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(identifier);
        request.CertificateExtensions.Add(san.Build());
        // extnValue: Authorization ::= OCTET STRING (SIZE (32)), DER: 04 20 <digest>.
        byte[] digest = SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization));
        byte[] value = new byte[2 + digest.Length];
        value[0] = 0x04;
        value[1] = (byte)digest.Length;
        digest.CopyTo(value, 2);
        request.CertificateExtensions.Add(new X509Extension(new Oid(AcmeIdentifierOid), value, critical: true));
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(7));
        byte[] pfx = cert.Export(X509ContentType.Pkcs12);
        return X509CertificateLoader.LoadPkcs12(pfx, null);
    }
}
