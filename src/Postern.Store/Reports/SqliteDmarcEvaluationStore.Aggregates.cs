// The queries of the DMARC aggregate-report sender: grouping is done by SQLite (GROUP BY over the
// period's rows, DKIM results concatenated per evaluation), so a day with millions of messages
// is never loaded into memory; only the rows of the report, capped, are read.
using System.Globalization;
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

public sealed partial class SqliteDmarcEvaluationStore
{
    private static DmarcEvaluationRecord? Latest(SqliteConnection conn, string domain, DateTimeOffset from, DateTimeOffset to)
    {
        object? id = Db.Scalar(conn, null, "SELECT MAX(id) FROM dmarc_evaluation WHERE policy_domain = $d AND time >= $f AND time < $t",
            ("$d", domain), ("$f", Db.ToUnixMs(from)), ("$t", Db.ToUnixMs(to)));
        if (id is null or DBNull) return null;
        object? time = Db.Scalar(conn, null, "SELECT time FROM dmarc_evaluation WHERE id = $id", ("$id", id));
        DateTimeOffset at = Db.FromUnixMs(Convert.ToInt64(time, CultureInfo.InvariantCulture));
        return Read(conn, at, at.AddMilliseconds(1), domain, int.MaxValue).LastOrDefault();
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DmarcPendingDomain>> ListPendingDomainsAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        using SqliteConnection conn = await _db.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var domains = new List<(string, long)>();
        using (SqliteCommand cmd = Db.Command(conn, null, "SELECT policy_domain, MIN(time) FROM dmarc_evaluation WHERE time < $b GROUP BY policy_domain ORDER BY policy_domain",
            ("$b", Db.ToUnixMs(before))))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read()) domains.Add((r.GetString(0), r.GetInt64(1)));
        }
        var list = new List<DmarcPendingDomain>();
        foreach (var (domain, oldest) in domains)
        {
            if (Latest(conn, domain, DateTimeOffset.UnixEpoch, before) is { } latest)
                list.Add(new DmarcPendingDomain(domain, Db.FromUnixMs(oldest), latest));
        }
        return list;
    }

    /// <inheritdoc/>
    public async Task<DmarcAggregate> AggregateAsync(string policyDomain, DateTimeOffset from, DateTimeOffset to, int maxRows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policyDomain);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        using SqliteConnection conn = await _db.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        (string, object?)[] args = [("$d", policyDomain), ("$f", Db.ToUnixMs(from)), ("$t", Db.ToUnixMs(to)), ("$limit", maxRows + 1)];
        long total = Convert.ToInt64(Db.Scalar(conn, null, "SELECT COUNT(*) FROM dmarc_evaluation WHERE policy_domain = $d AND time >= $f AND time < $t", args),
            CultureInfo.InvariantCulture);
        var rows = new List<DmarcAggregateRow>();
        using (SqliteCommand cmd = Db.Command(conn, null, """
            SELECT source_ip, disposition, dkim_aligned, spf_aligned, override, envelope_to, envelope_from, header_from, spf_domain, spf_result, dkim, COUNT(*) AS n
            FROM (SELECT e.*, (SELECT group_concat(k.domain || char(9) || k.selector || char(9) || k.result || char(9) || k.aligned, char(10))
                               FROM (SELECT * FROM dmarc_dkim WHERE evaluation_id = e.id ORDER BY position) k) AS dkim
                  FROM dmarc_evaluation e WHERE e.policy_domain = $d AND e.time >= $f AND e.time < $t)
            GROUP BY source_ip, disposition, dkim_aligned, spf_aligned, override, envelope_to, envelope_from, header_from, spf_domain, spf_result, dkim
            ORDER BY n DESC, source_ip LIMIT $limit
            """, args))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var dkim = new List<DmarcDkimEntry>();
                if (!r.IsDBNull(10))
                {
                    foreach (string line in r.GetString(10).Split('\n'))
                    {
                        string[] f = line.Split('\t');
                        if (f.Length == 4) dkim.Add(new DmarcDkimEntry(f[0], f[1], f[2], f[3] == "1"));
                    }
                }
                rows.Add(new DmarcAggregateRow
                {
                    SourceIp = r.GetString(0),
                    Disposition = r.GetString(1),
                    DkimAligned = r.GetInt64(2) != 0,
                    SpfAligned = r.GetInt64(3) != 0,
                    Override = r.GetString(4),
                    EnvelopeTo = r.GetString(5),
                    EnvelopeFrom = r.GetString(6),
                    HeaderFrom = r.GetString(7),
                    SpfDomain = r.GetString(8),
                    SpfResult = r.GetString(9),
                    Dkim = dkim,
                    Count = r.GetInt64(11),
                });
            }
        }
        bool truncated = rows.Count > maxRows;
        if (truncated) rows.RemoveAt(rows.Count - 1);
        return new DmarcAggregate(rows, total, truncated, Latest(conn, policyDomain, from, to));
    }

    /// <inheritdoc/>
    public async Task<long> DeleteDomainBeforeAsync(string policyDomain, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policyDomain);
        return await _db.WriteInTransactionAsync<long>((c, tx) =>
        {
            (string, object?)[] args = [("$d", policyDomain), ("$t", Db.ToUnixMs(before))];
            Db.Exec(c, tx, "DELETE FROM dmarc_dkim WHERE evaluation_id IN (SELECT id FROM dmarc_evaluation WHERE policy_domain = $d AND time < $t)", args);
            return Db.Exec(c, tx, "DELETE FROM dmarc_evaluation WHERE policy_domain = $d AND time < $t", args);
        }, cancellationToken).ConfigureAwait(false);
    }
}
