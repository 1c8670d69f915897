using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Postern.Mail.Reports;

// SMTP TLS reports (RFC 8460 §4): the JSON document one sending organisation sends to a
// domain's TLSRPT address once a day, summarising its TLS sessions to that domain's MX hosts
// under each policy (MTA-STS, DANE, or none found). The model mirrors the JSON names exactly;
// parsing is bounded (size, depth, counts) because reports come from anyone.

/// <summary>An RFC 8460 TLS report.</summary>
public sealed record TlsReport
{
    /// <summary>The reporting organisation.</summary>
    [JsonRequired, JsonPropertyName("organization-name")] public string OrganizationName { get; init; } = "";

    /// <summary>The period covered (UTC, normally one day).</summary>
    [JsonRequired, JsonPropertyName("date-range")] public TlsReportDateRange DateRange { get; init; } = new();

    /// <summary>How to reach the reporter (an address or URL).</summary>
    [JsonPropertyName("contact-info")] public string ContactInfo { get; init; } = "";

    /// <summary>A unique id of the report.</summary>
    [JsonRequired, JsonPropertyName("report-id")] public string ReportId { get; init; } = "";

    /// <summary>One entry per policy applied.</summary>
    [JsonRequired, JsonPropertyName("policies")] public IReadOnlyList<TlsReportPolicyResult> Policies { get; init; } = [];

    /// <summary>Largest report JSON accepted (after decompression).</summary>
    public const int MaxJsonSize = 8 * 1024 * 1024;

    private static readonly JsonSerializerOptions Options = new()
    {
        MaxDepth = 16,
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Parses report JSON; null with an error when it is not a valid report.</summary>
    public static TlsReport? Parse(ReadOnlySpan<byte> json, out string? error)
    {
        error = null;
        if (json.Length > MaxJsonSize)
        {
            error = $"report larger than {MaxJsonSize} bytes";
            return null;
        }
        TlsReport? report;
        try
        {
            report = JsonSerializer.Deserialize<TlsReport>(json, Options);
        }
        catch (JsonException ex)
        {
            error = "invalid JSON: " + ex.Message;
            return null;
        }
        if (report is null)
        {
            error = "empty report";
            return null;
        }
        // RFC 8460 §4.4: required fields are marked [JsonRequired]; these must also be meaningful.
        if (report.OrganizationName.Length == 0 || report.ReportId.Length == 0)
            error = "organization-name and report-id are required";
        else if (report.DateRange.Start == default || report.DateRange.End == default || report.DateRange.End < report.DateRange.Start)
            error = "date-range is missing or inverted";
        return error is null ? report : null;
    }

    /// <summary>Parses a report that may be gzip-compressed (application/tlsrpt+gzip, RFC 8460 §5.3).</summary>
    public static TlsReport? ParseMaybeGzip(ReadOnlySpan<byte> data, out string? error)
    {
        if (data.Length >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        {
            byte[]? json = BoundedDecompression.Gunzip(data.ToArray(), MaxJsonSize, out error);
            return json is null ? null : Parse(json, out error);
        }
        return Parse(data, out error);
    }

    /// <summary>The report as compact JSON (UTF-8).</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <summary>The report as gzip-compressed JSON, as sent by mail.</summary>
    public byte[] ToGzip()
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
            gz.Write(ToJson());
        return output.ToArray();
    }

}

/// <summary>The period a report covers.</summary>
public sealed record TlsReportDateRange
{
    /// <summary>Start (RFC 3339).</summary>
    [JsonRequired, JsonPropertyName("start-datetime")] public DateTimeOffset Start { get; init; }

    /// <summary>End (RFC 3339).</summary>
    [JsonRequired, JsonPropertyName("end-datetime")] public DateTimeOffset End { get; init; }
}

/// <summary>The sessions under one policy.</summary>
public sealed record TlsReportPolicyResult
{
    /// <summary>The policy that was applied.</summary>
    [JsonRequired, JsonPropertyName("policy")] public TlsReportPolicy Policy { get; init; } = new();

    /// <summary>Session counts.</summary>
    [JsonRequired, JsonPropertyName("summary")] public TlsReportSummary Summary { get; init; } = new();

    /// <summary>Failures grouped by kind and hosts.</summary>
    [JsonPropertyName("failure-details")] public IReadOnlyList<TlsReportFailure>? FailureDetails { get; init; }
}

/// <summary>The policy a sender applied (RFC 8460 §4.4).</summary>
public sealed record TlsReportPolicy
{
    /// <summary>Policy type values.</summary>
    public const string Sts = "sts", Tlsa = "tlsa", NoPolicyFound = "no-policy-found";

