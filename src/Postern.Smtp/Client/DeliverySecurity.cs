// The TLS policy of direct delivery with DANE and MTA-STS: which MX hosts may be used, and for
// each one whether TLS is required and how its certificate is checked.
//
//   1. DANE (RFC 7672) first, per MX host: when the MX lookup was DNSSEC-authentic (§2.2.1),
//      DaneTlsaLookup finds the TLSA base domain: the host name, or for a CNAME whose expansion is
//      secure the expanded name first and then the original name (§2.2.2, §2.2.3). Authentic and
//      usable: STARTTLS required, SNI set to the TLSA base domain (§8.1), the certificate checked
//      only with DaneVerifier (§3.1; DANE-TA names: the base domain, the MX host name and the
//      recipient domain, §3.2.2). Authentic but none usable: TLS required without authentication
//      (§2.2). Not found or not authentic (an insecure zone): no DANE. A failed TLSA lookup
//      (SERVFAIL: bogus or unreachable) of a secure host: that host is not used, delivery is
//      deferred if no other host works (§2.1.2).
//   2. MTA-STS (RFC 8461) where DANE does not apply (RFC 8461 §2: DANE takes precedence):
//      enforce - MX hosts not matching the policy are not used (§4.1) and TLS with a
//      certificate valid for the MX name under the system CAs is required (§4.2); testing -
//      delivery as without a policy, failures recorded for TLS reports (§5); none - nothing.
//   3. Otherwise the configured policy step (opportunistic STARTTLS by default).
//
// REQUIRETLS (RFC 8689 §4.2.1): a host is used only with DANE verification or an MTA-STS policy
// that lists it (testing is treated as enforce for these messages), TLS verified, and the host
// must offer REQUIRETLS after STARTTLS. "TLS-Required: No" (RFC 8689 §5, ignored when REQUIRETLS
// is set): the policies still choose how certificates are checked and failures are recorded,
// but nothing is required, so the message goes through as with opportunistic TLS.
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;
using Postern.Security.Dane;
using Postern.Security.MtaSts;
using Postern.Store.Reports;

namespace Postern.Smtp.Client;

/// <summary>Remembers, per recipient domain, what its servers offered (a later webmail shows it).</summary>
public interface IRecipientDomainTlsMemory
{
    /// <summary>Records what the domain's server offered in the last attempt that reached one. Must not throw for storage errors.</summary>
    ValueTask RecordAsync(RecipientDomainTls entry, CancellationToken cancellationToken);
}

/// <summary>What a recipient domain's server offered in the last attempt that reached one.</summary>
/// <param name="Domain">The recipient domain (lower case).</param>
/// <param name="StartTls">The server offered STARTTLS (RFC 3207).</param>
/// <param name="RequireTls">The server offered REQUIRETLS after STARTTLS (RFC 8689).</param>
/// <param name="Host">The MX host that answered.</param>
/// <param name="Time">When.</param>
public sealed record RecipientDomainTls(string Domain, bool StartTls, bool RequireTls, string Host, DateTimeOffset Time);

/// <summary>DANE, MTA-STS, TLS reporting and per-domain memory for direct delivery.</summary>
public sealed record DeliverySecurityOptions
{
    /// <summary>Apply DANE (RFC 7672) to MX hosts with DNSSEC-authentic TLSA records.</summary>
    public bool Dane { get; init; } = true;

    /// <summary>Finds recipient domains' MTA-STS policies; null: MTA-STS is not applied.</summary>
    public MtaStsClient? MtaSts { get; init; }

    /// <summary>How certificates are checked under MTA-STS: the system CAs and the MX name (tests add roots).</summary>
    public IServerCertificateVerifier MtaStsVerifier { get; init; } = SystemCaVerifier.Instance;

    /// <summary>Receives one result per TLS session attempt (RFC 8460); null: not recorded.</summary>
    public ITlsResultRecorder? TlsResults { get; init; }

