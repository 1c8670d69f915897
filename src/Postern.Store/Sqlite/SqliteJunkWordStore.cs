using Microsoft.Data.Sqlite;
using Postern.Store.Junk;

namespace Postern.Store.Sqlite;

/// <summary>
/// An account's junk training in <c>accounts/NAME/junk.db</c>. Writes are serialized here and committed with
/// synchronous=NORMAL: the data is derived, and a commit lost to a power failure is trained again from the
/// MODSEQ recorded with it. Reads (classifying at delivery) use pooled read-only connections.
/// </summary>
internal sealed class SqliteJunkWordStore : IJunkWordStore
{
    private readonly string _path;
    private readonly Func<int> _maxWords;
    private readonly SemaphoreSlim _write = new(1, 1);
    private volatile bool _ensured;
    private volatile CachedTotals? _totals;

    // Delivery asks for the totals of every message ("has this account trained enough?"). They are kept for a
    // second: a change by another process (`postern junk train`) is seen that much later, and an older MODSEQ
    // only makes the next training look at more changes than needed.
    private sealed record CachedTotals(JunkTotals Totals, long At);

    private const int TotalsLifetimeMs = 1000;

    public SqliteJunkWordStore(string path, Func<int> maxWords)
    {
        _path = path;
        _maxWords = maxWords;
    }

