// DMARC evaluation, RFC 7489 §6.6: record discovery at the From domain, then at its
// organizational domain; identifier alignment of SPF and DKIM results; the policy to
// apply, with sp= for subdomains and pct= sampling (§6.6.4: a message sampled out gets
// the next less severe policy). The result keeps what aggregate reports (RFC 7489 §7.2,
// Appendix C) need: published policy, disposition, per-mechanism results and reasons.
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.Spf;

namespace Postern.Security.Dmarc;

/// <summary>DMARC results (RFC 8601 §2.7.5 / RFC 7489 §11.2).</summary>
public enum DmarcResult
{
    /// <summary>No DMARC record (or no usable From domain).</summary>
    None,
    /// <summary>An aligned SPF or DKIM pass.</summary>
    Pass,
    /// <summary>No aligned pass.</summary>
    Fail,
    /// <summary>The record could not be fetched for now.</summary>
    TempError,
    /// <summary>The record or the From header is unusable.</summary>
    PermError,
}

/// <summary>Why the applied disposition differs from the published policy (RFC 7489 Appendix C, PolicyOverrideType).</summary>
public enum DmarcOverride
{
    /// <summary>No override.</summary>
    None,
    /// <summary>pct= sampling left the message out.</summary>
    SampledOut,
    /// <summary>A local policy decision.</summary>
    LocalPolicy,
}

/// <summary>A DKIM result as DMARC uses and reports it.</summary>
/// <param name="Domain">d=.</param>
/// <param name="Selector">s=.</param>
/// <param name="Result">The DKIM result.</param>
/// <param name="Aligned">Whether d= aligns with the From domain.</param>
public sealed record DmarcDkimEvidence(string Domain, string Selector, DkimResult Result, bool Aligned);

/// <summary>The outcome of a DMARC evaluation.</summary>
public sealed class DmarcEvaluation
{
    /// <summary>The result.</summary>
    public required DmarcResult Result { get; init; }

    /// <summary>The RFC5322.From domain (header.from), lower case, or empty.</summary>
    public required string FromDomain { get; init; }

    /// <summary>Organizational domain of <see cref="FromDomain"/>.</summary>
    public string OrganizationalDomain { get; init; } = "";

    /// <summary>The domain whose _dmarc record was used (From or organizational domain), or null.</summary>
    public string? RecordDomain { get; init; }

    /// <summary>The published record, or null.</summary>
    public DmarcRecord? Record { get; init; }

    /// <summary>The policy the record requests for this From domain (p=, or sp= for a subdomain).</summary>
    public DmarcPolicy RequestedPolicy { get; init; }

    /// <summary>What to do with the message: none unless the result is fail (after pct= sampling).</summary>
    public DmarcPolicy Disposition { get; init; }

    /// <summary>Why <see cref="Disposition"/> is milder than <see cref="RequestedPolicy"/>.</summary>
    public DmarcOverride Override { get; init; }

    /// <summary>Whether SPF passed for an aligned domain.</summary>
    public bool SpfAligned { get; init; }

    /// <summary>Whether a DKIM signature passed for an aligned domain.</summary>
    public bool DkimAligned { get; init; }

    /// <summary>The SPF result used (MAIL FROM identity), or null.</summary>
    public SpfResult? SpfResult { get; init; }

    /// <summary>The domain SPF checked.</summary>
    public string SpfDomain { get; init; } = "";

    /// <summary>Every DKIM signature with its alignment.</summary>
    public IReadOnlyList<DmarcDkimEvidence> Dkim { get; init; } = [];

    /// <summary>Whether the DMARC record came from a DNSSEC-authentic answer.</summary>
    public bool RecordDnssecAuthentic { get; init; }

    /// <summary>Why the result is not pass (or the error), for headers and logs.</summary>
    public string? Reason { get; init; }
}

/// <summary>Settings of the DMARC verifier.</summary>
public sealed class DmarcOptions
{
    /// <summary>The suffix list (default: system or embedded).</summary>
    public PublicSuffixList? PublicSuffixList { get; init; }

    /// <summary>Random numbers in [0, 100) for pct= sampling; tests pass a fixed one.</summary>
    public Func<int> Percentile { get; init; } = () => Random.Shared.Next(100);
}

