// One certificate issuance, start to end (RFC 8555 §7.1 overview): order the names, answer one
// challenge per pending authorization with the first responder type the server offers, wait for
// the order to become ready, finalize with a CSR signed by the given key (so the certificate is
// for that key: stable host keys keep TLSA records valid), download the chain, and check it.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Postern.Security.Acme;

/// <summary>Obtains a certificate through an <see cref="AcmeClient"/> whose account is registered.</summary>
public static class AcmeIssuance
{
    /// <summary>
    /// Orders, validates, finalizes and downloads a certificate for <paramref name="dnsNames"/> on
    /// <paramref name="key"/> (ECDSA or RSA). Returns the PEM chain, leaf first.
    /// </summary>
    public static async Task<string> ObtainAsync(AcmeClient client, IReadOnlyList<string> dnsNames, AsymmetricAlgorithm key,
        IReadOnlyList<IAcmeChallengeResponder> responders, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(responders);
        logger ??= NullLogger.Instance;
        if (responders.Count == 0) throw new ArgumentException("at least one challenge responder is needed", nameof(responders));

        var order = await client.NewOrderAsync(dnsNames, cancellationToken).ConfigureAwait(false);
        foreach (var authzUrl in order.Authorizations)
        {
            var authz = await client.GetAuthorizationAsync(authzUrl, cancellationToken).ConfigureAwait(false);
            if (authz.Status == "valid") continue; // RFC 8555 §7.1.3: a still-valid earlier authorization is reused.
            if (authz.Status != "pending")
                throw new AcmeException($"the authorization for {authz.Identifier} is {authz.Status}");
            await ValidateAsync(client, authz, responders, logger, cancellationToken).ConfigureAwait(false);
        }

        if (order.Status == "pending") order = await client.WaitForOrderAsync(order.Url, cancellationToken).ConfigureAwait(false);
        if (order.Status == "invalid")
            throw new AcmeException($"the order for {string.Join(", ", dnsNames)} failed: {order.Error?.ToString() ?? "no reason given"}", order.Error);
        if (order.Status is "ready")
            order = await client.FinalizeAsync(order, CreateCsr(dnsNames, key), cancellationToken).ConfigureAwait(false);
        else if (order.Status != "valid" || order.Certificate is null)
            throw new AcmeException($"the order for {string.Join(", ", dnsNames)} is {order.Status}, not ready for finalization");

        string pem = await client.DownloadCertificateAsync(order.Certificate!, cancellationToken).ConfigureAwait(false);
        CheckIssued(pem, dnsNames, key);
        return pem;
    }

    private static async Task ValidateAsync(AcmeClient client, AcmeAuthorization authz, IReadOnlyList<IAcmeChallengeResponder> responders, ILogger logger, CancellationToken cancellationToken)
    {
        IAcmeChallengeResponder? responder = null;
        AcmeChallenge? challenge = null;
        foreach (var r in responders)
        {
            challenge = authz.Challenges.FirstOrDefault(c => c.Type == r.ChallengeType);
            if (challenge is not null) { responder = r; break; }
        }
        if (responder is null || challenge is null)
            throw new AcmeException($"the ACME server offers no challenge this server can answer for {authz.Identifier} (offered: {string.Join(", ", authz.Challenges.Select(c => c.Type))}; answerable: {string.Join(", ", responders.Select(r => r.ChallengeType))})");
        if (challenge.Token.Length == 0 || challenge.Token.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_')))
            throw new AcmeException($"the ACME server sent an invalid challenge token for {authz.Identifier}"); // RFC 8555 §8.3: base64url characters only

        string keyAuthorization = client.KeyAuthorization(challenge.Token);
        responder.Add(authz.Identifier, challenge.Token, keyAuthorization);
        try
        {
            logger.LogInformation("acme validating name={Name} challenge={Type}", authz.Identifier, challenge.Type);
            if (challenge.Status == "pending") await client.RespondToChallengeAsync(challenge, cancellationToken).ConfigureAwait(false);
            var done = await client.WaitForAuthorizationAsync(authz.Url, cancellationToken).ConfigureAwait(false);
            if (done.Status != "valid")
            {
                var failed = done.Challenges.FirstOrDefault(c => c.Type == challenge.Type);
                throw new AcmeException($"{challenge.Type} validation of {authz.Identifier} failed: {failed?.Error?.ToString() ?? done.Status}", failed?.Error);
            }
        }
        finally
        {
            responder.Remove(authz.Identifier, challenge.Token);
        }
    }

    /// <summary>A PKCS#10 request (DER) for <paramref name="dnsNames"/> signed with <paramref name="key"/> (RFC 8555 §7.4: names in subjectAltName).</summary>
    public static byte[] CreateCsr(IReadOnlyList<string> dnsNames, AsymmetricAlgorithm key)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        var subject = new X500DistinguishedName("CN=" + dnsNames[0].Replace(",", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal));
        CertificateRequest request = key switch
        {
            ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("the key must be ECDSA or RSA", nameof(key)),
        };
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in dnsNames) san.AddDnsName(n);
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequest();
    }

    /// <summary>Checks that a downloaded chain's leaf is for <paramref name="key"/> and covers every name.</summary>
    public static void CheckIssued(string pem, IReadOnlyList<string> dnsNames, AsymmetricAlgorithm key)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(key);
        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new AcmeException("the issued certificate cannot be read: " + e.Message, e);
        }
        using (leaf)
        {
            if (!leaf.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(SubjectPublicKeyInfo(key)))
                throw new AcmeException("the issued certificate is not for the requested key");
            var names = NamesOf(leaf);
            var missing = dnsNames.Where(n => !names.Contains(n.ToLowerInvariant())).ToList();
            if (missing.Count > 0) throw new AcmeException("the issued certificate lacks the names " + string.Join(", ", missing));
        }
    }

    internal static byte[] SubjectPublicKeyInfo(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => ec.ExportSubjectPublicKeyInfo(),
        RSA rsa => rsa.ExportSubjectPublicKeyInfo(),
        _ => throw new ArgumentException("the key must be ECDSA or RSA", nameof(key)),
    };

    internal static HashSet<string> NamesOf(X509Certificate2 certificate)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ext in certificate.Extensions)
        {
            if (ext is X509SubjectAlternativeNameExtension san)
                names.UnionWith(san.EnumerateDnsNames().Select(n => n.ToLowerInvariant()));
        }
        return names;
    }
}