    /// <summary>Remembers per recipient domain whether STARTTLS and REQUIRETLS were offered; null: not remembered.</summary>
    public IRecipientDomainTlsMemory? DomainMemory { get; init; }

    /// <summary>The clock of recorded results.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>Checks a server's certificate chain with <see cref="DaneVerifier"/>: the leaf and the certificates the server sent (the chain's ExtraStore).</summary>
/// <param name="records">The TLSA records (DNSSEC-authentic).</param>
/// <param name="referenceNames">Names the leaf must carry for DANE-TA (RFC 7672 §3.2.2: the TLSA base domain, the next-hop domain; see <see cref="DaneTlsaLookup.ReferenceNames"/>).</param>
/// <param name="time">The clock for validity dates.</param>
public sealed class DaneServerVerifier(IReadOnlyList<TlsaRecord> records, IReadOnlyList<string> referenceNames, TimeProvider? time = null) : IServerCertificateVerifier
{
    /// <summary>The last check's result, or null before a certificate was seen.</summary>
    public DaneResult? Result { get; private set; }

    /// <summary>The last leaf certificate seen.</summary>
    public X509Certificate2? Leaf { get; private set; }

    /// <summary>The records checked against.</summary>
    public IReadOnlyList<TlsaRecord> Records => records;

    /// <inheritdoc/>
    public string? Verify(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
            return "no certificate";
        Leaf = new X509Certificate2(certificate);
        var presented = new List<X509Certificate2> { Leaf };
        if (chain is not null)
        {
            // What the server sent besides the leaf; the system's own chain building is not used (RFC 7672 §3.1).
            foreach (X509Certificate2 c in chain.ChainPolicy.ExtraStore)
            {
                if (!c.RawData.AsSpan().SequenceEqual(Leaf.RawData) && presented.Count < DaneVerifier.MaxChainLength * 2)
                    presented.Add(c);
            }
        }
        Result = DaneVerifier.Verify(records, presented, referenceNames, (time ?? TimeProvider.System).GetUtcNow());
        return Result.Verified ? null : Result.Detail;
    }
}

/// <summary>Accepts any certificate: TLS without authentication (RFC 7672 §2.2 when no TLSA record is usable).</summary>
public sealed class AnyCertificateVerifier : IServerCertificateVerifier
{
    /// <summary>The shared instance.</summary>
    public static AnyCertificateVerifier Instance { get; } = new();

    /// <inheritdoc/>
    public string? Verify(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) => null;
}

/// <summary>Wraps a verifier and keeps the RFC 8460 result type of its last failure.</summary>
internal sealed class ReportingVerifier(IServerCertificateVerifier inner) : IServerCertificateVerifier
{
    public string? FailureType { get; private set; }
    public string? Failure { get; private set; }

    public void Reset()
    {
        FailureType = null;
        Failure = null;
    }

    public string? Verify(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        string? why = inner.Verify(host, certificate, chain, errors);
        Failure = why;
        FailureType = why is null ? null : inner is DaneServerVerifier ? "tlsa-invalid" : Classify(certificate, chain, errors);
        return why;
    }

    /// <summary>RFC 8460 §4.3.1 negotiation failure types from what .NET's validation saw.</summary>
    private static string Classify(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return "certificate-not-trusted";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) return "certificate-host-mismatch";
        if (chain is not null && chain.ChainStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.NotTimeValid))) return "certificate-expired";
        using var c = new X509Certificate2(certificate);
        DateTime now = DateTime.UtcNow;
        if (now > c.NotAfter.ToUniversalTime() || now < c.NotBefore.ToUniversalTime()) return "certificate-expired";
        return "certificate-not-trusted";
    }
}

/// <summary>What applies to one recipient domain in one attempt.</summary>
internal sealed record DomainSecurity(MtaStsLookup Sts, bool TlsOptional, bool RequireTls)
{
    public MtaStsPolicy? ActivePolicy => Sts.Policy is { Mode: not MtaStsMode.None } p ? p : null;
}