/// <summary>Evaluates DMARC (RFC 7489).</summary>
public sealed class DmarcVerifier
{
    private readonly IDnsResolver _dns;
    private readonly DmarcOptions _options;
    private readonly PublicSuffixList _psl;

    /// <summary>Creates a verifier.</summary>
    public DmarcVerifier(IDnsResolver dns, DmarcOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dns);
        _dns = dns;
        _options = options ?? new DmarcOptions();
        _psl = _options.PublicSuffixList ?? PublicSuffixList.Default;
    }

    /// <summary>The organizational domain of a name, per the configured suffix list.</summary>
    public string OrganizationalDomain(string domain) => _psl.OrganizationalDomain(domain);

    /// <summary>
    /// Evaluates a message whose RFC5322.From domain is <paramref name="fromDomain"/> (see
    /// <see cref="DmarcFrom.TryGetDomain"/>), given its SPF (MAIL FROM) and DKIM results.
    /// </summary>
    public async Task<DmarcEvaluation> EvaluateAsync(string fromDomain, SpfCheckResult? spf, IReadOnlyList<DkimSignatureResult> dkim, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fromDomain);
        ArgumentNullException.ThrowIfNull(dkim);
        string from = fromDomain.TrimEnd('.').ToLowerInvariant();
        if (!DnsName.TryNormalize(from, out string? normalized, out string? why) || !from.Contains('.', StringComparison.Ordinal))
            return new DmarcEvaluation { Result = DmarcResult.PermError, FromDomain = from, Reason = "invalid From domain: " + (why ?? from) };
        from = normalized;
        string org = _psl.OrganizationalDomain(from);

        // RFC 7489 §6.6.3: the From domain's record, else the organizational domain's.
        (DmarcRecord? record, string? recordDomain, bool authentic, DmarcEvaluation? failure) = await DiscoverAsync(from, org, cancellationToken).ConfigureAwait(false);
        if (failure is not null) return failure;

        DmarcAlignment aspf = record?.SpfAlignment ?? DmarcAlignment.Relaxed;
        DmarcAlignment adkim = record?.DkimAlignment ?? DmarcAlignment.Relaxed;
        bool spfAligned = spf is { Result: Spf.SpfResult.Pass } && Aligned(spf.Domain, from, aspf);
        var evidence = new List<DmarcDkimEvidence>();
        foreach (DkimSignatureResult r in dkim)
        {
            if (r.Signature is null) continue;
            evidence.Add(new DmarcDkimEvidence(r.Domain, r.Selector, r.Result, Aligned(r.Domain, from, adkim)));
        }
        bool dkimAligned = evidence.Exists(e => e.Result == DkimResult.Pass && e.Aligned);
        if (record is null)
        {
            return new DmarcEvaluation
            {
                Result = DmarcResult.None, FromDomain = from, OrganizationalDomain = org, SpfAligned = spfAligned, DkimAligned = dkimAligned,
                SpfResult = spf?.Result, SpfDomain = spf?.Domain ?? "", Dkim = evidence, RecordDnssecAuthentic = authentic, Reason = "no DMARC record",
            };
        }
        // sp= applies when the record was found at the organizational domain for a subdomain (RFC 7489 §6.3).
        DmarcPolicy requested = recordDomain != from && record.SubdomainPolicy is { } sp ? sp : record.Policy;
        bool pass = spfAligned || dkimAligned;
        DmarcPolicy disposition = DmarcPolicy.None;
        DmarcOverride over = DmarcOverride.None;
        if (!pass)
        {
            disposition = requested;
            if (requested != DmarcPolicy.None && record.Percent < 100 && _options.Percentile() >= record.Percent)
            {
                // RFC 7489 §6.6.4: sampled-out messages get the next policy down.
                disposition = requested == DmarcPolicy.Reject ? DmarcPolicy.Quarantine : DmarcPolicy.None;
                over = DmarcOverride.SampledOut;
            }
        }
        return new DmarcEvaluation
        {
            Result = pass ? DmarcResult.Pass : DmarcResult.Fail, FromDomain = from, OrganizationalDomain = org, RecordDomain = recordDomain, Record = record,
            RequestedPolicy = requested, Disposition = disposition, Override = over, SpfAligned = spfAligned, DkimAligned = dkimAligned,
            SpfResult = spf?.Result, SpfDomain = spf?.Domain ?? "", Dkim = evidence, RecordDnssecAuthentic = authentic,
            Reason = pass ? null : "no aligned SPF or DKIM pass",
        };
    }

    private async Task<(DmarcRecord?, string?, bool, DmarcEvaluation?)> DiscoverAsync(string from, string org, CancellationToken cancellationToken)
    {
        foreach (string domain in from == org ? new[] { from } : [from, org])
        {
            DnsResult<TxtRecord> txt = await _dns.LookupTxtAsync("_dmarc." + domain, cancellationToken).ConfigureAwait(false);
            if (txt.IsTemporaryFailure)
                return (null, null, false, new DmarcEvaluation { Result = DmarcResult.TempError, FromDomain = from, OrganizationalDomain = org, Reason = "DMARC record lookup failed: " + txt.Describe() });
            var candidates = txt.Records.Select(r => r.Text).Where(DmarcRecord.IsDmarcRecord).ToList();
            if (candidates.Count == 0) continue;
            // RFC 7489 §6.6.3: more than one record means no DMARC for this domain.
            if (candidates.Count > 1)
                return (null, null, false, new DmarcEvaluation { Result = DmarcResult.PermError, FromDomain = from, OrganizationalDomain = org, RecordDomain = domain, Reason = $"more than one DMARC record at _dmarc.{domain}" });
            if (!DmarcRecord.TryParse(candidates[0], out DmarcRecord? record, out string? error))
                return (null, null, false, new DmarcEvaluation { Result = DmarcResult.PermError, FromDomain = from, OrganizationalDomain = org, RecordDomain = domain, Reason = $"invalid DMARC record at _dmarc.{domain}: {error}" });
            return (record, domain, txt.Authentic, null);
        }
        return (null, null, false, null);
    }

    /// <summary>Identifier alignment (RFC 7489 §3.1): equal, or under relaxed mode the same organizational domain.</summary>
    public bool Aligned(string domain, string fromDomain, DmarcAlignment mode)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(fromDomain);
        string d = domain.TrimEnd('.').ToLowerInvariant(), f = fromDomain.TrimEnd('.').ToLowerInvariant();
        if (d.Length == 0) return false;
        if (d == f) return true;
        return mode == DmarcAlignment.Relaxed && _psl.OrganizationalDomain(d) == _psl.OrganizationalDomain(f);
    }
}

