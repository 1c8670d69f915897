// TLS reports (RFC 8460): one per policy domain and UTC day, built from the day's counters.
using Postern.Dns;
using Postern.Mail.Reports;
using Postern.Store.Reports;

namespace Postern.Queue.Reports;

public sealed partial class ReportSender
{
    /// <summary>Days back that a TLS report is still sent (a server that was down over midnight catches up).</summary>
    private const int TlsCatchUpDays = 3;

    private async Task RunTlsAsync(DateTimeOffset now, bool dryRun, List<ReportDispatch> output, CancellationToken ct)
    {
        DateOnly today = DateOnly.FromDateTime(now.UtcDateTime);
        if (_options.TlsEnabled)
        {
            for (int back = TlsCatchUpDays; back >= 1; back--)
            {
                DateOnly day = today.AddDays(-back);
                DateTimeOffset dayStart = DmarcReportDay.Start(day);
                foreach (string domain in await _tls!.ListPolicyDomainsAsync(day, ct).ConfigureAwait(false))
                {
                    if (await _log.IsPeriodDoneAsync(TlsKind + ":" + domain, dayStart, ct).ConfigureAwait(false)) continue;
                    bool done = await SendTlsReportAsync(day, domain, dryRun, output, ct).ConfigureAwait(false);
                    if (done && !dryRun) await _log.MarkPeriodDoneAsync(TlsKind + ":" + domain, dayStart, ct).ConfigureAwait(false);
                }
            }
        }
        if (!dryRun) await _tls!.DeleteBeforeAsync(today.AddDays(-Math.Max(TlsCatchUpDays, _options.TlsRetentionDays)), ct).ConfigureAwait(false);
    }

    /// <summary>Builds a TLS report from a domain's counters of one day (RFC 8460 §4.4).</summary>
    public TlsReport BuildTlsReport(DateOnly day, string policyDomain, IReadOnlyList<TlsPolicyDaySummary> summaries)
    {
        ArgumentNullException.ThrowIfNull(summaries);
        DateTimeOffset start = DmarcReportDay.Start(day);
        return new TlsReport
        {
            OrganizationName = _options.OrganizationName,
            // RFC 8460 §4.4: the range covers the UTC day; end-datetime as in the RFC's example (23:59:59Z).
            DateRange = new TlsReportDateRange { Start = start, End = DmarcReportDay.End(day).AddSeconds(-1) },
            ContactInfo = _options.FromAddress,
            ReportId = $"{day:yyyy-MM-dd}T00:00:00Z_{policyDomain}@{_options.HostName}",
            Policies = [.. summaries.Select(s => new TlsReportPolicyResult
            {
                Policy = new TlsReportPolicy
                {
                    PolicyType = s.PolicyType,
                    PolicyString = s.PolicyStrings.Count == 0 ? null : s.PolicyStrings,
                    PolicyDomain = policyDomain,
                    MxHost = s.MxHostPatterns.Count == 0 ? null : s.MxHostPatterns,
                },
                Summary = new TlsReportSummary { TotalSuccessfulSessionCount = s.SuccessCount, TotalFailureSessionCount = s.FailureCount },
                FailureDetails = s.Failures.Count == 0 ? null : [.. s.Failures.Select(f => new TlsReportFailure
                {
                    ResultType = f.ResultType,
                    SendingMtaIp = f.SendingMtaIp,
                    ReceivingMxHostname = f.ReceivingMxHostname,
                    ReceivingMxHelo = f.ReceivingMxHelo,
                    ReceivingIp = f.ReceivingIp,
                    FailedSessionCount = f.FailedSessionCount,
                    AdditionalInformation = f.AdditionalInformation,
                    FailureReasonCode = f.FailureReasonCode,
                })],
            })],
        };
    }

    /// <summary>Sends one domain's report of one day; false when it should be tried again later (DNS temporarily failed).</summary>
    private async Task<bool> SendTlsReportAsync(DateOnly day, string domain, bool dryRun, List<ReportDispatch> output, CancellationToken ct)
    {
        IReadOnlyList<TlsPolicyDaySummary> summaries = await _tls!.GetDayAsync(day, domain, ct).ConfigureAwait(false);
        if (summaries.Count == 0) return true;
        if (_options.TlsOnlyFailures && summaries.All(s => s.FailureCount == 0))
        {
            output.Add(new(TlsKind, domain, "-", "", 0, "skipped: no failures (reports.tls.only-failures)"));
            return true;
        }
        DnsResult<TxtRecord> txt = await _dns.LookupTxtAsync("_smtp._tls." + domain, ct).ConfigureAwait(false);
        if (txt.IsTemporaryFailure)
        {
            output.Add(new(TlsKind, domain, "-", "", 0, "deferred: _smtp._tls lookup failed: " + txt.Describe()));
            return false;
        }
        // RFC 8460 §3: records not starting with v=TLSRPTv1 are discarded; unless exactly one is left, the domain does not take reports.
        var candidates = txt.Records.Select(r => r.Text).Where(t => t.StartsWith("v=TLSRPTv1", StringComparison.Ordinal)).ToList();
        if (candidates.Count != 1)
        {
            output.Add(new(TlsKind, domain, "-", "", 0, candidates.Count == 0 ? "skipped: no TLSRPT record" : "skipped: more than one TLSRPT record"));
            return true;
        }
        TlsRptRecord? record = TlsRptRecord.Parse(candidates[0], out string? error);
        if (record is null)
        {
            output.Add(new(TlsKind, domain, "-", "", 0, "skipped: invalid TLSRPT record: " + error));
            return true;
        }
        TlsReport report = BuildTlsReport(day, domain, summaries);
        byte[] gz = report.ToGzip();
        foreach (Uri uri in record.ReportUris.Take(10))
        {
            ReportDestination? dest = ReportDestination.Parse(uri.OriginalString, allowSizeLimit: false, out string? destError);
            if (dest is null)
            {
                output.Add(new(TlsKind, domain, uri.OriginalString, report.ReportId, 0, "skipped: " + destError));
                continue;
            }
            await DeliverAsync(TlsKind, domain, dest, report.ReportId,
                to => ReportMessage.BuildTlsReport(report, _options.FromAddress, to, _options.HostName, domain, Now),
                gz, "application/tlsrpt+gzip", dryRun, output, ct).ConfigureAwait(false);
        }
        return true;
    }
}
