using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;

namespace Postern.Security.Dane;

// DANE for SMTP (RFC 7672) on top of RFC 6698/7671: checks a server's certificate chain against
// the TLSA records of its MX host, which the caller obtained DNSSEC-authentic.
//
// - Only DANE-TA(2) and DANE-EE(3) are usable for SMTP (RFC 7672 §3.1.3); PKIX-TA(0) and
//   PKIX-EE(1) records, unknown selectors or matching types, and digests of the wrong length
//   are "unusable". When every record is unusable the caller still requires TLS, without
//   authentication (RFC 7672 §2.2, §2.2.3), so that is reported separately from a failed match.
// - DANE-EE(3): the leaf certificate or its public key matches; names and validity dates are
//   not checked (RFC 7672 §3.1.1).
// - DANE-TA(2): the chain is built from the leaf through the certificates the server sent, in
//   any order and through every intermediate (the seeds' bug 003 was a chain cut short), up
//   to a certificate that matches the record, or up to a certificate signed by a trust anchor
//   published in full (2 0 0 / 2 1 0) and not sent. Each link's signature and the validity
//   dates of the leaf and intermediates are checked, intermediates must be CAs, and the leaf
//   must match a reference name (RFC 7672 §3.2.2–3.2.3: the TLSA base domain and the next-hop
//   domain, which the caller passes), with a wildcard only as the whole leftmost label.

/// <summary>What a DANE check concluded.</summary>
public enum DaneStatus
{
    /// <summary>A usable TLSA record matched and the chain checks passed.</summary>
    Verified,
    /// <summary>There were usable TLSA records and none was satisfied: the connection must not be used.</summary>
    Failed,
    /// <summary>No TLSA record is usable for SMTP: TLS is still required, without authentication (RFC 7672 §2.2).</summary>
    NoUsableRecords,
}

/// <summary>The outcome of a DANE check.</summary>
/// <param name="Status">Verified, failed, or nothing usable.</param>
/// <param name="Matched">The record that was satisfied, when verified.</param>
/// <param name="Detail">Why, in words, for logs and TLS reports.</param>
public sealed record DaneResult(DaneStatus Status, TlsaRecord? Matched, string Detail)
{
    /// <summary>True when verified.</summary>
    public bool Verified => Status == DaneStatus.Verified;
}

/// <summary>Verifies a TLS server's certificate chain against TLSA records (RFC 6698, 7671, 7672).</summary>
public static class DaneVerifier
{
    /// <summary>Longest chain considered, leaf included.</summary>
    public const int MaxChainLength = 10;

    /// <summary>Checks <paramref name="presented"/> (leaf first, then whatever the server sent) against <paramref name="records"/>.</summary>
    /// <param name="records">The TLSA records of <c>_25._tcp.BASEDOMAIN</c>, DNSSEC-authentic.</param>
    /// <param name="presented">The server's certificates: the leaf first, then the others in the order sent.</param>
    /// <param name="referenceNames">Names the leaf must carry for DANE-TA: the TLSA base domain and the next-hop domain (RFC 7672 §3.2.2).</param>
    /// <param name="now">The time for validity checks.</param>
    public static DaneResult Verify(IReadOnlyList<TlsaRecord> records, IReadOnlyList<X509Certificate2> presented, IReadOnlyList<string> referenceNames, DateTimeOffset now)
    {
        var usable = records.Where(IsUsable).ToList();
        if (usable.Count == 0)
            return new DaneResult(DaneStatus.NoUsableRecords, null, "no TLSA record usable for SMTP (only DANE-TA and DANE-EE with known selector and matching type)");
        if (presented.Count == 0)
            return new DaneResult(DaneStatus.Failed, null, "the server sent no certificate");
        X509Certificate2 leaf = presented[0];

        foreach (TlsaRecord r in usable.Where(r => r.Usage == 3))
        {
            if (Matches(r, leaf))
                return new DaneResult(DaneStatus.Verified, r, $"DANE-EE {Describe(r)} matched the server certificate");
        }

        string? failure = null;
        foreach (TlsaRecord r in usable.Where(r => r.Usage == 2))
        {
            string? why = CheckTrustAnchor(r, presented, referenceNames, now);
            if (why is null)
                return new DaneResult(DaneStatus.Verified, r, $"DANE-TA {Describe(r)} anchored the server's chain");
            failure ??= why;
        }
        return new DaneResult(DaneStatus.Failed, null, failure ?? "no DANE-EE record matched the server certificate");
    }

    /// <summary>RFC 7672 §3.1.3 and RFC 6698 §2.1: DANE-TA/EE, selector 0/1, matching 0/1/2 with a digest of the right length.</summary>
    public static bool IsUsable(TlsaRecord r) =>
        r.Usage is 2 or 3 && r.Selector is 0 or 1 && r.MatchingType switch
        {
            0 => r.AssociationData.Length > 0,
            1 => r.AssociationData.Length == 32,
            2 => r.AssociationData.Length == 64,
            _ => false,
        };

