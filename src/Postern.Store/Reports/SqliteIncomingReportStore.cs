// The embedded backend of the incoming report store: tables of ReportsSchema.IncomingReports in
// DATA/reports.db. Reports are stored whole in one transaction each (a report has at most
// DmarcAggregateReport.MaxRecords rows, and a TLS report at most TlsReport.MaxJsonSize bytes of
// JSON), and identified by (organisation, report id): senders retry, and the same report can reach
// several reporting addresses, but it is counted once.
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Postern.Mail.Reports;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>Incoming DMARC aggregate and TLS reports in a SQLite database (DATA/reports.db).</summary>
public sealed class SqliteIncomingReportStore : IIncomingReportStore
{
    private readonly ReportsConnection _db;

    private SqliteIncomingReportStore(ReportsConnection db) => _db = db;

    /// <summary>Opens (creating and migrating when needed) DATA/reports.db for writing.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteIncomingReportStore Open(string dataDirectory) => new(ReportsConnection.Open(dataDirectory));

    /// <inheritdoc/>
    public async Task<bool> AddDmarcReportAsync(DmarcAggregateReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(recipient);
        return await _db.WriteInTransactionAsync((c, tx) =>
        {
            DmarcPublishedPolicy p = report.Policy;
            object? id = Db.Scalar(c, tx, """
                INSERT INTO dmarc_report(received, recipient, org_name, email, extra_contact_info, report_id, begin_time, end_time, errors,
                                         policy_domain, p, sp, pct, adkim, aspf, fo)
                VALUES ($received, $recipient, $org, $email, $extra, $rid, $begin, $end, $errors, $pd, $p, $sp, $pct, $adkim, $aspf, $fo)
                ON CONFLICT (org_name, report_id) DO NOTHING
                RETURNING id
                """,
                ("$received", Db.ToUnixMs(received)), ("$recipient", recipient.ToLowerInvariant()), ("$org", report.OrgName), ("$email", report.Email),
                ("$extra", report.ExtraContactInfo), ("$rid", report.ReportId), ("$begin", Db.ToUnixMs(report.Begin)), ("$end", Db.ToUnixMs(report.End)),
                ("$errors", JsonSerializer.Serialize(report.Errors)), ("$pd", NormalizeDomain(p.Domain)), ("$p", p.P), ("$sp", p.Sp), ("$pct", p.Pct),
                ("$adkim", p.Adkim), ("$aspf", p.Aspf), ("$fo", p.Fo));
            if (id is null)
                return false; // the same organisation's report with this id is already stored
            long reportKey = Convert.ToInt64(id, CultureInfo.InvariantCulture);
            using SqliteCommand ins = Db.Command(c, tx, """
                INSERT INTO dmarc_report_row(report, position, source_ip, count, disposition, dkim, spf, reasons, envelope_to, envelope_from, header_from, dkim_results, spf_results)
                VALUES ($report, $pos, $ip, $count, $dis, $dkim, $spf, $reasons, $et, $ef, $hf, $dr, $sr)
                """);
            string[] names = ["$report", "$pos", "$ip", "$count", "$dis", "$dkim", "$spf", "$reasons", "$et", "$ef", "$hf", "$dr", "$sr"];
            foreach (string n in names) ins.Parameters.Add(new SqliteParameter(n, null));
            for (int i = 0; i < report.Records.Count; i++)
            {
                DmarcReportRecord r = report.Records[i];
                object?[] values =
                [
                    reportKey, i, r.SourceIp, r.Count, r.Disposition.ToLowerInvariant(), r.Dkim.ToLowerInvariant(), r.Spf.ToLowerInvariant(),
                    JsonSerializer.Serialize(r.Reasons), r.EnvelopeTo, r.EnvelopeFrom, r.HeaderFrom,
                    JsonSerializer.Serialize(r.DkimResults), JsonSerializer.Serialize(r.SpfResults),
                ];
                for (int k = 0; k < values.Length; k++) ins.Parameters[k].Value = values[k] ?? DBNull.Value;
                ins.ExecuteNonQuery();
            }
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> AddTlsReportAsync(TlsReport report, string recipient, DateTimeOffset received, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(recipient);
        return await _db.WriteInTransactionAsync((c, tx) =>
        {
            object? id = Db.Scalar(c, tx, """
                INSERT INTO tls_report(received, recipient, org_name, contact_info, report_id, start_time, end_time)
                VALUES ($received, $recipient, $org, $contact, $rid, $start, $end)
                ON CONFLICT (org_name, report_id) DO NOTHING
                RETURNING id
                """,
                ("$received", Db.ToUnixMs(received)), ("$recipient", recipient.ToLowerInvariant()), ("$org", report.OrganizationName),
                ("$contact", report.ContactInfo), ("$rid", report.ReportId), ("$start", Db.ToUnixMs(report.DateRange.Start)), ("$end", Db.ToUnixMs(report.DateRange.End)));
            if (id is null)
                return false;
            long reportKey = Convert.ToInt64(id, CultureInfo.InvariantCulture);
            using SqliteCommand pol = Db.Command(c, tx, """
                INSERT INTO tls_report_policy(report, position, policy_type, policy_domain, policy_string, mx_host, success_count, failure_count)
                VALUES ($report, $pos, $type, $domain, $string, $mx, $ok, $failed)
                """);
            foreach (string n in new[] { "$report", "$pos", "$type", "$domain", "$string", "$mx", "$ok", "$failed" }) pol.Parameters.Add(new SqliteParameter(n, null));
            using SqliteCommand fail = Db.Command(c, tx, """
                INSERT INTO tls_report_failure(report, policy_position, position, result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo,
                                               receiving_ip, failed_session_count, additional_information, failure_reason_code)
                VALUES ($report, $ppos, $pos, $type, $smta, $mx, $helo, $rip, $count, $info, $code)
                """);
            foreach (string n in new[] { "$report", "$ppos", "$pos", "$type", "$smta", "$mx", "$helo", "$rip", "$count", "$info", "$code" }) fail.Parameters.Add(new SqliteParameter(n, null));
            for (int i = 0; i < report.Policies.Count; i++)
            {
                TlsReportPolicyResult p = report.Policies[i];
                object?[] values =
                [
                    reportKey, i, p.Policy.PolicyType, NormalizeDomain(p.Policy.PolicyDomain), JsonSerializer.Serialize(p.Policy.PolicyString ?? []),
                    JsonSerializer.Serialize(p.Policy.MxHost ?? []), p.Summary.TotalSuccessfulSessionCount, p.Summary.TotalFailureSessionCount,
                ];
                for (int k = 0; k < values.Length; k++) pol.Parameters[k].Value = values[k] ?? DBNull.Value;
                pol.ExecuteNonQuery();
                IReadOnlyList<TlsReportFailure> failures = p.FailureDetails ?? [];
                for (int j = 0; j < failures.Count; j++)
                {
                    TlsReportFailure f = failures[j];
                    object?[] fv =
                    [
                        reportKey, i, j, f.ResultType, f.SendingMtaIp, f.ReceivingMxHostname, f.ReceivingMxHelo, f.ReceivingIp,
                        f.FailedSessionCount, f.AdditionalInformation, f.FailureReasonCode,
                    ];
                    for (int k = 0; k < fv.Length; k++) fail.Parameters[k].Value = fv[k] ?? DBNull.Value;
                    fail.ExecuteNonQuery();
                }
            }
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Most reports of one kind that one <see cref="DeleteReceivedBatchAsync"/> deletes.</summary>
    public const int DeleteBatchReports = 200;

    /// <summary>
    /// Most report rows (DMARC rows, TLS policies and failure details) that one batch deletes with
    /// their reports; a single report with more rows (the parsers bound them) is deleted on its own.
    /// </summary>
    public const int DeleteBatchRows = 20_000;

    /// <summary>
    /// Deletes one bounded batch of reports received before <paramref name="before"/>, oldest first,
    /// with their rows; returns how many DMARC and TLS reports went. Call again until both are 0:
    /// between batches other writers of DATA/reports.db get their turn.
    /// </summary>
    public Task<(int Dmarc, int Tls)> DeleteReceivedBatchAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        return _db.WriteInTransactionAsync((c, tx) =>
        {
            long t = Db.ToUnixMs(before);
            int dmarc = DeleteOldest(c, tx, "dmarc_report", "(SELECT count(*) FROM dmarc_report_row x WHERE x.report = r.id)", t);
            int tls = DeleteOldest(c, tx, "tls_report",
                "(SELECT count(*) FROM tls_report_policy x WHERE x.report = r.id) + (SELECT count(*) FROM tls_report_failure x WHERE x.report = r.id)", t);
            return (dmarc, tls);
        }, cancellationToken);
    }

    /// <summary>Deletes the oldest reports of <paramref name="table"/> received before <paramref name="before"/> (Unix ms), within the batch bounds.</summary>
    private static int DeleteOldest(SqliteConnection c, SqliteTransaction tx, string table, string rowCount, long before)
    {
        // In (received, id) order, the order of the index on received (ReportsSchema step 4): the scan
        // reads only the old reports, oldest first, and stops at the limit; with nothing to delete
        // (most days) it reads nothing. In id order SQLite would scan the whole table instead.
        long lastReceived = 0, last = 0, rows = 0;
        int reports = 0;
        using (SqliteCommand cmd = Db.Command(c, tx, $"SELECT r.received, r.id, {rowCount} FROM {table} r WHERE r.received < $t ORDER BY r.received, r.id LIMIT $n",
            ("$t", before), ("$n", DeleteBatchReports)))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                long size = r.GetInt64(2);
                if (reports > 0 && rows + size > DeleteBatchRows)
                    break;
                lastReceived = r.GetInt64(0);
                last = r.GetInt64(1);
                rows += size;
                reports++;
            }
        }
        if (reports > 0) // the rows go with their report (ON DELETE CASCADE; ReportsSchema opens with foreign_keys=ON)
        {
            Db.Exec(c, tx, $"DELETE FROM {table} WHERE received < $t AND (received < $lr OR (received = $lr AND id <= $last))",
                ("$t", before), ("$lr", lastReceived), ("$last", last));
        }
        return reports;
    }

    /// <summary>A domain as the queries compare it: lower case, no final dot.</summary>
    internal static string NormalizeDomain(string domain) => domain.Trim().TrimEnd('.').ToLowerInvariant();

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
