// One outgoing TLS session as TLS reporting (RFC 8460) counts it. The SMTP client's TLS policy
// step records one per connection attempt (success or failure, under the policy that applied);
// the daily TLS report sender aggregates them per recipient (policy) domain and UTC day.
namespace Postern.Store.Reports;

/// <summary>The outcome of one outgoing TLS session attempt under one policy (RFC 8460 §4).</summary>
public sealed record TlsSessionResult
{
    /// <summary>Policy type values of RFC 8460 §4.4.</summary>
    public const string Sts = "sts", Tlsa = "tlsa", NoPolicyFound = "no-policy-found";

    /// <summary>When the session was attempted.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The recipient domain whose policy applied (lower case, A-labels).</summary>
    public required string PolicyDomain { get; init; }

    /// <summary><see cref="Sts"/>, <see cref="Tlsa"/> or <see cref="NoPolicyFound"/>.</summary>
    public required string PolicyType { get; init; }

    /// <summary>The policy's text: the MTA-STS policy lines, or each TLSA record in presentation form; empty for no-policy-found.</summary>
    public IReadOnlyList<string> PolicyStrings { get; init; } = [];

    /// <summary>The MX patterns of an MTA-STS policy; empty otherwise.</summary>
    public IReadOnlyList<string> MxHostPatterns { get; init; } = [];

    /// <summary>Whether TLS was negotiated as the policy required.</summary>
    public required bool Success { get; init; }

    /// <summary>On failure, a result type of RFC 8460 §4.3 (e.g. <c>starttls-not-supported</c>, <c>certificate-host-mismatch</c>, <c>tlsa-invalid</c>, <c>sts-policy-fetch-error</c>).</summary>
    public string? ResultType { get; init; }

    /// <summary>Our address on the connection, when one was made.</summary>
    public string? SendingMtaIp { get; init; }

    /// <summary>The MX host name.</summary>
    public string? ReceivingMxHostname { get; init; }

    /// <summary>The MX's EHLO/greeting name, when seen.</summary>
    public string? ReceivingMxHelo { get; init; }

    /// <summary>The MX's IP address, when connected.</summary>
    public string? ReceivingIp { get; init; }

    /// <summary>Free text with detail (e.g. the certificate problem).</summary>
    public string? AdditionalInformation { get; init; }

    /// <summary>A free-form reason code.</summary>
    public string? FailureReasonCode { get; init; }
}

/// <summary>
/// Takes TLS session results from outgoing delivery. Implementations must not block or throw:
/// delivery calls this on its own path; a recorder that cannot keep up drops and counts results
/// (report material, not mail).
/// </summary>
public interface ITlsResultRecorder
{
    /// <summary>Records one result.</summary>
    void Record(TlsSessionResult result);
}