    /// <summary>The association data a certificate gives for a selector and matching type (RFC 6698 §2.1.2–2.1.3).</summary>
    public static byte[] AssociationData(X509Certificate2 certificate, byte selector, byte matchingType)
    {
        byte[] selected = selector switch
        {
            0 => certificate.RawData,
            1 => certificate.PublicKey.ExportSubjectPublicKeyInfo(),
            _ => throw new ArgumentOutOfRangeException(nameof(selector), "selector must be 0 (certificate) or 1 (public key)"),
        };
        return matchingType switch
        {
            0 => selected,
            1 => SHA256.HashData(selected),
            2 => SHA512.HashData(selected),
            _ => throw new ArgumentOutOfRangeException(nameof(matchingType), "matching type must be 0, 1 or 2"),
        };
    }

    /// <summary>True when <paramref name="certificate"/> matches the record's selector, matching type and data.</summary>
    public static bool Matches(TlsaRecord record, X509Certificate2 certificate) =>
        IsUsable(record) && CryptographicOperations.FixedTimeEquals(AssociationData(certificate, record.Selector, record.MatchingType), record.AssociationData);

    /// <summary>Null when the DANE-TA record anchors a valid chain for the leaf, else the reason it does not.</summary>
    private static string? CheckTrustAnchor(TlsaRecord record, IReadOnlyList<X509Certificate2> presented, IReadOnlyList<string> referenceNames, DateTimeOffset now)
    {
        X509Certificate2 leaf = presented[0];
        if (!referenceNames.Any(n => MatchesName(leaf, n)))
            return $"the server certificate does not name {string.Join(" or ", referenceNames)}";

        // A trust anchor published in full can anchor a chain without being sent.
        byte[]? anchorSpki = (record.Selector, record.MatchingType) switch
        {
            (1, 0) => record.AssociationData,
            (0, 0) => TryLoad(record.AssociationData)?.PublicKey.ExportSubjectPublicKeyInfo(),
            _ => null,
        };

        X509Certificate2 current = leaf;
        var used = new HashSet<X509Certificate2> { leaf };
        for (int depth = 0; depth < MaxChainLength; depth++)
        {
            if (!IsValidAt(current, now))
                return $"certificate {current.Subject} is outside its validity period";
            if (depth > 0 && !IsCertificateAuthority(current))
                return $"intermediate {current.Subject} is not a CA certificate";
            if (anchorSpki is not null && CertificateSignature.IsSignedBy(current, anchorSpki))
                return null;
            // The issuer among everything the server sent, in any order.
            X509Certificate2? issuer = presented.FirstOrDefault(c => !used.Contains(c)
                && c.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData)
                && CertificateSignature.IsSignedBy(current, c));
            if (issuer is null)
                return "no certificate sent by the server leads to the DANE-TA trust anchor";
            if (Matches(record, issuer))
                return null; // The anchor itself is trusted as published: its dates and flags are not checked.
            used.Add(issuer);
            current = issuer;
        }
        return "certificate chain too long";
    }

    private static X509Certificate2? TryLoad(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static bool IsValidAt(X509Certificate2 c, DateTimeOffset now) =>
        now.UtcDateTime >= c.NotBefore.ToUniversalTime() && now.UtcDateTime <= c.NotAfter.ToUniversalTime();

    private static bool IsCertificateAuthority(X509Certificate2 c) =>
        c.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true };

    /// <summary>RFC 7672 §3.2.3 with RFC 6125 rules: DNS names in the SAN (the CN only without any SAN DNS name), wildcard as the whole leftmost label.</summary>
    public static bool MatchesName(X509Certificate2 certificate, string name)
    {
        name = name.TrimEnd('.');
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        List<string> names = san is null ? [] : [.. san.EnumerateDnsNames()];
        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.SimpleName, false) is { Length: > 0 } cn)
            names.Add(cn);
        foreach (string n in names)
        {
            string pattern = n.TrimEnd('.');
            if (string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase))
                return true;
            if (pattern.StartsWith("*.", StringComparison.Ordinal))
            {
                int dot = name.IndexOf('.', StringComparison.Ordinal);
                if (dot > 0 && string.Equals(pattern[1..], name[dot..], StringComparison.OrdinalIgnoreCase))
                    return true;
            }
        }
        return false;
    }

    /// <summary>"usage selector matching", e.g. "3 1 1".</summary>
    public static string Describe(TlsaRecord r) => $"{r.Usage} {r.Selector} {r.MatchingType}";
}
