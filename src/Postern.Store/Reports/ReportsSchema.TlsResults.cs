namespace Postern.Store.Reports;

public static partial class ReportsSchema
{
    /// <summary>
    /// Step: outgoing TLS session results aggregated per UTC day, policy domain and policy
    /// (RFC 8460 §4: what a day's report needs, not one row per session), the failure details
    /// with their counts, and the bookkeeping of reports sent out (TLS and DMARC): what was sent
    /// where, addresses suppressed after a hard bounce, and which periods are done.
    /// </summary>
    private const string TlsResultsStep = """
        CREATE TABLE tls_result_day (
            day INTEGER NOT NULL,
            policy_domain TEXT NOT NULL,
            policy_type TEXT NOT NULL,
            policy_strings TEXT NOT NULL,
            mx_hosts TEXT NOT NULL,
            success_count INTEGER NOT NULL,
            failure_count INTEGER NOT NULL,
            PRIMARY KEY (day, policy_domain, policy_type, policy_strings, mx_hosts)
        ) WITHOUT ROWID;
        CREATE TABLE tls_failure_day (
            day INTEGER NOT NULL,
            policy_domain TEXT NOT NULL,
            policy_type TEXT NOT NULL,
            policy_strings TEXT NOT NULL,
            mx_hosts TEXT NOT NULL,
            result_type TEXT NOT NULL,
            sending_ip TEXT NOT NULL,
            receiving_mx TEXT NOT NULL,
            receiving_helo TEXT NOT NULL,
            receiving_ip TEXT NOT NULL,
            additional_info TEXT NOT NULL,
            reason_code TEXT NOT NULL,
            failed_count INTEGER NOT NULL,
            PRIMARY KEY (day, policy_domain, policy_type, policy_strings, mx_hosts, result_type, sending_ip, receiving_mx, receiving_helo, receiving_ip, additional_info, reason_code)
        ) WITHOUT ROWID;
        CREATE TABLE report_sent (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            kind TEXT NOT NULL,
            policy_domain TEXT NOT NULL,
            destination TEXT NOT NULL,
            report_id TEXT NOT NULL,
            queue_id INTEGER,
            status TEXT NOT NULL,
            checked INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX report_sent_unchecked ON report_sent(checked, time);
        CREATE TABLE report_suppression (
            address TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            added INTEGER NOT NULL,
            until INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE report_period_done (
            kind TEXT NOT NULL,
            period_start INTEGER NOT NULL,
            PRIMARY KEY (kind, period_start)
        ) WITHOUT ROWID;
        """;
}
