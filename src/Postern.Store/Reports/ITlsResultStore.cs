// Where outgoing TLS session results are kept until the daily TLS report (RFC 8460) is sent:
// counters per UTC day, policy domain and policy, plus failure details with their counts. One
// session is one increment, never a row of its own, so a busy day costs a few rows per domain.
namespace Postern.Store.Reports;

/// <summary>One kind of failure under one policy on one day, with how often it happened (RFC 8460 §4.4 failure-details).</summary>
/// <param name="ResultType">An RFC 8460 §4.3 result type.</param>
/// <param name="SendingMtaIp">Our address, or null.</param>
/// <param name="ReceivingMxHostname">The MX host name, or null.</param>
/// <param name="ReceivingMxHelo">The MX's greeting/EHLO name, or null.</param>
/// <param name="ReceivingIp">The MX's address, or null.</param>
/// <param name="AdditionalInformation">Detail text, or null.</param>
/// <param name="FailureReasonCode">A reason code, or null.</param>
/// <param name="FailedSessionCount">Sessions that failed this way.</param>
public sealed record TlsFailureDetail(string ResultType, string? SendingMtaIp, string? ReceivingMxHostname, string? ReceivingMxHelo,
    string? ReceivingIp, string? AdditionalInformation, string? FailureReasonCode, long FailedSessionCount);

/// <summary>A day's counts under one policy of one domain.</summary>
/// <param name="PolicyDomain">The recipient domain.</param>
/// <param name="PolicyType">sts, tlsa or no-policy-found.</param>
/// <param name="PolicyStrings">The policy text lines (MTA-STS) or TLSA records.</param>
/// <param name="MxHostPatterns">The MTA-STS mx patterns.</param>
/// <param name="SuccessCount">Sessions that succeeded.</param>
/// <param name="FailureCount">Sessions that failed.</param>
/// <param name="Failures">Failure details (bounded: see <see cref="SqliteTlsResultStore.MaxFailureDetailsPerDomainDay"/>).</param>
public sealed record TlsPolicyDaySummary(string PolicyDomain, string PolicyType, IReadOnlyList<string> PolicyStrings, IReadOnlyList<string> MxHostPatterns,
    long SuccessCount, long FailureCount, IReadOnlyList<TlsFailureDetail> Failures);

/// <summary>Aggregated outgoing TLS session results (DATA/reports.db for the embedded backend).</summary>
public interface ITlsResultStore : IAsyncDisposable
{
    /// <summary>Adds results to their day's counters in one transaction.</summary>
    Task AddAsync(IReadOnlyList<TlsSessionResult> results, CancellationToken cancellationToken = default);

    /// <summary>The policy domains with results on a UTC day, ordered.</summary>
    Task<IReadOnlyList<string>> ListPolicyDomainsAsync(DateOnly utcDay, CancellationToken cancellationToken = default);

    /// <summary>A domain's counters and failure details on a UTC day, one entry per policy.</summary>
    Task<IReadOnlyList<TlsPolicyDaySummary>> GetDayAsync(DateOnly utcDay, string policyDomain, CancellationToken cancellationToken = default);

    /// <summary>Deletes the results of days before <paramref name="utcDay"/>; returns how many rows.</summary>
    Task<long> DeleteBeforeAsync(DateOnly utcDay, CancellationToken cancellationToken = default);
}
