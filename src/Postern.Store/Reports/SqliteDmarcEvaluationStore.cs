// The embedded backend of the DMARC evaluation store: tables in DATA/reports.db (ReportsSchema).
// Evaluations are report material, not mail: the database runs WAL with synchronous=NORMAL
// (a crash or power loss may lose the last batches, never corrupts the file), and the recorder
// in front of it drops evaluations rather than delay delivery (DmarcEvaluationRecorder).
using System.Globalization;
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>DMARC evaluations in a SQLite database (DATA/reports.db).</summary>
public sealed partial class SqliteDmarcEvaluationStore : IDmarcEvaluationStore
{
    /// <summary>File name of the database in the data folder.</summary>
    public const string FileName = ReportsSchema.FileName;

    private const string Columns = "id, time, policy_domain, header_from, source_ip, envelope_from, envelope_to, result, disposition, dkim_aligned, spf_aligned, override, reason, spf_domain, spf_result, has_record, p, sp, pct, adkim, aspf, fo, record, record_dnssec";

    private readonly ReportsConnection _db;

    private SqliteDmarcEvaluationStore(ReportsConnection db) => _db = db;

    /// <summary>Opens (creating when missing) DATA/reports.db.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteDmarcEvaluationStore Open(string dataDirectory) => new(ReportsConnection.Open(dataDirectory));

    /// <summary>Whether a data folder has a reports database.</summary>
    public static bool Exists(string dataDirectory) => ReportsSchema.Exists(dataDirectory);

