namespace Postern.Store.Reports;

public static partial class ReportsSchema
{
    /// <summary>
    /// Step: reports other organisations sent to this server's reporting addresses (SqliteIncomingReportStore):
    /// DMARC aggregate reports (RFC 7489 §7.2) with their rows, and TLS reports (RFC 8460) with their policies
    /// and failure details. A report is identified by its organisation and report id (stored once).
    /// Times are Unix milliseconds; lists inside a row (override reasons, auth results, policy strings) are JSON.
    /// </summary>
    private const string IncomingReportsStep = """
        CREATE TABLE dmarc_report (
            id INTEGER PRIMARY KEY,
            received INTEGER NOT NULL,
            recipient TEXT NOT NULL,
            org_name TEXT NOT NULL,
            email TEXT NOT NULL,
            extra_contact_info TEXT,
            report_id TEXT NOT NULL,
            begin_time INTEGER NOT NULL,
            end_time INTEGER NOT NULL,
            errors TEXT NOT NULL,
            policy_domain TEXT NOT NULL,
            p TEXT NOT NULL,
            sp TEXT,
            pct INTEGER,
            adkim TEXT,
            aspf TEXT,
            fo TEXT,
            UNIQUE (org_name, report_id)
        );
        CREATE INDEX dmarc_report_end ON dmarc_report(end_time);
        CREATE INDEX dmarc_report_domain_end ON dmarc_report(policy_domain, end_time);
        CREATE TABLE dmarc_report_row (
            report INTEGER NOT NULL REFERENCES dmarc_report(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            source_ip TEXT NOT NULL,
            count INTEGER NOT NULL,
            disposition TEXT NOT NULL,
            dkim TEXT NOT NULL,
            spf TEXT NOT NULL,
            reasons TEXT NOT NULL,
            envelope_to TEXT,
            envelope_from TEXT,
            header_from TEXT NOT NULL,
            dkim_results TEXT NOT NULL,
            spf_results TEXT NOT NULL,
            PRIMARY KEY (report, position)
        ) WITHOUT ROWID;
        CREATE TABLE tls_report (
            id INTEGER PRIMARY KEY,
            received INTEGER NOT NULL,
            recipient TEXT NOT NULL,
            org_name TEXT NOT NULL,
            contact_info TEXT NOT NULL,
            report_id TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER NOT NULL,
            UNIQUE (org_name, report_id)
        );
        CREATE INDEX tls_report_end ON tls_report(end_time);
        CREATE TABLE tls_report_policy (
            report INTEGER NOT NULL REFERENCES tls_report(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            policy_type TEXT NOT NULL,
            policy_domain TEXT NOT NULL,
            policy_string TEXT NOT NULL,
            mx_host TEXT NOT NULL,
            success_count INTEGER NOT NULL,
            failure_count INTEGER NOT NULL,
            PRIMARY KEY (report, position)
        ) WITHOUT ROWID;
        CREATE INDEX tls_report_policy_domain ON tls_report_policy(policy_domain);
        CREATE TABLE tls_report_failure (
            report INTEGER NOT NULL REFERENCES tls_report(id) ON DELETE CASCADE,
            policy_position INTEGER NOT NULL,
            position INTEGER NOT NULL,
            result_type TEXT NOT NULL,
            sending_mta_ip TEXT,
            receiving_mx_hostname TEXT,
            receiving_mx_helo TEXT,
            receiving_ip TEXT,
            failed_session_count INTEGER NOT NULL,
            additional_information TEXT,
            failure_reason_code TEXT,
            PRIMARY KEY (report, policy_position, position)
        ) WITHOUT ROWID;
        """;

    /// <summary>
    /// Step: the received reports by arrival time, so that the daily retention clean-up
    /// (IncomingReportRetention, SqliteIncomingReportStore.DeleteReceivedBatchAsync) reads only
    /// the reports old enough to go instead of the whole tables.
    /// </summary>
    private const string IncomingReportsReceivedIndexStep = """
        CREATE INDEX dmarc_report_received ON dmarc_report(received);
        CREATE INDEX tls_report_received ON tls_report(received);
        """;
}
