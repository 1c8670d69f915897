// Read-only queries over the incoming reports (ReportsSchema.IncomingReports) for the command line:
// they open DATA/reports.db read-only, so they work while the server runs and never wait for its
// writer (WAL). Periods select reports by the end of the period they cover.
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postern.Mail.Reports;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>One stored DMARC aggregate report, without its rows.</summary>
/// <param name="Key">The database id (for <see cref="IncomingReportQueries.DmarcRows"/>).</param>
/// <param name="OrgName">The reporting organisation.</param>
/// <param name="ReportId">The reporter's id of the report.</param>
/// <param name="Email">The reporter's contact address.</param>
/// <param name="PolicyDomain">The domain the report is about.</param>
/// <param name="Policy">The policy the reporter saw published (p=).</param>
/// <param name="Begin">Start of the period covered.</param>
/// <param name="End">End of the period covered.</param>
/// <param name="Received">When the report arrived.</param>
/// <param name="Recipient">The reporting address it arrived at.</param>
/// <param name="Rows">Number of rows (source IP and result combinations).</param>
/// <param name="Messages">Messages the report covers (sum of the rows' counts).</param>
public sealed record StoredDmarcReport(long Key, string OrgName, string ReportId, string Email, string PolicyDomain, string Policy,
    DateTimeOffset Begin, DateTimeOffset End, DateTimeOffset Received, string Recipient, long Rows, long Messages);

/// <summary>What a set of DMARC aggregate reports says, summed over their rows.</summary>
/// <param name="Reports">Reports counted.</param>
/// <param name="Messages">Messages they cover.</param>
/// <param name="ByDisposition">Messages per disposition the receivers applied (none, quarantine, reject).</param>
/// <param name="DkimPass">Messages whose DKIM result was an aligned pass.</param>
/// <param name="SpfPass">Messages whose SPF result was an aligned pass.</param>
/// <param name="DmarcPass">Messages with an aligned DKIM or SPF pass (DMARC pass).</param>
/// <param name="TopSources">The source IPs with the most messages, most first.</param>
public sealed record DmarcReportSummary(long Reports, long Messages, IReadOnlyDictionary<string, long> ByDisposition,
    long DkimPass, long SpfPass, long DmarcPass, IReadOnlyList<DmarcSourceSummary> TopSources);

/// <summary>The messages of one source IP over a set of reports.</summary>
/// <param name="SourceIp">The sending address.</param>
/// <param name="Messages">Messages from it.</param>
/// <param name="DmarcPass">Of those, messages with an aligned DKIM or SPF pass.</param>
/// <param name="HeaderFromDomains">The From domains seen from it (at most a few).</param>
public sealed record DmarcSourceSummary(string SourceIp, long Messages, long DmarcPass, IReadOnlyList<string> HeaderFromDomains);

/// <summary>One stored TLS report with its policies (RFC 8460 §4).</summary>
/// <param name="Key">The database id.</param>
/// <param name="OrgName">The reporting organisation.</param>
/// <param name="ReportId">The reporter's id of the report.</param>
/// <param name="ContactInfo">How to reach the reporter.</param>
/// <param name="Start">Start of the period covered.</param>
/// <param name="End">End of the period covered.</param>
/// <param name="Received">When the report arrived.</param>
/// <param name="Recipient">The reporting address it arrived at.</param>
/// <param name="Policies">The policies it reports on (only the selected domain's when a domain was asked for).</param>
public sealed record StoredTlsReport(long Key, string OrgName, string ReportId, string ContactInfo, DateTimeOffset Start, DateTimeOffset End,
    DateTimeOffset Received, string Recipient, IReadOnlyList<StoredTlsReportPolicy> Policies);

/// <summary>The sessions under one policy of a stored TLS report.</summary>
/// <param name="PolicyType">sts, tlsa or no-policy-found.</param>
/// <param name="PolicyDomain">The domain of the policy.</param>
/// <param name="PolicyString">The policy's text lines.</param>
/// <param name="MxHost">MX patterns of an MTA-STS policy.</param>
/// <param name="SuccessCount">Sessions that succeeded.</param>
/// <param name="FailureCount">Sessions that failed.</param>
/// <param name="Failures">The failure details.</param>
public sealed record StoredTlsReportPolicy(string PolicyType, string PolicyDomain, IReadOnlyList<string> PolicyString, IReadOnlyList<string> MxHost,
    long SuccessCount, long FailureCount, IReadOnlyList<TlsReportFailure> Failures);

/// <summary>Reads the incoming reports of a data folder without opening it for writing.</summary>
public static class IncomingReportQueries
{
    /// <summary>Most source IPs in <see cref="DmarcReportSummary.TopSources"/> by default.</summary>
    public const int DefaultTopSources = 10;

