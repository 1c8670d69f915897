// Where an MX host's TLSA records are and which names go with them (RFC 7672), shared by direct
// delivery (DeliverySecurityPlanner) and `postern dane dialmx`.
//
// - TLSA base domain (RFC 7672 §2.2.2, "Non-MX destinations", which each MX host name is treated
//   as, and §2.2.3): a host name that is not an alias is its own candidate. An alias (CNAME) whose
//   expansion is secure all the way to the addresses ("secure CNAME"): the fully expanded name
//   first, then the original name. An alias whose first CNAME answer is secure but whose final
//   address answer is not ("insecure CNAME"): the original name only. Anything else is insecure:
//   no TLSA lookup at all. Intermediate names of the chain are never candidates (§2.2.3).
//   Candidates are tried in order; the first with DNSSEC-authentic TLSA records is the TLSA base
//   domain. A failed TLSA lookup (SERVFAIL, bogus) makes the host unusable (§2.1.2).
// - SNI (RFC 7672 §8.1): the client sends the TLSA base domain.
// - Reference identifiers for DANE-TA(2) (RFC 7672 §3.2.2): the TLSA base domain, the original
//   next-hop domain (the recipient domain; the MX lookup was secure, or DANE would not apply),
//   and the CNAME-expanded next-hop domain when it differs. Postern also accepts the MX host name
//   as published when the base domain is its expansion: it came from the same secure MX answer.
using System.Globalization;
using Postern.Dns;

namespace Postern.Smtp.Client;

/// <summary>The outcome of looking for an MX host's TLSA records (RFC 7672 §2.2.2–2.2.3).</summary>
/// <param name="BaseDomain">The TLSA base domain whose records were found; null when there are none (or the lookup failed).</param>
/// <param name="Records">The DNSSEC-authentic TLSA records found (possibly none usable).</param>
/// <param name="Candidates">The candidate base domains in the order they are tried; empty when DANE does not apply (insecure names).</param>
/// <param name="Lookups">Each TLSA query made, with its outcome, in order (for logs and the CLI).</param>
/// <param name="FailedName">The TLSA query name whose lookup failed (SERVFAIL, bogus, timeout), or null.</param>
/// <param name="Failure">Why that lookup failed.</param>
public sealed record DaneTlsaResult(string? BaseDomain, IReadOnlyList<TlsaRecord> Records, IReadOnlyList<string> Candidates,
    IReadOnlyList<(string Name, DnsResult<TlsaRecord> Result)> Lookups, string? FailedName = null, string? Failure = null)
{
    /// <summary>True when a TLSA lookup failed: the host must not be used (RFC 7672 §2.1.2).</summary>
    public bool LookupFailed => FailedName is not null;
}

/// <summary>Finds an MX host's TLSA base domain and records, and the names that go with them (see the file comment).</summary>
public static class DaneTlsaLookup
{
    /// <summary>
    /// The candidate TLSA base domains of <paramref name="hostName"/> given its address lookup (RFC 7672 §2.2.2): empty when DANE
    /// does not apply, <c>[host]</c> for a secure non-alias or an insecure CNAME with a secure first step, <c>[expanded, host]</c>
    /// for a secure CNAME chain.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CandidatesAsync(IDnsResolver dns, string hostName, HostAddresses addresses, CancellationToken ct)
    {
        hostName = hostName.TrimEnd('.');
        if (addresses.CnameChain is not { Count: > 0 } chain)
            return addresses.Authentic ? [hostName] : []; // "Non-CNAME": the address answer decides.
        // An alias. Ask step by step: a validating resolver's AD bit on the address answer covers the whole chain,
        // but the first CNAME answer alone decides the "insecure CNAME" case, and a separate CNAME query is how to learn it (§2.1.3).
        string owner = hostName;
        for (int i = 0; i < chain.Count; i++)
        {
            DnsResult<DnsRecord> step = await dns.QueryAsync(owner, DnsRecordType.CNAME, ct).ConfigureAwait(false);
            if (!step.IsSuccess || !step.Authentic)
                return i == 0 ? [] : [hostName]; // the first CNAME insecure: no DANE; a later one: "insecure CNAME"
            owner = chain[i];
        }
        if (!addresses.Authentic)
            return [hostName]; // "insecure CNAME": the final addresses are not secure
        DnsResult<System.Net.IPAddress> final = await dns.LookupIPAsync(owner, ct).ConfigureAwait(false);
        return final.IsSuccess && final.Authentic && final.CnameChain.Count == 0 ? [owner, hostName] : [hostName];
    }

    /// <summary>Looks up the TLSA records of <paramref name="hostName"/> at each candidate base domain in turn (RFC 7672 §2.2.3).</summary>
    /// <param name="dns">The resolver (it must validate DNSSEC for DANE to apply).</param>
    /// <param name="hostName">The MX host name as published.</param>
    /// <param name="addresses">Its address lookup, with the CNAME chain and whether it was authentic.</param>
    /// <param name="port">The SMTP port (the <c>_PORT._tcp</c> prefix).</param>
    /// <param name="maxRecords">Most records kept.</param>
    /// <param name="ct">Cancellation.</param>
    public static async Task<DaneTlsaResult> LookupAsync(IDnsResolver dns, string hostName, HostAddresses addresses, int port, int maxRecords, CancellationToken ct)
    {
        IReadOnlyList<string> candidates = await CandidatesAsync(dns, hostName, addresses, ct).ConfigureAwait(false);
        var lookups = new List<(string, DnsResult<TlsaRecord>)>();
        foreach (string baseDomain in candidates)
        {
            string tlsaName = TlsaName(port, baseDomain);
            DnsResult<TlsaRecord> tlsa = await dns.LookupTlsaAsync(tlsaName, ct).ConfigureAwait(false);
            lookups.Add((tlsaName, tlsa));
            if (tlsa.IsTemporaryFailure)
                return new DaneTlsaResult(null, [], candidates, lookups, tlsaName, tlsa.Describe()); // RFC 7672 §2.1.2
            if (tlsa.IsSuccess && tlsa.Authentic && tlsa.Records.Count > 0)
                return new DaneTlsaResult(baseDomain, tlsa.Records.Take(maxRecords).ToList(), candidates, lookups);
            // NoData/NXDOMAIN or an insecure answer: the next candidate (RFC 7672 §2.2.3).
        }
        return new DaneTlsaResult(null, [], candidates, lookups);
    }

    /// <summary><c>_PORT._tcp.NAME</c>.</summary>
    public static string TlsaName(int port, string baseDomain) =>
        string.Create(CultureInfo.InvariantCulture, $"_{port}._tcp.{baseDomain.TrimEnd('.')}");

    /// <summary>
    /// The reference identifiers for DANE-TA(2) name checks (RFC 7672 §3.2.2): the TLSA base domain first, the MX host name
    /// when the base domain is its CNAME expansion, then the original next-hop domain and its CNAME expansion (when known and
    /// different). Duplicates are dropped.
    /// </summary>
    public static IReadOnlyList<string> ReferenceNames(string baseDomain, string hostName, string? nextHop, string? expandedNextHop = null)
    {
        var names = new List<string>();
        foreach (string? n in new[] { baseDomain, hostName, nextHop, expandedNextHop })
        {
            if (string.IsNullOrEmpty(n) || n.StartsWith('[')) continue;
            string name = n.TrimEnd('.').ToLowerInvariant();
            if (!names.Contains(name)) names.Add(name);
        }
        return names;
    }
}
