// DMARC aggregate reports (RFC 7489 §7.2): per policy domain and period of its ri=, to each rua=
// mailto: destination that is either in the policy domain's organisation or has authorised it
// (§7.1, POLICYDOMAIN._report._dmarc.DESTDOMAIN TXT starting with v=DMARC1). A report that does
// not fit a destination's size limit ("!", §6.2) or our own cap is split into several reports of
// the same period with distinct ids (each a complete report); a single row too large to fit is
// not sent. After a domain's finished periods are handled its evaluations are deleted.
using System.Globalization;
using Postern.Dns;
using Postern.Mail.Reports;
using Postern.Security.Dmarc;
using Postern.Store.Reports;

namespace Postern.Queue.Reports;

public sealed partial class ReportSender
{
    /// <summary>Periods older than this are not reported any more (their evaluations are just deleted).</summary>
    private static readonly TimeSpan DmarcCatchUp = TimeSpan.FromDays(3);

    /// <summary>The report period for ri= seconds: 1 to 24 hours, rounded up to a divisor of 24 hours so periods align to UTC days (RFC 7489 §7.2).</summary>
    public static TimeSpan DmarcInterval(long ri)
    {
        long hours = Math.Clamp((ri + 3599) / 3600, 1, 24);
        foreach (int h in new[] { 1, 2, 3, 4, 6, 8, 12, 24 })
        {
            if (h >= hours) return TimeSpan.FromHours(h);
        }
        return TimeSpan.FromDays(1);
    }