    /// <inheritdoc/>
    public async Task AddAsync(IReadOnlyList<DmarcEvaluationRecord> evaluations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evaluations);
        if (evaluations.Count == 0) return;
        await _db.WriteInTransactionAsync((c, tx) =>
        {
            using SqliteCommand ins = Db.Command(c, tx, $"""
                INSERT INTO dmarc_evaluation({Columns[4..]})
                VALUES ($time, $pd, $hf, $ip, $ef, $et, $result, $dis, $da, $sa, $ov, $reason, $sd, $sr, $hr, $p, $sp, $pct, $adkim, $aspf, $fo, $record, $rd)
                RETURNING id
                """);
            string[] names = ["$time", "$pd", "$hf", "$ip", "$ef", "$et", "$result", "$dis", "$da", "$sa", "$ov", "$reason", "$sd", "$sr", "$hr", "$p", "$sp", "$pct", "$adkim", "$aspf", "$fo", "$record", "$rd"];
            foreach (string n in names) ins.Parameters.Add(new SqliteParameter(n, null));
            using SqliteCommand dk = Db.Command(c, tx, "INSERT INTO dmarc_dkim(evaluation_id, position, domain, selector, result, aligned) VALUES ($id, $pos, $d, $s, $r, $a)");
            foreach (string n in new[] { "$id", "$pos", "$d", "$s", "$r", "$a" }) dk.Parameters.Add(new SqliteParameter(n, null));
            foreach (DmarcEvaluationRecord e in evaluations)
            {
                object?[] values =
                [
                    Db.ToUnixMs(e.Time), e.PolicyDomain, e.HeaderFrom, e.SourceIp, e.EnvelopeFrom, e.EnvelopeTo, e.Result, e.Disposition,
                    e.DkimAligned ? 1 : 0, e.SpfAligned ? 1 : 0, e.Override, e.Reason, e.SpfDomain, e.SpfResult, e.HasRecord ? 1 : 0,
                    e.Policy, e.SubdomainPolicy, e.Percent, e.DkimAlignment, e.SpfAlignment, e.FailureOptions, e.RecordText, e.RecordDnssecAuthentic ? 1 : 0,
                ];
                for (int i = 0; i < values.Length; i++) ins.Parameters[i].Value = values[i] ?? DBNull.Value;
                long id = Convert.ToInt64(ins.ExecuteScalar(), CultureInfo.InvariantCulture);
                for (int i = 0; i < e.Dkim.Count; i++)
                {
                    DmarcDkimEntry k = e.Dkim[i];
                    dk.Parameters[0].Value = id;
                    dk.Parameters[1].Value = i;
                    dk.Parameters[2].Value = k.Domain;
                    dk.Parameters[3].Value = k.Selector;
                    dk.Parameters[4].Value = k.Result;
                    dk.Parameters[5].Value = k.Aligned ? 1 : 0;
                    dk.ExecuteNonQuery();
                }
            }
            return evaluations.Count;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DmarcEvaluationRecord>> ListAsync(DateTimeOffset from, DateTimeOffset to, string? policyDomain = null, int limit = int.MaxValue, CancellationToken cancellationToken = default)
    {
        using SqliteConnection conn = await _db.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        return Read(conn, from, to, policyDomain?.Trim().TrimEnd('.').ToLowerInvariant(), limit);
    }

    /// <summary>Reads evaluations from a reports database without opening it for writing (the CLI, while the server runs).</summary>
    public static IReadOnlyList<DmarcEvaluationRecord> ReadOnlyList(string dataDirectory, DateTimeOffset from, DateTimeOffset to, string? policyDomain, int limit)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        return Read(conn, from, to, policyDomain?.Trim().TrimEnd('.').ToLowerInvariant(), limit);
    }

    private static List<DmarcEvaluationRecord> Read(SqliteConnection conn, DateTimeOffset from, DateTimeOffset to, string? policyDomain, int limit)
    {
        string where = "time >= $from AND time < $to" + (policyDomain is null ? "" : " AND policy_domain = $pd");
        var rows = new List<(long Id, DmarcEvaluationRecord Record)>();
        using (SqliteCommand cmd = Db.Command(conn, null, $"SELECT {Columns} FROM dmarc_evaluation WHERE {where} ORDER BY time, id LIMIT $limit",
            ("$from", Db.ToUnixMs(from)), ("$to", Db.ToUnixMs(to)), ("$pd", policyDomain), ("$limit", limit)))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                rows.Add((r.GetInt64(0), new DmarcEvaluationRecord
                {
                    Time = Db.FromUnixMs(r.GetInt64(1)),
                    PolicyDomain = r.GetString(2),
                    HeaderFrom = r.GetString(3),
                    SourceIp = r.GetString(4),
                    EnvelopeFrom = r.GetString(5),
                    EnvelopeTo = r.GetString(6),
                    Result = r.GetString(7),
                    Disposition = r.GetString(8),
                    DkimAligned = r.GetInt64(9) != 0,
                    SpfAligned = r.GetInt64(10) != 0,
                    Override = r.GetString(11),
                    Reason = Db.NullableString(r, 12),
                    SpfDomain = r.GetString(13),
                    SpfResult = r.GetString(14),
                    HasRecord = r.GetInt64(15) != 0,
                    Policy = r.GetString(16),
                    SubdomainPolicy = Db.NullableString(r, 17),
                    Percent = r.GetInt32(18),
                    DkimAlignment = r.GetString(19),
                    SpfAlignment = r.GetString(20),
                    FailureOptions = r.GetString(21),
                    RecordText = r.GetString(22),
                    RecordDnssecAuthentic = r.GetInt64(23) != 0,
                }));
            }
        }
        if (rows.Count == 0) return [];
        // The signatures of the rows read, in one range query over the same period.
        var dkim = new Dictionary<long, List<DmarcDkimEntry>>();
        using (SqliteCommand cmd = Db.Command(conn, null, """
            SELECT k.evaluation_id, k.domain, k.selector, k.result, k.aligned FROM dmarc_dkim k
            WHERE k.evaluation_id BETWEEN $lo AND $hi ORDER BY k.evaluation_id, k.position
            """, ("$lo", rows.Min(x => x.Id)), ("$hi", rows.Max(x => x.Id))))
        using (SqliteDataReader r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                long id = r.GetInt64(0);
                if (!dkim.TryGetValue(id, out var list)) dkim[id] = list = [];
                list.Add(new DmarcDkimEntry(r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4) != 0));
            }
        }
        return [.. rows.Select(x => dkim.TryGetValue(x.Id, out var list) ? x.Record with { Dkim = list } : x.Record)];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<DmarcDomainEvaluations>> ListByPolicyDomainAsync(DateOnly utcDay, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<DmarcEvaluationRecord> all = await ListAsync(DmarcReportDay.Start(utcDay), DmarcReportDay.End(utcDay), null, int.MaxValue, cancellationToken).ConfigureAwait(false);
        return [.. all.GroupBy(e => e.PolicyDomain, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new DmarcDomainEvaluations(g.Key, [.. g]))];
    }

    /// <inheritdoc/>
    public Task<long> DeleteBeforeAsync(DateTimeOffset time, CancellationToken cancellationToken = default) =>
        _db.WriteInTransactionAsync<long>((c, tx) =>
        {
            Db.Exec(c, tx, "DELETE FROM dmarc_dkim WHERE evaluation_id IN (SELECT id FROM dmarc_evaluation WHERE time < $t)", ("$t", Db.ToUnixMs(time)));
            return Db.Exec(c, tx, "DELETE FROM dmarc_evaluation WHERE time < $t", ("$t", Db.ToUnixMs(time)));
        }, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