    /// <summary><c>sts</c>, <c>tlsa</c> or <c>no-policy-found</c>.</summary>
    [JsonRequired, JsonPropertyName("policy-type")] public string PolicyType { get; init; } = NoPolicyFound;

    /// <summary>The policy's text: the MTA-STS policy lines, or each TLSA record.</summary>
    [JsonPropertyName("policy-string")] public IReadOnlyList<string>? PolicyString { get; init; }

    /// <summary>The domain the policy belongs to.</summary>
    [JsonRequired, JsonPropertyName("policy-domain")] public string PolicyDomain { get; init; } = "";

    /// <summary>MX host patterns of an MTA-STS policy.</summary>
    [JsonPropertyName("mx-host")] public IReadOnlyList<string>? MxHost { get; init; }
}

/// <summary>Counts of sessions.</summary>
public sealed record TlsReportSummary
{
    /// <summary>Sessions that negotiated TLS as the policy required.</summary>
    [JsonRequired, JsonPropertyName("total-successful-session-count")] public long TotalSuccessfulSessionCount { get; init; }

    /// <summary>Sessions that failed.</summary>
    [JsonRequired, JsonPropertyName("total-failure-session-count")] public long TotalFailureSessionCount { get; init; }
}

/// <summary>One kind of failure with one receiving host (RFC 8460 §4.3, §4.4).</summary>
public sealed record TlsReportFailure
{
    /// <summary>Result types of RFC 8460 §4.3.</summary>
    public static readonly IReadOnlySet<string> ResultTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
        "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required",
        "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
    };

    /// <summary>One of <see cref="ResultTypes"/> (others may appear from newer senders).</summary>
    [JsonRequired, JsonPropertyName("result-type")] public string ResultType { get; init; } = "";

    /// <summary>The sender's IP address.</summary>
    [JsonPropertyName("sending-mta-ip")] public string? SendingMtaIp { get; init; }

    /// <summary>The MX host name.</summary>
    [JsonPropertyName("receiving-mx-hostname")] public string? ReceivingMxHostname { get; init; }

    /// <summary>The MX's greeting or EHLO name.</summary>
    [JsonPropertyName("receiving-mx-helo")] public string? ReceivingMxHelo { get; init; }

    /// <summary>The MX's IP address.</summary>
    [JsonPropertyName("receiving-ip")] public string? ReceivingIp { get; init; }

    /// <summary>Sessions that failed this way.</summary>
    [JsonRequired, JsonPropertyName("failed-session-count")] public long FailedSessionCount { get; init; }

    /// <summary>A URI or text with more detail.</summary>
    [JsonPropertyName("additional-information")] public string? AdditionalInformation { get; init; }

    /// <summary>A free-form reason code.</summary>
    [JsonPropertyName("failure-reason-code")] public string? FailureReasonCode { get; init; }
}

/// <summary>The <c>_smtp._tls</c> TXT record that names where a domain wants TLS reports (RFC 8460 §3).</summary>
/// <param name="ReportUris">The rua destinations, <c>mailto:</c> or <c>https:</c> URIs.</param>
public sealed record TlsRptRecord(IReadOnlyList<Uri> ReportUris)
{
    /// <summary>Parses the record text; null with an error when it is not a valid TLSRPTv1 record.</summary>
    public static TlsRptRecord? Parse(string text, out string? error)
    {
        error = null;
        string[] fields = text.Split(';');
        if (fields[0].Trim() != "v=TLSRPTv1")
        {
            error = "record does not start with v=TLSRPTv1";
            return null;
        }
        List<Uri>? uris = null;
        foreach (string raw in fields.Skip(1))
        {
            string f = raw.Trim(' ', '\t');
            if (f.Length == 0)
                continue;
            int eq = f.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                error = $"malformed field \"{f}\"";
                return null;
            }
            if (f[..eq] != "rua")
                continue; // extensions
            if (uris is not null)
            {
                error = "rua given twice";
                return null;
            }
            uris = [];
            foreach (string u in f[(eq + 1)..].Split(','))
            {
                // RFC 8460 §3: commas and semicolons inside URIs are %-encoded.
                if (!Uri.TryCreate(u.Trim(), UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("mailto" or "https"))
                {
                    error = $"rua must be mailto: or https: URIs, not \"{u.Trim()}\"";
                    return null;
                }
                uris.Add(uri);
            }
        }
        if (uris is null || uris.Count == 0)
        {
            error = "no rua field";
            return null;
        }
        return new TlsRptRecord(uris);
    }
}
