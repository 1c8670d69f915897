// Bookkeeping of the reports Postern sends (TLS reports, RFC 8460; DMARC aggregate reports,
// RFC 7489 §7.2), in DATA/reports.db: each report sent to each destination (with the queue id of
// a mailed one, so a later hard bounce can be found), the suppression list of report addresses
// that bounced (shared by both kinds; entries expire), and the periods already reported.
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>A report sent (or attempted) to one destination.</summary>
/// <param name="Id">Row id.</param>
/// <param name="Time">When.</param>
/// <param name="Kind"><c>tls</c> or <c>dmarc</c>.</param>
/// <param name="PolicyDomain">The domain reported about.</param>
/// <param name="Destination">The rua URI (mailto: or https:).</param>
/// <param name="ReportId">The report's id.</param>
/// <param name="QueueId">The outgoing queue's message id of a mailed report.</param>
/// <param name="Status">queued, posted, failed: ..., suppressed.</param>
public sealed record SentReport(long Id, DateTimeOffset Time, string Kind, string PolicyDomain, string Destination, string ReportId, long? QueueId, string Status);

/// <summary>A report address that will not be sent to until <paramref name="Until"/>.</summary>
/// <param name="Address">The mail address (lower case).</param>
/// <param name="Reason">The bounce that put it here.</param>
/// <param name="Added">When.</param>
/// <param name="Until">When the entry expires.</param>
public sealed record SuppressedReportAddress(string Address, string Reason, DateTimeOffset Added, DateTimeOffset Until);

/// <summary>Sent reports, the report-address suppression list and finished periods, in DATA/reports.db.</summary>
public sealed class SqliteReportLog : IAsyncDisposable
{
    private readonly ReportsConnection _db;

    private SqliteReportLog(ReportsConnection db) => _db = db;

    /// <summary>Opens (creating when missing) DATA/reports.db.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteReportLog Open(string dataDirectory) => new(ReportsConnection.Open(dataDirectory));

    private Task<T> RunAsync<T>(Func<SqliteConnection, T> action, CancellationToken ct) => _db.WriteAsync(action, ct);

    /// <summary>Records a report sent (or attempted) to one destination; returns its row id.</summary>
    public Task<long> AddSentAsync(DateTimeOffset time, string kind, string policyDomain, string destination, string reportId, long? queueId, string status,
        CancellationToken cancellationToken = default) =>
        RunAsync(c => Convert.ToInt64(Db.Scalar(c, null, """
            INSERT INTO report_sent(time, kind, policy_domain, destination, report_id, queue_id, status, checked)
            VALUES ($t, $k, $d, $dest, $rid, $q, $s, $checked) RETURNING id
            """, ("$t", Db.ToUnixMs(time)), ("$k", kind), ("$d", policyDomain), ("$dest", destination), ("$rid", reportId), ("$q", queueId),
            ("$s", status), ("$checked", queueId is null ? 1 : 0)), System.Globalization.CultureInfo.InvariantCulture), cancellationToken);

    /// <summary>Mailed reports whose delivery outcome has not been looked at to the end, oldest first.</summary>
    public Task<IReadOnlyList<SentReport>> ListUncheckedAsync(int limit, CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<SentReport>>(c => ReadSent(c, "WHERE checked = 0 ORDER BY time, id LIMIT $limit", limit), cancellationToken);

    /// <summary>The most recent sent reports, newest first.</summary>
    public Task<IReadOnlyList<SentReport>> ListSentAsync(int limit, CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<SentReport>>(c => ReadSent(c, "ORDER BY time DESC, id DESC LIMIT $limit", limit), cancellationToken);

    /// <summary>The most recent sent reports, read-only (the CLI while the server runs).</summary>
    public static IReadOnlyList<SentReport> ReadOnlySent(string dataDirectory, int limit)
    {
        using SqliteConnection conn = ReportsSchema.OpenReader(dataDirectory);
        return ReadSent(conn, "ORDER BY time DESC, id DESC LIMIT $limit", limit);
    }

    private static List<SentReport> ReadSent(SqliteConnection c, string tail, int limit)
    {
        var list = new List<SentReport>();
        using SqliteCommand cmd = Db.Command(c, null, "SELECT id, time, kind, policy_domain, destination, report_id, queue_id, status FROM report_sent " + tail, ("$limit", limit));
        using SqliteDataReader r = cmd.ExecuteReader();
        while (r.Read())
            list.Add(new SentReport(r.GetInt64(0), Db.FromUnixMs(r.GetInt64(1)), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5),
                r.IsDBNull(6) ? null : r.GetInt64(6), r.GetString(7)));
        return list;
    }

    /// <summary>Marks a sent report's outcome as known (delivered for good, bounced, or gone from the queue), with a new status.</summary>
    public Task MarkCheckedAsync(long id, string status, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "UPDATE report_sent SET checked = 1, status = $s WHERE id = $id", ("$id", id), ("$s", status)), cancellationToken);