/// <summary>Finds the RFC5322.From domain DMARC evaluates.</summary>
public static class DmarcFrom
{
    /// <summary>
    /// The domain of the single From address. Messages with no From, several From fields or
    /// several addresses have no single author domain (RFC 7489 §6.6.1); <paramref name="error"/> says why.
    /// </summary>
    public static bool TryGetDomain(ReadOnlyMemory<byte> message, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? domain, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        domain = null;
        var block = DkimHeaderBlock.Parse(message, DkimHeaderBlock.FindBodyOffset(message.Span));
        var froms = new List<int>();
        for (int i = 0; i < block.Fields.Count; i++)
            if (block.Fields[i].Name.Equals("From", StringComparison.OrdinalIgnoreCase)) froms.Add(i);
        if (froms.Count == 0) { error = "no From header field"; return false; }
        if (froms.Count > 1) { error = "more than one From header field"; return false; }
        string value = Postern.Mail.HeaderField.Unfold(block.Field(froms[0])[(block.Field(froms[0]).IndexOf((byte)':') + 1)..]);
        IReadOnlyList<Postern.Mail.MailAddress> addresses = Postern.Mail.AddressParser.ParseMailboxes(value);
        if (addresses.Count != 1) { error = addresses.Count == 0 ? "no address in From" : "more than one address in From"; return false; }
        string d = addresses[0].DomainAscii;
        if (d.Length == 0) { error = "From address has no domain"; return false; }
        domain = d.ToLowerInvariant();
        error = null;
        return true;
    }
}
