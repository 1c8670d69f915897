// One stored DMARC evaluation of an incoming message: what a DMARC aggregate report
// (RFC 7489 §7.2 and Appendix C) says about it. Results are kept as the report's keywords
// ("pass", "quarantine", "sampled_out", ...) so that the stored form does not depend on the
// enums of the verifier, and a report generator needs no further lookups.
using Postern.Security.AuthResults;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;
using Postern.Security.Spf;

namespace Postern.Store.Reports;

/// <summary>A DKIM signature as an aggregate report lists it (RFC 7489 Appendix C, DKIMAuthResultType).</summary>
/// <param name="Domain">d= of the signature.</param>
/// <param name="Selector">s= of the signature.</param>
/// <param name="Result">none, pass, fail, policy, neutral, temperror or permerror.</param>
/// <param name="Aligned">Whether <paramref name="Domain"/> aligned with the From domain.</param>
public sealed record DmarcDkimEntry(string Domain, string Selector, string Result, bool Aligned);

/// <summary>A DMARC evaluation as stored for aggregate reports.</summary>
public sealed record DmarcEvaluationRecord
{
    /// <summary>When the message was evaluated.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The domain whose _dmarc record applied (report's policy_published/domain); the From domain when none was found.</summary>
    public required string PolicyDomain { get; init; }

    /// <summary>The RFC5322.From domain (identifiers/header_from), lower case; empty when the From header was unusable.</summary>
    public required string HeaderFrom { get; init; }

    /// <summary>The SMTP client's address (row/source_ip).</summary>
    public required string SourceIp { get; init; }

    /// <summary>The MAIL FROM domain (identifiers/envelope_from); empty for the null sender.</summary>
    public string EnvelopeFrom { get; init; } = "";

    /// <summary>The recipients' domains, space separated (identifiers/envelope_to).</summary>
    public string EnvelopeTo { get; init; } = "";

    /// <summary>DMARC result: none, pass, fail, temperror, permerror.</summary>
    public required string Result { get; init; }

    /// <summary>Disposition applied: none, quarantine, reject.</summary>
    public string Disposition { get; init; } = "none";

    /// <summary>Whether an aligned DKIM signature passed (policy_evaluated/dkim).</summary>
    public bool DkimAligned { get; init; }

    /// <summary>Whether SPF passed for an aligned domain (policy_evaluated/spf).</summary>
    public bool SpfAligned { get; init; }

    /// <summary>Override of the requested policy: none, sampled_out, local_policy.</summary>
    public string Override { get; init; } = "none";

    /// <summary>Why the result is not pass, or the error; null when none.</summary>
    public string? Reason { get; init; }

    /// <summary>The domain SPF checked (auth_results/spf/domain).</summary>
    public string SpfDomain { get; init; } = "";

    /// <summary>The SPF result (auth_results/spf/result): none, neutral, pass, fail, softfail, temperror, permerror.</summary>
    public string SpfResult { get; init; } = "none";

    /// <summary>Every DKIM signature (auth_results/dkim).</summary>
    public IReadOnlyList<DmarcDkimEntry> Dkim { get; init; } = [];

    /// <summary>Whether a DMARC record was found; the policy fields below are meaningful only then.</summary>
    public bool HasRecord { get; init; }

    /// <summary>p= of the record: none, quarantine, reject.</summary>
    public string Policy { get; init; } = "none";

    /// <summary>sp= of the record, or null when absent.</summary>
    public string? SubdomainPolicy { get; init; }

    /// <summary>pct= of the record.</summary>
    public int Percent { get; init; } = 100;

    /// <summary>adkim= of the record: r or s.</summary>
    public string DkimAlignment { get; init; } = "r";

    /// <summary>aspf= of the record: r or s.</summary>
    public string SpfAlignment { get; init; } = "r";

    /// <summary>fo= of the record.</summary>
    public string FailureOptions { get; init; } = "0";

    /// <summary>The record's text as published (with its rua= addresses), or empty.</summary>
    public string RecordText { get; init; } = "";

    /// <summary>Whether the DMARC record came from a DNSSEC-authentic answer.</summary>
    public bool RecordDnssecAuthentic { get; init; }

    /// <summary>The record of an evaluation made by <see cref="MessageAuthenticator"/> for a message.</summary>
    public static DmarcEvaluationRecord From(MessageAuthentication auth, IEnumerable<string> recipients, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(recipients);
        DmarcEvaluation d = auth.Dmarc;
        DmarcRecord? r = d.Record;
        string envelopeTo = string.Join(' ', recipients.Select(DomainOf).Where(x => x.Length > 0).Distinct(StringComparer.Ordinal));
        return new DmarcEvaluationRecord
        {
            Time = time,
            PolicyDomain = d.RecordDomain ?? d.FromDomain,
            HeaderFrom = d.FromDomain,
            SourceIp = (auth.Sender.ClientIp.IsIPv4MappedToIPv6 ? auth.Sender.ClientIp.MapToIPv4() : auth.Sender.ClientIp).ToString(),
            EnvelopeFrom = DomainOf(auth.Sender.MailFrom),
            EnvelopeTo = envelopeTo,
            Result = d.Result.ToString().ToLowerInvariant(),
            Disposition = DmarcRecord.Keyword(d.Disposition),
            DkimAligned = d.DkimAligned,
            SpfAligned = d.SpfAligned,
            Override = d.Override switch { DmarcOverride.SampledOut => "sampled_out", DmarcOverride.LocalPolicy => "local_policy", _ => "none" },
            Reason = d.Reason,
            // The SPF check of MAIL FROM as made, also when DMARC stopped before using it (no record, DNS failure).
            SpfDomain = d.SpfDomain.Length > 0 ? d.SpfDomain : auth.Sender.Spf.MailFrom.Domain,
            SpfResult = (d.SpfResult ?? auth.Sender.Spf.MailFrom.Result).ToKeyword(),
            Dkim = [.. d.Dkim.Select(k => new DmarcDkimEntry(k.Domain, k.Selector, DkimKeyword(k.Result), k.Aligned))],
            HasRecord = r is not null,
            Policy = r is null ? "none" : DmarcRecord.Keyword(r.Policy),
            SubdomainPolicy = r?.SubdomainPolicy is { } sp ? DmarcRecord.Keyword(sp) : null,
            Percent = r?.Percent ?? 100,
            DkimAlignment = r?.DkimAlignment == DmarcAlignment.Strict ? "s" : "r",
            SpfAlignment = r?.SpfAlignment == DmarcAlignment.Strict ? "s" : "r",
            FailureOptions = r?.FailureOptions ?? "0",
            RecordText = r?.Text ?? "",
            RecordDnssecAuthentic = d.RecordDnssecAuthentic,
        };
    }

    private static string DkimKeyword(DkimResult r) => r.ToString().ToLowerInvariant();

    private static string DomainOf(string address)
    {
        int at = address.LastIndexOf('@');
        return at < 0 ? "" : address[(at + 1)..].TrimEnd('>').ToLowerInvariant();
    }
}