/// <summary>The plan for one MX host.</summary>
/// <param name="Decision">The TLS decision (with a <see cref="ReportingVerifier"/>), or null when the host must not be used.</param>
/// <param name="PolicyType">RFC 8460 policy type: sts, tlsa or no-policy-found.</param>
/// <param name="PolicyStrings">The policy text for TLS reports.</param>
/// <param name="MxPatterns">The MTA-STS mx patterns.</param>
/// <param name="Verified">TLS with verification is required (DANE or MTA-STS): enough for REQUIRETLS.</param>
/// <param name="SkipReason">Why the host is not used.</param>
/// <param name="SkipResultType">The RFC 8460 result type recorded for a skipped host, if any.</param>
/// <param name="SkipEnhanced">The enhanced status code of a skipped host.</param>
/// <param name="SkipForRequireTls">The host was skipped only because the message has REQUIRETLS.</param>
internal sealed record HostPlan(OutboundTlsDecision? Decision, string PolicyType, IReadOnlyList<string> PolicyStrings, IReadOnlyList<string> MxPatterns,
    bool Verified, string? SkipReason = null, string? SkipResultType = null, string SkipEnhanced = "4.7.5", bool SkipForRequireTls = false)
{
    public ReportingVerifier? Reporter => Decision?.Verifier as ReportingVerifier;
}

/// <summary>Decides per domain and per MX host (see the file comment).</summary>
internal sealed class DeliverySecurityPlanner(DeliverySecurityOptions options, IDnsResolver dns, IOutboundTlsPolicy fallback)
{
    /// <summary>Most TLSA records considered per host.</summary>
    public const int MaxTlsaRecords = 32;

    public DeliverySecurityOptions Options => options;

    public async Task<DomainSecurity> ForDomainAsync(OutboundRequest request, CancellationToken ct)
    {
        bool requireTls = request.RequireTls;
        bool optional = request.TlsRequiredNo && !requireTls; // RFC 8689 §5: REQUIRETLS wins over the header.
        MtaStsLookup sts = MtaStsLookup.NoPolicy;
        if (options.MtaSts is { } client && !optional && !request.RecipientDomain.StartsWith('['))
            sts = await client.GetPolicyAsync(MailAddressDomain(request.RecipientDomain), ct).ConfigureAwait(false);
        return new DomainSecurity(sts, optional, requireTls);
    }

    private static string MailAddressDomain(string domain)
    {
        try
        {
            return Postern.Mail.MailAddress.ToAsciiDomain(domain.TrimEnd('.')).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return domain.ToLowerInvariant();
        }
    }