    private SqliteConnection OpenWriter()
    {
        var conn = new SqliteConnection(Db.ConnectionString(_path, readOnly: false));
        conn.Open();
        Db.Exec(conn, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        if (!_ensured)
        {
            Schema.EnsureJunk(conn);
            _ensured = true;
        }
        return conn;
    }

    private SqliteConnection OpenReader()
    {
        if (!_ensured) OpenWriter().Dispose(); // creates the file and schema on first use
        var conn = new SqliteConnection(Db.ConnectionString(_path, readOnly: true));
        conn.Open();
        return conn;
    }

    public Task<JunkTotals> GetTotalsAsync(CancellationToken cancellationToken = default)
    {
        if (_totals is { } cached && Environment.TickCount64 - cached.At < TotalsLifetimeMs) return Task.FromResult(cached.Totals);
        var totals = ReadTotals();
        _totals = new CachedTotals(totals, Environment.TickCount64);
        return Task.FromResult(totals);
    }

    private JunkTotals ReadTotals()
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT junk_messages, ham_messages, words, modseq, enabled, threshold FROM junk_state WHERE id = 1");
        using var r = cmd.ExecuteReader();
        r.Read();
        return new JunkTotals(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3))
        {
            Enabled = r.GetInt64(4) != 0,
            Threshold = r.IsDBNull(5) ? null : r.GetDouble(5),
        };
    }

    public Task<Dictionary<string, JunkWordCounts>> GetCountsAsync(IReadOnlyCollection<string> tokens, CancellationToken cancellationToken = default)
    {
        var counts = new Dictionary<string, JunkWordCounts>(StringComparer.Ordinal);
        if (tokens.Count == 0) return Task.FromResult(counts);
        using var conn = OpenReader();
        // One statement for all tokens (SQLite walks the list): a statement per token costs 4x as much (bench/junk.sh).
        using var cmd = Db.Command(conn, null, "SELECT word, junk, ham FROM word WHERE word IN (SELECT value FROM json_each($list))",
            ("$list", JsonArray(tokens)));
        using var r = cmd.ExecuteReader();
        while (r.Read()) counts[r.GetString(0)] = new JunkWordCounts(r.GetInt64(1), r.GetInt64(2));
        return Task.FromResult(counts);
    }

    private static string JsonArray(IEnumerable<string> items)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (string item in items) w.WriteStringValue(item);
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public Task<Dictionary<long, JunkClass>> GetTrainedAsync(CancellationToken cancellationToken = default)
    {
        var trained = new Dictionary<long, JunkClass>();
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT content_id, class FROM trained");
        using var r = cmd.ExecuteReader();
        while (r.Read()) trained[r.GetInt64(0)] = (JunkClass)r.GetInt64(1);
        return Task.FromResult(trained);
    }

    public async Task ApplyAsync(IReadOnlyList<JunkTrainingStep> steps, long? modSeq, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var conn = OpenWriter();
            using var tx = conn.BeginTransaction();
            using var current = Db.Command(conn, tx, "SELECT class FROM trained WHERE content_id = $id");
            var currentId = current.Parameters.Add("$id", SqliteType.Integer);
            using var add = Db.Command(conn, tx, """
                INSERT INTO word (word, junk, ham) VALUES ($w, max($j, 0), max($h, 0))
                ON CONFLICT (word) DO UPDATE SET junk = max(junk + $j, 0), ham = max(ham + $h, 0)
                RETURNING junk + ham
                """);
            var word = add.Parameters.Add("$w", SqliteType.Text);
            var dj = add.Parameters.Add("$j", SqliteType.Integer);
            var dh = add.Parameters.Add("$h", SqliteType.Integer);
            using var drop = Db.Command(conn, tx, "DELETE FROM word WHERE word = $w");
            var dropWord = drop.Parameters.Add("$w", SqliteType.Text);
            long words = (long)Db.Scalar(conn, tx, "SELECT words FROM junk_state WHERE id = 1")!;
            long junkMessages = 0, hamMessages = 0;
            foreach (var step in steps)
            {
                if (step.ContentId != 0)
                {
                    currentId.Value = step.ContentId;
                    var now = current.ExecuteScalar() is long c ? (JunkClass)c : JunkClass.None;
                    if (now != step.From || step.From == step.To) continue;
                    if (step.To == JunkClass.None) Db.Exec(conn, tx, "DELETE FROM trained WHERE content_id = $id", ("$id", step.ContentId));
                    else Db.Exec(conn, tx, "INSERT INTO trained (content_id, class) VALUES ($id, $c) ON CONFLICT (content_id) DO UPDATE SET class = $c",
                        ("$id", step.ContentId), ("$c", (int)step.To));
                }
                else if (step.From == step.To) continue;
                int j = (step.To == JunkClass.Junk ? 1 : 0) - (step.From == JunkClass.Junk ? 1 : 0);
                int h = (step.To == JunkClass.Ham ? 1 : 0) - (step.From == JunkClass.Ham ? 1 : 0);
                junkMessages += j;
                hamMessages += h;
                dj.Value = j;
                dh.Value = h;
                foreach (string token in step.Tokens)
                {
                    word.Value = token;
                    long seen = (long)add.ExecuteScalar()!;
                    if (seen == 0)
                    {
                        dropWord.Value = token;
                        drop.ExecuteNonQuery();
                        words--;
                    }
                    else if (seen == 1 && j + h > 0) words++; // a row that existed had junk + ham >= 1 before
                }
            }
            if (words > _maxWords())
            {
                // Bounded growth: tokens seen once are the least telling (f stays near 0.5 for them anyway).
                Db.Exec(conn, tx, "DELETE FROM word WHERE junk + ham <= 1");
                words = (long)Db.Scalar(conn, tx, "SELECT count(*) FROM word")!;
            }
            Db.Exec(conn, tx, """
                UPDATE junk_state SET junk_messages = max(junk_messages + $j, 0), ham_messages = max(ham_messages + $h, 0),
                    words = max($words, 0), modseq = coalesce($ms, modseq) WHERE id = 1
                """, ("$j", junkMessages), ("$h", hamMessages), ("$words", words), ("$ms", modSeq));
            tx.Commit();
            _totals = null;
        }
        finally
        {
            _write.Release();
        }
    }

    public async Task AddContactsAsync(IReadOnlyCollection<string> addresses, DateTimeOffset when, CancellationToken cancellationToken = default)
    {
        if (addresses.Count == 0) return;
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var conn = OpenWriter();
            using var tx = conn.BeginTransaction();
            using var add = Db.Command(conn, tx, "INSERT INTO contact (address, last_sent) VALUES ($a, $t) ON CONFLICT (address) DO UPDATE SET last_sent = $t");
            var a = add.Parameters.Add("$a", SqliteType.Text);
            add.Parameters.AddWithValue("$t", when.ToUnixTimeSeconds());
            foreach (string address in addresses.Take(IJunkWordStore.MaxContacts))
            {
                a.Value = address.ToLowerInvariant();
                add.ExecuteNonQuery();
            }
            Db.Exec(conn, tx, "DELETE FROM contact WHERE address IN (SELECT address FROM contact ORDER BY last_sent DESC, address LIMIT -1 OFFSET $max)",
                ("$max", IJunkWordStore.MaxContacts));
            tx.Commit();
        }
        finally
        {
            _write.Release();
        }
    }

    public Task<bool> IsContactAsync(string address, CancellationToken cancellationToken = default)
    {
        using var conn = OpenReader();
        using var cmd = Db.Command(conn, null, "SELECT 1 FROM contact WHERE address = $a", ("$a", address.ToLowerInvariant()));
        return Task.FromResult(cmd.ExecuteScalar() is not null);
    }

    public async Task SetSettingsAsync(bool? enabled, double? threshold, bool serverThreshold = false, CancellationToken cancellationToken = default)
    {
        if (threshold is { } t && (t is <= 0.5 or > 1 || double.IsNaN(t))) throw new ArgumentOutOfRangeException(nameof(threshold), "must be above 0.5 and at most 1");
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var conn = OpenWriter();
            if (enabled is { } e) Db.Exec(conn, null, "UPDATE junk_state SET enabled = $e WHERE id = 1", ("$e", e ? 1 : 0));
            if (threshold is not null || serverThreshold) Db.Exec(conn, null, "UPDATE junk_state SET threshold = $t WHERE id = 1", ("$t", serverThreshold ? null : threshold));
            _totals = null;
        }
        finally
        {
            _write.Release();
        }
    }

    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var conn = OpenWriter();
            using var tx = conn.BeginTransaction();
            Db.Exec(conn, tx, "DELETE FROM word; DELETE FROM trained; UPDATE junk_state SET junk_messages = 0, ham_messages = 0, words = 0, modseq = 0 WHERE id = 1;");
            tx.Commit();
            _totals = null;
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>Closes pooled connections (the account is closing).</summary>
    public void Close()
    {
        using var conn = new SqliteConnection(Db.ConnectionString(_path, readOnly: false));
        SqliteConnection.ClearPool(conn);
        using var reader = new SqliteConnection(Db.ConnectionString(_path, readOnly: true));
        SqliteConnection.ClearPool(reader);
    }
}
