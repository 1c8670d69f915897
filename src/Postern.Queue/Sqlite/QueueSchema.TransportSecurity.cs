namespace Postern.Queue.Sqlite;

internal static partial class QueueSchema
{
    // Version 2 (issue 8, outgoing transport security):
    // - mtasts_policy: MTA-STS policies of recipient domains (RFC 8461 §5.1 cache), the policy in
    //   its file form; fetched/last_used in Unix milliseconds. Refreshed ahead of expiry.
    // - recipient_domain_tls: per recipient domain, whether its server offered STARTTLS and
    //   REQUIRETLS in the last attempt that reached one (shown by `queue tls`, later the webmail).
    private const string TransportSecurityStep = """
        CREATE TABLE mtasts_policy (
            domain TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            policy TEXT NOT NULL,
            fetched INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            last_used INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX mtasts_policy_fetched ON mtasts_policy(fetched);
        CREATE TABLE recipient_domain_tls (
            domain TEXT PRIMARY KEY,
            starttls INTEGER NOT NULL,
            requiretls INTEGER NOT NULL,
            host TEXT NOT NULL,
            updated INTEGER NOT NULL
        ) WITHOUT ROWID;
        """;
}