    public async Task<HostPlan> ForHostAsync(OutboundRequest request, DomainSecurity domain, MxHost host, HostAddresses addresses, int port, CancellationToken ct,
        string? expandedNextHop = null)
    {
        string hostName = host.Name.TrimEnd('.');
        // 1. DANE. The MX answer must be secure (RFC 7672 §2.2.1); DaneTlsaLookup decides from the address answer and any
        //    CNAMEs which base domains are candidates (§2.2.2) and looks them up in turn (§2.2.3).
        if (options.Dane && host.Authentic && !host.Name.StartsWith('['))
        {
            DaneTlsaResult tlsa = await DaneTlsaLookup.LookupAsync(dns, hostName, addresses, port, MaxTlsaRecords, ct).ConfigureAwait(false);
            if (tlsa.LookupFailed)
            {
                // RFC 7672 §2.1.2: a secure MX whose TLSA lookup fails is not used; delivery is deferred if no other host works.
                return new HostPlan(null, TlsSessionResult.Tlsa, [], [], false,
                    $"TLSA lookup {tlsa.FailedName} failed ({tlsa.Failure}); not delivering to this secure MX without it (RFC 7672 §2.1.2)", "dnssec-invalid", "4.7.5");
            }
            if (tlsa.BaseDomain is { } baseDomain)
            {
                var strings = tlsa.Records.Select(r => r.FormatData()).ToList();
                // RFC 7672 §8.1: SNI is the TLSA base domain (the CNAME target when the records were found there).
                string? sni = string.Equals(baseDomain, hostName, StringComparison.OrdinalIgnoreCase) ? null : baseDomain;
                if (tlsa.Records.Any(DaneVerifier.IsUsable))
                {
                    // RFC 7672 §3.2.2: DANE-TA names: the base domain, the MX host name, the next-hop domain (and its expansion).
                    IReadOnlyList<string> names = DaneTlsaLookup.ReferenceNames(baseDomain, hostName, request.RecipientDomain, expandedNextHop);
                    var verifier = new ReportingVerifier(new DaneServerVerifier(tlsa.Records, names, options.Time));
                    var decision = new OutboundTlsDecision(domain.TlsOptional ? OutboundTlsMode.Opportunistic : OutboundTlsMode.Required, "dane", verifier, sni);
                    return new HostPlan(decision, TlsSessionResult.Tlsa, strings, [], !domain.TlsOptional);
                }
                // RFC 7672 §2.2: TLSA records exist but none is usable: TLS is mandatory, unauthenticated.
                var any = new OutboundTlsDecision(domain.TlsOptional ? OutboundTlsMode.Opportunistic : OutboundTlsMode.Required, "dane-unusable",
                    new ReportingVerifier(AnyCertificateVerifier.Instance), sni);
                return RequireTlsCheck(domain, new HostPlan(any, TlsSessionResult.Tlsa, strings, [], false));
            }
            // No TLSA records at any candidate base domain, or an insecure host: no DANE for this host.
        }
        // 2. MTA-STS.
        if (domain.ActivePolicy is { } policy)
        {
            IReadOnlyList<string> strings = policy.Format().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            bool matches = policy.AllowsMx(hostName);
            bool enforce = policy.Mode == MtaStsMode.Enforce || domain.RequireTls; // REQUIRETLS: testing counts as enforce
            if (!matches && enforce)
            {
                return new HostPlan(null, TlsSessionResult.Sts, strings, policy.Mx, false,
                    $"{hostName} is not an MX host of the MTA-STS policy of {request.RecipientDomain} (mx: {string.Join(", ", policy.Mx)})", "validation-failure", "4.7.5");
            }
            var verifier = new ReportingVerifier(options.MtaStsVerifier);
            bool required = enforce && !domain.TlsOptional;
            var decision = new OutboundTlsDecision(required ? OutboundTlsMode.Required : OutboundTlsMode.Opportunistic,
                policy.Mode == MtaStsMode.Enforce ? "mta-sts" : "mta-sts-testing", verifier);
            return new HostPlan(decision, TlsSessionResult.Sts, strings, policy.Mx, required && matches);
        }
        // 3. No policy.
        OutboundTlsDecision d = await fallback.DecideAsync(new OutboundTlsContext(request.RecipientDomain, host.Name, port, host.Authentic, request.RequireTls), ct).ConfigureAwait(false);
        return RequireTlsCheck(domain, new HostPlan(d with { Verifier = new ReportingVerifier(d.Verifier) }, TlsSessionResult.NoPolicyFound, [], [], false));
    }

    /// <summary>RFC 8689 §4.2.1: with REQUIRETLS a host without DANE or MTA-STS verification is not used.</summary>
    private static HostPlan RequireTlsCheck(DomainSecurity domain, HostPlan plan) =>
        domain.RequireTls && !plan.Verified
            ? plan with
            {
                Decision = null,
                SkipReason = "the message requires TLS verified by DANE or MTA-STS (REQUIRETLS, RFC 8689) and the recipient domain has neither for this host",
                SkipEnhanced = "5.7.30",
                SkipForRequireTls = true,
            }
            : plan;
}
