namespace Postern.Store.Reports;

public static partial class ReportsSchema
{
    /// <summary>Step 1: DMARC evaluations of incoming mail (IDmarcEvaluationStore).</summary>
    private const string DmarcEvaluationsStep = """
        CREATE TABLE dmarc_evaluation (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            policy_domain TEXT NOT NULL,
            header_from TEXT NOT NULL,
            source_ip TEXT NOT NULL,
            envelope_from TEXT NOT NULL,
            envelope_to TEXT NOT NULL,
            result TEXT NOT NULL,
            disposition TEXT NOT NULL,
            dkim_aligned INTEGER NOT NULL,
            spf_aligned INTEGER NOT NULL,
            override TEXT NOT NULL,
            reason TEXT,
            spf_domain TEXT NOT NULL,
            spf_result TEXT NOT NULL,
            has_record INTEGER NOT NULL,
            p TEXT NOT NULL,
            sp TEXT,
            pct INTEGER NOT NULL,
            adkim TEXT NOT NULL,
            aspf TEXT NOT NULL,
            fo TEXT NOT NULL,
            record TEXT NOT NULL,
            record_dnssec INTEGER NOT NULL
        );
        CREATE INDEX dmarc_evaluation_time ON dmarc_evaluation(time);
        CREATE INDEX dmarc_evaluation_domain_time ON dmarc_evaluation(policy_domain, time);
        CREATE TABLE dmarc_dkim (
            evaluation_id INTEGER NOT NULL REFERENCES dmarc_evaluation(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            domain TEXT NOT NULL,
            selector TEXT NOT NULL,
            result TEXT NOT NULL,
            aligned INTEGER NOT NULL,
            PRIMARY KEY (evaluation_id, position)
        ) WITHOUT ROWID;
        """;}