    /// <summary>Deletes sent-report rows older than <paramref name="before"/>.</summary>
    public Task<int> DeleteSentBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "DELETE FROM report_sent WHERE time < $t", ("$t", Db.ToUnixMs(before))), cancellationToken);

    /// <summary>Adds or refreshes a suppression entry.</summary>
    public Task SuppressAsync(string address, string reason, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, """
            INSERT INTO report_suppression(address, reason, added, until) VALUES ($a, $r, $t, $u)
            ON CONFLICT(address) DO UPDATE SET reason = excluded.reason, added = excluded.added, until = excluded.until
            """, ("$a", address.ToLowerInvariant()), ("$r", reason), ("$t", Db.ToUnixMs(now)), ("$u", Db.ToUnixMs(until))), cancellationToken);

    /// <summary>The entry of an address when it is suppressed at <paramref name="now"/>, else null.</summary>
    public Task<SuppressedReportAddress?> GetSuppressionAsync(string address, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        RunAsync(c => ReadSuppressions(c, "WHERE address = $a AND until > $now", ("$a", address.ToLowerInvariant()), ("$now", Db.ToUnixMs(now))).FirstOrDefault(), cancellationToken);

    /// <summary>Every suppression entry, expired ones included until they are purged.</summary>
    public Task<IReadOnlyList<SuppressedReportAddress>> ListSuppressionsAsync(CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<SuppressedReportAddress>>(c => ReadSuppressions(c, "ORDER BY address"), cancellationToken);

    /// <summary>Removes an address from the suppression list; false when it was not there.</summary>
    public Task<bool> RemoveSuppressionAsync(string address, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "DELETE FROM report_suppression WHERE address = $a", ("$a", address.ToLowerInvariant())) > 0, cancellationToken);

    /// <summary>Removes expired suppression entries; returns how many.</summary>
    public Task<int> PurgeSuppressionsAsync(DateTimeOffset now, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "DELETE FROM report_suppression WHERE until <= $now", ("$now", Db.ToUnixMs(now))), cancellationToken);

    private static List<SuppressedReportAddress> ReadSuppressions(SqliteConnection c, string tail, params ReadOnlySpan<(string, object?)> args)
    {
        var list = new List<SuppressedReportAddress>();
        using SqliteCommand cmd = Db.Command(c, null, "SELECT address, reason, added, until FROM report_suppression " + tail, args);
        using SqliteDataReader r = cmd.ExecuteReader();
        while (r.Read())
            list.Add(new SuppressedReportAddress(r.GetString(0), r.GetString(1), Db.FromUnixMs(r.GetInt64(2)), Db.FromUnixMs(r.GetInt64(3))));
        return list;
    }

    /// <summary>Whether a period of a kind of report was already handled.</summary>
    public Task<bool> IsPeriodDoneAsync(string kind, DateTimeOffset periodStart, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Scalar(c, null, "SELECT 1 FROM report_period_done WHERE kind = $k AND period_start = $p",
            ("$k", kind), ("$p", Db.ToUnixMs(periodStart))) is not null, cancellationToken);

    /// <summary>Records a period as handled (reports sent or nothing to send).</summary>
    public Task MarkPeriodDoneAsync(string kind, DateTimeOffset periodStart, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "INSERT OR IGNORE INTO report_period_done(kind, period_start) VALUES ($k, $p)",
            ("$k", kind), ("$p", Db.ToUnixMs(periodStart))), cancellationToken);

    /// <summary>Forgets handled periods older than <paramref name="before"/>.</summary>
    public Task<int> DeletePeriodsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        RunAsync(c => Db.Exec(c, null, "DELETE FROM report_period_done WHERE period_start < $p", ("$p", Db.ToUnixMs(before))), cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _db.DisposeAsync();
}
