// One TlsSessionResult (RFC 8460 §4) per TLS session attempt of direct delivery, under the
// policy that applied to the MX host: "tlsa" (DANE), "sts" (MTA-STS) or "no-policy-found".
// Failures use the result types of RFC 8460 §4.3: starttls-not-supported,
// certificate-host-mismatch, certificate-expired, certificate-not-trusted, validation-failure
// (also an MX host outside the MTA-STS policy), tlsa-invalid, dnssec-invalid,
// sts-policy-fetch-error, sts-policy-invalid. A connection that never got as far as EHLO is not
// a TLS session and is not recorded. Neither is any session that delivers a TLS report: Postern's
// own rule against report loops (a domain with a TLS problem would otherwise get a report about
// the delivery of its report every day); RFC 8460 does not ask for it in the sections checked
// (§3, §5.3.1, which only says such deliveries ignore MTA-STS and DANE failures).
using Postern.Security.MtaSts;
using Postern.Store.Reports;

namespace Postern.Smtp.Client;

/// <summary>Builds and records the TLS results of one delivery attempt.</summary>
/// <param name="options">Where results go.</param>
/// <param name="recipientDomain">The policy domain.</param>
/// <param name="security">What applies to the domain.</param>
/// <param name="recording">False for the delivery of a TLS report (no report loops; see the file comment): nothing is recorded.</param>
internal sealed class TlsResultReporter(DeliverySecurityOptions options, string recipientDomain, DomainSecurity security, bool recording = true)
{
    private readonly string _domain = recipientDomain.TrimEnd('.').ToLowerInvariant();

    /// <summary>
    /// A policy that could not be fetched or parsed counts as a failed session of type sts (RFC 8460 §4.3.2.2), and so
    /// does an invalid <c>_mta-sts</c> record (several STSv1 records, no valid id: <c>sts-policy-invalid</c>), also
    /// when a cached policy stays in force because of it (RFC 8461 §3.1, §3.3).
    /// </summary>
    public void PolicyLookup()
    {
        MtaStsLookup sts = security.Sts;
        if (sts.Error is not { } error) return;
        string? type = sts.RecordInvalid ? "sts-policy-invalid"
            : sts is { Policy: null, Id: not null } ? (sts.PolicyInvalid ? "sts-policy-invalid" : "sts-policy-fetch-error")
            : null;
        if (type is null) return;
        Record(new TlsSessionResult
        {
            Time = options.Time.GetUtcNow(),
            PolicyDomain = _domain,
            PolicyType = TlsSessionResult.Sts,
            PolicyStrings = sts.Policy is { } cached ? cached.Format().Split("\r\n", StringSplitOptions.RemoveEmptyEntries) : [],
            MxHostPatterns = sts.Policy?.Mx ?? [],
            Success = false,
            ResultType = type,
            AdditionalInformation = Clip(error),
        });
    }

    /// <summary>A host the policy ruled out (outside the MTA-STS policy, failed TLSA lookup).</summary>
    public void Skipped(string host, HostPlan plan)
    {
        if (plan.SkipResultType is null) return;
        Record(Base(host, plan) with { Success = false, ResultType = plan.SkipResultType, AdditionalInformation = Clip(plan.SkipReason) });
    }

    /// <summary>The session with one address of a host.</summary>
    public void Session(string host, string ip, HostPlan plan, HostOutcome outcome)
    {
        ReportingVerifier? verifier = plan.Reporter;
        try
        {
            if (!outcome.Connected || outcome.StartTlsOffered is null) return;
            TlsSessionResult r = Base(host, plan) with
            {
                ReceivingIp = ip,
                SendingMtaIp = outcome.LocalAddress,
                ReceivingMxHelo = outcome.PeerName,
            };
            if (outcome.StartTlsOffered == false && !outcome.TlsAttempted)
            {
                Record(r with { Success = false, ResultType = "starttls-not-supported", AdditionalInformation = $"{host} does not offer STARTTLS" });
                return;
            }
            if (!outcome.TlsAttempted) return;
            bool checkCertificate = plan.PolicyType != TlsSessionResult.NoPolicyFound;
            if (checkCertificate && verifier?.FailureType is { } type)
            {
                Record(r with { Success = false, ResultType = type, AdditionalInformation = Clip(verifier.Failure) });
                return;
            }
            if (!outcome.Tls.Used && outcome.Tls.Error is { } handshake)
            {
                Record(r with { Success = false, ResultType = "validation-failure", AdditionalInformation = Clip("TLS handshake failed: " + handshake) });
                return;
            }
            Record(r with { Success = true });
        }
        finally
        {
            verifier?.Reset();
        }
    }

    private TlsSessionResult Base(string host, HostPlan plan) => new()
    {
        Time = options.Time.GetUtcNow(),
        PolicyDomain = _domain,
        PolicyType = plan.PolicyType,
        PolicyStrings = plan.PolicyStrings,
        MxHostPatterns = plan.MxPatterns,
        ReceivingMxHostname = host.TrimEnd('.'),
        Success = false,
    };

    private void Record(TlsSessionResult result)
    {
        if (!recording || options.TlsResults is not { } recorder) return;
        try
        {
            recorder.Record(result);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The contract says recorders do not throw; a broken one must not stop delivery either.
        }
    }

    private static string? Clip(string? s) => s is null || s.Length <= 500 ? s : s[..500];
}