    private async Task RunDmarcAsync(DateTimeOffset now, bool dryRun, List<ReportDispatch> output, CancellationToken ct)
    {
        if (!_options.DmarcEnabled)
        {
            if (!dryRun) await _dmarc!.DeleteBeforeAsync(now - TimeSpan.FromDays(_options.DmarcRetentionDaysWhenOff), ct).ConfigureAwait(false);
            return;
        }
        DateTimeOffset hourStart = Floor(now, TimeSpan.FromHours(1));
        foreach (DmarcPendingDomain p in await _dmarc!.ListPendingDomainsAsync(hourStart, ct).ConfigureAwait(false))
        {
            DmarcRecord? record = null;
            if (p.Latest.HasRecord && DmarcRecord.TryParse(p.Latest.RecordText, out DmarcRecord? parsed, out _)) record = parsed;
            TimeSpan interval = record is null ? TimeSpan.FromDays(1) : DmarcInterval(record.ReportInterval);
            DateTimeOffset boundary = Floor(now, interval);
            if (p.Oldest >= boundary) continue;
            if (record is not null && record.AggregateReportUris.Count > 0)
            {
                List<ReportDestination> destinations = await AuthorisedDestinationsAsync(p.PolicyDomain, record.AggregateReportUris, output, ct).ConfigureAwait(false);
                DateTimeOffset start = Floor(p.Oldest, interval);
                if (start < boundary - DmarcCatchUp) start = Floor(boundary - DmarcCatchUp, interval);
                for (; start < boundary && destinations.Count > 0; start += interval)
                    await SendDmarcPeriodAsync(p.PolicyDomain, start, start + interval, destinations, dryRun, output, ct).ConfigureAwait(false);
            }
            // Retention: reported (or never to be reported) evaluations go.
            if (!dryRun) await _dmarc.DeleteDomainBeforeAsync(p.PolicyDomain, boundary, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The mailto: rua destinations that may receive the domain's reports (RFC 7489 §7.1).</summary>
    private async Task<List<ReportDestination>> AuthorisedDestinationsAsync(string policyDomain, IReadOnlyList<string> rua, List<ReportDispatch> output, CancellationToken ct)
    {
        var list = new List<ReportDestination>();
        string org = PublicSuffixList.Default.OrganizationalDomain(policyDomain);
        foreach (string u in rua.Take(10))
        {
            ReportDestination? dest = ReportDestination.Parse(u, allowSizeLimit: true, out string? error);
            if (dest is null || dest.MailAddress is null)
            {
                // RFC 7489 §6.2/§12: only mailto: is defined for aggregate reports here; others are ignored.
                output.Add(new(DmarcKind, policyDomain, u, "", 0, "skipped: " + (error ?? "only mailto: destinations are supported")));
                continue;
            }
            if (PublicSuffixList.Default.OrganizationalDomain(dest.Domain) == org)
            {
                list.Add(dest);
                continue;
            }
            // RFC 7489 §7.1: an external destination must publish POLICYDOMAIN._report._dmarc.DESTDOMAIN with v=DMARC1.
            DnsResult<TxtRecord> txt = await _dns.LookupTxtAsync($"{policyDomain}._report._dmarc.{dest.Domain}", ct).ConfigureAwait(false);
            if (txt.Records.Any(r => r.Text.TrimStart().StartsWith("v=DMARC1", StringComparison.Ordinal)))
                list.Add(dest);
            else
                output.Add(new(DmarcKind, policyDomain, u, "", 0, txt.IsTemporaryFailure
                    ? "skipped: external destination check failed: " + txt.Describe()
                    : $"skipped: {dest.Domain} has not authorised reports for {policyDomain} ({policyDomain}._report._dmarc.{dest.Domain})"));
        }
        return list;
    }

    private async Task SendDmarcPeriodAsync(string domain, DateTimeOffset from, DateTimeOffset to, List<ReportDestination> destinations, bool dryRun,
        List<ReportDispatch> output, CancellationToken ct)
    {
        DmarcAggregate agg = await _dmarc!.AggregateAsync(domain, from, to, _options.MaxDmarcRecords, ct).ConfigureAwait(false);
        if (agg.Rows.Count == 0 || agg.Latest is null) return;
        DmarcAggregateReport report = BuildDmarcReport(domain, from, to, agg);
        foreach (ReportDestination dest in destinations)
        {
            long limit = Math.Min(_options.MaxReportBytes, dest.MaxBytes ?? long.MaxValue);
            List<DmarcAggregateReport>? parts = SplitToFit(report, dest.MailAddress!, limit);
            if (parts is null)
            {
                output.Add(new(DmarcKind, domain, dest.Uri, report.ReportId, 0, $"skipped: even one row does not fit the limit of {limit} bytes"));
                continue;
            }
            for (int i = 0; i < parts.Count; i++)
            {
                DmarcAggregateReport part = parts[i];
                string? unique = parts.Count > 1 ? (i + 1).ToString(CultureInfo.InvariantCulture) : null;
                await DeliverAsync(DmarcKind, domain, dest, part.ReportId,
                    address => BuildDmarcMessage(part, address, unique), null, null, dryRun, output, ct).ConfigureAwait(false);
            }
        }
    }

    private byte[] BuildDmarcMessage(DmarcAggregateReport report, string to, string? unique) =>
        ReportMessage.BuildDmarcReport(report.ToGzip(), report, _options.FromAddress, to, _options.ReceiverDomain, Now, unique);

    /// <summary>The report, or its rows split in halves until every part's message fits <paramref name="limit"/>; null when one row alone does not fit.</summary>
    private List<DmarcAggregateReport>? SplitToFit(DmarcAggregateReport report, string to, long limit)
    {
        var result = new List<DmarcAggregateReport>();
        var pending = new Stack<IReadOnlyList<DmarcReportRecord>>();
        pending.Push(report.Records);
        while (pending.Count > 0)
        {
            IReadOnlyList<DmarcReportRecord> rows = pending.Pop();
            var candidate = report with { Records = rows };
            if (BuildDmarcMessage(candidate, to, "0").Length <= limit)
            {
                result.Add(candidate);
                continue;
            }
            if (rows.Count <= 1 || result.Count + pending.Count > 1000) return null;
            int half = rows.Count / 2;
            pending.Push([.. rows.Skip(half)]);
            pending.Push([.. rows.Take(half)]);
        }
        if (result.Count == 1) return [report];
        return [.. result.Select((r, i) => r with { ReportId = $"{report.ReportId}.{i + 1}" })];
    }

    /// <summary>The aggregate report of one domain and period (RFC 7489 Appendix C).</summary>
    public DmarcAggregateReport BuildDmarcReport(string domain, DateTimeOffset from, DateTimeOffset to, DmarcAggregate agg)
    {
        ArgumentNullException.ThrowIfNull(agg);
        DmarcEvaluationRecord latest = agg.Latest ?? throw new ArgumentException("no evaluations", nameof(agg));
        var errors = new List<string>();
        if (agg.Truncated)
            errors.Add($"only the {agg.Rows.Count} largest groups of {agg.TotalMessages} messages are listed");
        return new DmarcAggregateReport
        {
            OrgName = _options.OrganizationName,
            Email = _options.FromAddress,
            ReportId = $"{from.ToUnixTimeSeconds()}.{domain}@{_options.HostName}",
            Begin = from,
            End = to.AddSeconds(-1),
            Errors = errors,
            Policy = new DmarcPublishedPolicy
            {
                Domain = domain,
                Adkim = latest.DkimAlignment,
                Aspf = latest.SpfAlignment,
                P = latest.Policy,
                // RFC 7489 §6.3: sp defaults to p.
                Sp = latest.SubdomainPolicy ?? latest.Policy,
                Pct = latest.Percent,
                Fo = latest.FailureOptions,
            },
            Records = [.. agg.Rows.Select(r => new DmarcReportRecord
            {
                SourceIp = r.SourceIp,
                Count = r.Count,
                Disposition = r.Disposition,
                Dkim = r.DkimAligned ? "pass" : "fail",
                Spf = r.SpfAligned ? "pass" : "fail",
                Reasons = r.Override == "none" ? [] : [new DmarcPolicyOverride(r.Override, null)],
                EnvelopeTo = r.EnvelopeTo.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(),
                // Appendix C requires envelope_from; empty for the null sender.
                EnvelopeFrom = r.EnvelopeFrom,
                HeaderFrom = r.HeaderFrom,
                DkimResults = [.. r.Dkim.Select(k => new DmarcDkimAuthResult(k.Domain, k.Selector.Length == 0 ? null : k.Selector, k.Result, null))],
                // Appendix C: at least one SPF result; the MAIL FROM check as made (or "none" for the From domain when there was none).
                SpfResults = [r.SpfDomain.Length > 0 ? new DmarcSpfAuthResult(r.SpfDomain, "mfrom", r.SpfResult) : new DmarcSpfAuthResult(r.HeaderFrom, "mfrom", "none")],
            })],
        };
    }
}
