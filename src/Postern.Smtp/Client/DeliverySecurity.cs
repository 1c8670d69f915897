// The TLS policy of direct delivery with DANE and MTA-STS: which MX hosts may be used, and for
// each one whether TLS is required and how its certificate is checked.
//
//   1. DANE (RFC 7672) first, per MX host: when the MX lookup and the host's address lookups were
//      DNSSEC-authentic (§2.2.1, §2.2.2), the TLSA records at _PORT._tcp.HOST are looked up.
//      Authentic and usable: STARTTLS required, the certificate checked only with DaneVerifier
//      (§3.1; the MX host name is the reference identifier for DANE-TA, §3.2.2). Authentic but
//      none usable: TLS required without authentication (§2.2). Not found or not authentic
//      (an insecure zone): no DANE. A failed TLSA lookup (SERVFAIL: bogus or unreachable) of a
//      secure host: that host is not used, delivery is deferred if no other host works (§2.2).
//      An MX host name that is a CNAME whose every step is secure: TLSA records at the expanded
//      name first, then at the original name (§2.2.2); an insecure step: the original name only.
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
using System.Globalization;
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
/// <param name="referenceNames">Names the leaf must carry for DANE-TA (RFC 7672 §3.2.2: the MX host name).</param>
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

    public async Task<HostPlan> ForHostAsync(OutboundRequest request, DomainSecurity domain, MxHost host, HostAddresses addresses, int port, CancellationToken ct)
    {
        string hostName = host.Name.TrimEnd('.');
        // 1. DANE.
        if (options.Dane && host.Authentic && addresses.Authentic && !host.Name.StartsWith('['))
        {
            // RFC 7672 §2.2.2 (and §2.2.3 for MX hosts): when the host name is an alias whose every CNAME step is
            // DNSSEC-secure, the TLSA base domain is the fully expanded name, and the original name is tried when
            // the expanded one has no TLSA records; with any insecure step only the original name is used.
            string? expanded = addresses.ExpandedName is { } e && await ExpansionIsSecureAsync(hostName, addresses.CnameChain!, ct).ConfigureAwait(false) ? e : null;
            string[] bases = expanded is null ? [hostName] : [expanded, hostName];
            foreach (string baseDomain in bases)
            {
                string tlsaName = string.Create(CultureInfo.InvariantCulture, $"_{port}._tcp.{baseDomain}");
                DnsResult<TlsaRecord> tlsa = await dns.LookupTlsaAsync(tlsaName, ct).ConfigureAwait(false);
                if (tlsa.IsTemporaryFailure)
                {
                    // RFC 7672 §2.2: a secure MX whose TLSA lookup fails is not used; delivery is deferred.
                    return new HostPlan(null, TlsSessionResult.Tlsa, [], [], false,
                        $"TLSA lookup {tlsaName} failed ({tlsa.Describe()}); not delivering to this secure MX without it (RFC 7672 §2.2)", "dnssec-invalid", "4.7.5");
                }
                if (!(tlsa.IsSuccess && tlsa.Authentic && tlsa.Records.Count > 0))
                    continue; // NoData/NXDOMAIN or an insecure answer: the next base domain, else no DANE.
                var records = tlsa.Records.Take(MaxTlsaRecords).ToList();
                var strings = records.Select(r => r.FormatData()).ToList();
                // RFC 7672 §3.2.2: with a CNAME-expanded base domain, both it and the MX host name are reference identifiers.
                string[] names = expanded is null ? [hostName] : [expanded, hostName];
                if (records.Any(DaneVerifier.IsUsable))
                {
                    var verifier = new ReportingVerifier(new DaneServerVerifier(records, names, options.Time));
                    var decision = new OutboundTlsDecision(domain.TlsOptional ? OutboundTlsMode.Opportunistic : OutboundTlsMode.Required, "dane", verifier);
                    return new HostPlan(decision, TlsSessionResult.Tlsa, strings, [], !domain.TlsOptional);
                }
                // RFC 7672 §2.2: TLSA records exist but none is usable: TLS is mandatory, unauthenticated.
                var any = new OutboundTlsDecision(domain.TlsOptional ? OutboundTlsMode.Opportunistic : OutboundTlsMode.Required, "dane-unusable",
                    new ReportingVerifier(AnyCertificateVerifier.Instance));
                return RequireTlsCheck(domain, new HostPlan(any, TlsSessionResult.Tlsa, strings, [], false));
            }
            // No TLSA records at any base domain: no DANE for this host.
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

    /// <summary>
    /// RFC 7672 §2.2.2: whether every step of the CNAME expansion of <paramref name="hostName"/> is DNSSEC-secure:
    /// each alias (the host name and every intermediate target) answered authentically for its CNAME, and the final
    /// name's addresses authentic. A validating resolver's answer for the whole chain already says so; asking step by
    /// step keeps the decision right when a resolver's AD bit covered only the first name.
    /// </summary>
    private async Task<bool> ExpansionIsSecureAsync(string hostName, IReadOnlyList<string> chain, CancellationToken ct)
    {
        string owner = hostName;
        foreach (string target in chain)
        {
            DnsResult<DnsRecord> step = await dns.QueryAsync(owner, DnsRecordType.CNAME, ct).ConfigureAwait(false);
            if (!step.IsSuccess || !step.Authentic) return false;
            owner = target;
        }
        DnsResult<System.Net.IPAddress> final = await dns.LookupIPAsync(owner, ct).ConfigureAwait(false);
        return final.IsSuccess && final.Authentic && final.CnameChain.Count == 0;
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