    /// <summary>DMARC reports whose period ends at or after <paramref name="since"/>, optionally about one domain, newest first, at most <paramref name="limit"/>.</summary>
    public static IReadOnlyList<StoredDmarcReport> DmarcReports(string dataDirectory, string? policyDomain, DateTimeOffset since, int limit)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        string? domain = policyDomain is null ? null : SqliteIncomingReportStore.NormalizeDomain(policyDomain);
        using SqliteCommand cmd = Db.Command(conn, null, $"""
            SELECT r.id, r.org_name, r.report_id, r.email, r.policy_domain, r.p, r.begin_time, r.end_time, r.received, r.recipient,
                   (SELECT count(*) FROM dmarc_report_row x WHERE x.report = r.id),
                   (SELECT coalesce(sum(x.count), 0) FROM dmarc_report_row x WHERE x.report = r.id)
            FROM dmarc_report r
            WHERE r.end_time >= $since {(domain is null ? "" : "AND r.policy_domain = $pd")}
            ORDER BY r.end_time DESC, r.id DESC LIMIT $limit
            """, ("$since", Db.ToUnixMs(since)), ("$pd", domain), ("$limit", limit));
        using SqliteDataReader r = cmd.ExecuteReader();
        var list = new List<StoredDmarcReport>();
        while (r.Read())
        {
            list.Add(new StoredDmarcReport(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
                Db.FromUnixMs(r.GetInt64(6)), Db.FromUnixMs(r.GetInt64(7)), Db.FromUnixMs(r.GetInt64(8)), r.GetString(9), r.GetInt64(10), r.GetInt64(11)));
        }
        return list;
    }

    /// <summary>The rows of one stored DMARC report, in the report's order; empty when there is no such report.</summary>
    public static IReadOnlyList<DmarcReportRecord> DmarcRows(string dataDirectory, long key)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        using SqliteCommand cmd = Db.Command(conn, null, """
            SELECT source_ip, count, disposition, dkim, spf, reasons, envelope_to, envelope_from, header_from, dkim_results, spf_results
            FROM dmarc_report_row WHERE report = $k ORDER BY position
            """, ("$k", key));
        using SqliteDataReader r = cmd.ExecuteReader();
        var list = new List<DmarcReportRecord>();
        while (r.Read())
        {
            list.Add(new DmarcReportRecord
            {
                SourceIp = r.GetString(0),
                Count = r.GetInt64(1),
                Disposition = r.GetString(2),
                Dkim = r.GetString(3),
                Spf = r.GetString(4),
                Reasons = JsonSerializer.Deserialize<List<DmarcPolicyOverride>>(r.GetString(5)) ?? [],
                EnvelopeTo = Db.NullableString(r, 6),
                EnvelopeFrom = Db.NullableString(r, 7),
                HeaderFrom = r.GetString(8),
                DkimResults = JsonSerializer.Deserialize<List<DmarcDkimAuthResult>>(r.GetString(9)) ?? [],
                SpfResults = JsonSerializer.Deserialize<List<DmarcSpfAuthResult>>(r.GetString(10)) ?? [],
            });
        }
        return list;
    }

    /// <summary>The DMARC reports of <see cref="DmarcReports"/> (without a limit) summed up: dispositions, aligned passes, top source IPs.</summary>
    public static DmarcReportSummary SummariseDmarc(string dataDirectory, string? policyDomain, DateTimeOffset since, int topSources = DefaultTopSources)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        string? domain = policyDomain is null ? null : SqliteIncomingReportStore.NormalizeDomain(policyDomain);
        string where = "r.end_time >= $since" + (domain is null ? "" : " AND r.policy_domain = $pd");
        (string, object?)[] args = [("$since", Db.ToUnixMs(since)), ("$pd", domain), ("$top", topSources)];

        long reports = Convert.ToInt64(Db.Scalar(conn, null, $"SELECT count(*) FROM dmarc_report r WHERE {where}", args) ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        long messages = 0, dkimPass = 0, spfPass = 0, dmarcPass = 0;
        using (SqliteCommand cmd = Db.Command(conn, null, $"""
            SELECT coalesce(sum(x.count), 0),
                   coalesce(sum(CASE WHEN x.dkim = 'pass' THEN x.count ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN x.spf = 'pass' THEN x.count ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN x.dkim = 'pass' OR x.spf = 'pass' THEN x.count ELSE 0 END), 0)
            FROM dmarc_report_row x JOIN dmarc_report r ON r.id = x.report WHERE {where}
            """, args))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            if (r.Read())
            {
                messages = r.GetInt64(0);
                dkimPass = r.GetInt64(1);
                spfPass = r.GetInt64(2);
                dmarcPass = r.GetInt64(3);
            }
        }
        var byDisposition = new SortedDictionary<string, long>(StringComparer.Ordinal);
        using (SqliteCommand cmd = Db.Command(conn, null, $"""
            SELECT x.disposition, sum(x.count) FROM dmarc_report_row x JOIN dmarc_report r ON r.id = x.report WHERE {where} GROUP BY x.disposition
            """, args))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
                byDisposition[r.GetString(0)] = r.GetInt64(1);
        }
        var top = new List<DmarcSourceSummary>();
        using (SqliteCommand cmd = Db.Command(conn, null, $"""
            SELECT x.source_ip, sum(x.count) AS n, sum(CASE WHEN x.dkim = 'pass' OR x.spf = 'pass' THEN x.count ELSE 0 END),
                   group_concat(DISTINCT x.header_from)
            FROM dmarc_report_row x JOIN dmarc_report r ON r.id = x.report WHERE {where}
            GROUP BY x.source_ip ORDER BY n DESC, x.source_ip LIMIT $top
            """, args))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                string[] froms = (Db.NullableString(r, 3) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
                top.Add(new DmarcSourceSummary(r.GetString(0), r.GetInt64(1), r.GetInt64(2), [.. froms.Order(StringComparer.Ordinal).Take(5)]));
            }
        }
        return new DmarcReportSummary(reports, messages, byDisposition, dkimPass, spfPass, dmarcPass, top);
    }

    /// <summary>TLS reports whose period ends at or after <paramref name="since"/>, newest first, at most <paramref name="limit"/>; with a domain, only reports with a policy of that domain, and only those policies.</summary>
    public static IReadOnlyList<StoredTlsReport> TlsReports(string dataDirectory, string? policyDomain, DateTimeOffset since, int limit)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        string? domain = policyDomain is null ? null : SqliteIncomingReportStore.NormalizeDomain(policyDomain);
        var reports = new List<(long Key, string Org, string Id, string Contact, long Start, long End, long Received, string Recipient)>();
        using (SqliteCommand cmd = Db.Command(conn, null, $"""
            SELECT r.id, r.org_name, r.report_id, r.contact_info, r.start_time, r.end_time, r.received, r.recipient FROM tls_report r
            WHERE r.end_time >= $since {(domain is null ? "" : "AND EXISTS (SELECT 1 FROM tls_report_policy p WHERE p.report = r.id AND p.policy_domain = $pd)")}
            ORDER BY r.end_time DESC, r.id DESC LIMIT $limit
            """, ("$since", Db.ToUnixMs(since)), ("$pd", domain), ("$limit", limit)))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
                reports.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetString(7)));
        }
        var result = new List<StoredTlsReport>(reports.Count);
        foreach (var rep in reports)
        {
            var policies = new List<(int Position, StoredTlsReportPolicy Policy)>();
            using (SqliteCommand cmd = Db.Command(conn, null, $"""
                SELECT position, policy_type, policy_domain, policy_string, mx_host, success_count, failure_count FROM tls_report_policy
                WHERE report = $k {(domain is null ? "" : "AND policy_domain = $pd")} ORDER BY position
                """, ("$k", rep.Key), ("$pd", domain)))
            using (SqliteDataReader r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    policies.Add((r.GetInt32(0), new StoredTlsReportPolicy(r.GetString(1), r.GetString(2),
                        JsonSerializer.Deserialize<List<string>>(r.GetString(3)) ?? [], JsonSerializer.Deserialize<List<string>>(r.GetString(4)) ?? [],
                        r.GetInt64(5), r.GetInt64(6), [])));
                }
            }
            var withFailures = new List<StoredTlsReportPolicy>(policies.Count);
            foreach (var (position, policy) in policies)
            {
                var failures = new List<TlsReportFailure>();
                using SqliteCommand cmd = Db.Command(conn, null, """
                    SELECT result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, receiving_ip, failed_session_count, additional_information, failure_reason_code
                    FROM tls_report_failure WHERE report = $k AND policy_position = $p ORDER BY position
                    """, ("$k", rep.Key), ("$p", position));
                using SqliteDataReader r = cmd.ExecuteReader();
                while (r.Read())
                {
                    failures.Add(new TlsReportFailure
                    {
                        ResultType = r.GetString(0),
                        SendingMtaIp = Db.NullableString(r, 1),
                        ReceivingMxHostname = Db.NullableString(r, 2),
                        ReceivingMxHelo = Db.NullableString(r, 3),
                        ReceivingIp = Db.NullableString(r, 4),
                        FailedSessionCount = r.GetInt64(5),
                        AdditionalInformation = Db.NullableString(r, 6),
                        FailureReasonCode = Db.NullableString(r, 7),
                    });
                }
                withFailures.Add(policy with { Failures = failures });
            }
            result.Add(new StoredTlsReport(rep.Key, rep.Org, rep.Id, rep.Contact, Db.FromUnixMs(rep.Start), Db.FromUnixMs(rep.End),
                Db.FromUnixMs(rep.Received), rep.Recipient, withFailures));
        }
        return result;
    }
}
