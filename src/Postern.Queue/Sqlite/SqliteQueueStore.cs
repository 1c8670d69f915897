using System.Text;
using Microsoft.Data.Sqlite;

namespace Postern.Queue.Sqlite;

/// <summary>
/// The queue in SQLite: DATA/queue/queue.db (WAL, synchronous=FULL) and message files in DATA/queue/msg.
/// All writes go through one <see cref="QueueWriter"/> (group commit); reads use pooled read-only connections.
/// </summary>
public sealed partial class SqliteQueueStore : IQueueStore
{
    private readonly string _dbPath;
    private readonly QueueWriter _writer;

    private SqliteQueueStore(string queueDirectory, SqliteConnection writer)
    {
        _dbPath = Path.Combine(queueDirectory, "queue.db");
        MessageDirectory = Path.Combine(queueDirectory, "msg");
        _writer = new QueueWriter(writer);
    }

    /// <inheritdoc/>
    public string MessageDirectory { get; }

    /// <summary>Transactions committed by this instance.</summary>
    public long Commits => _writer.Commits;

    /// <summary>Opens (creating if needed) the queue under <paramref name="dataDirectory"/>/queue.</summary>
    public static SqliteQueueStore Open(string dataDirectory)
    {
        string dir = Path.Combine(dataDirectory, "queue");
        Store.DurableFiles.EnsureDirectory(Path.Combine(dir, "msg"));
        var conn = new SqliteConnection(ConnectionString(Path.Combine(dir, "queue.db"), readOnly: false));
        conn.Open();
        using (var cmd = conn.CreateCommand())
        {
            cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;";
            cmd.ExecuteNonQuery();
        }
        QueueSchema.Ensure(conn);
        return new SqliteQueueStore(dir, conn);
    }

    private static string ConnectionString(string path, bool readOnly) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        ForeignKeys = true,
        DefaultTimeout = 30,
    }.ToString();

    private SqliteConnection OpenReader()
    {
        var conn = new SqliteConnection(ConnectionString(_dbPath, readOnly: true));
        conn.Open();
        return conn;
    }

    public (long Waiting, long Held) CountQueued()
    {
        using SqliteConnection c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) - coalesce(sum(held <> 0), 0), coalesce(sum(held <> 0), 0) FROM delivery WHERE state = 0";
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static long Day(DateTimeOffset t) => t.ToUnixTimeSeconds() / 86400;

    /// <summary>The domain of an address, lower-case (the part after the last '@').</summary>
    public static string DomainOf(string address)
    {
        int at = address.LastIndexOf('@');
        return (at < 0 ? "" : address[(at + 1)..]).TrimEnd('.').ToLowerInvariant();
    }

    /// <inheritdoc/>
    public Task<long> AddMessageAsync(NewQueueMessage m, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            long id = (long)w.Scalar("""
                INSERT INTO message(account, mail_from, size, flags, envid, ret, hold_until, created, file, message_id)
                VALUES ($a, $f, $s, $fl, $e, $r, $h, $c, $file, $mid) RETURNING id
                """, ("$a", m.Account), ("$f", m.MailFrom), ("$s", m.Size), ("$fl", (int)m.Flags), ("$e", m.EnvelopeId), ("$r", m.Return),
                ("$h", m.HoldUntil is { } h ? Ms(h) : null), ("$c", Ms(now)), ("$file", m.File), ("$mid", m.MessageIdHeader))!;
            long next = m.HoldUntil is { } hu && hu > now ? Ms(hu) : Ms(now);
            foreach (var group in m.Recipients.GroupBy(r => DomainOf(r.Address), StringComparer.Ordinal))
            {
                long did = (long)w.Scalar("INSERT INTO delivery(message_id, domain, state, next_attempt) VALUES ($m, $d, 0, $n) RETURNING id",
                    ("$m", id), ("$d", group.Key), ("$n", next))!;
                foreach (NewQueueRecipient r in group)
                {
                    w.Exec("INSERT INTO recipient(delivery_id, address, notify, orcpt, state) VALUES ($d, $a, $n, $o, 0)",
                        ("$d", did), ("$a", r.Address), ("$n", r.Notify), ("$o", r.OriginalRecipient));
                }
            }
            if (m.Account is not null)
            {
                long day = Day(now);
                int firstTime = 0;
                foreach (NewQueueRecipient r in m.Recipients)
                {
                    firstTime += w.Exec("INSERT OR IGNORE INTO known_recipient(account, address, first_day) VALUES ($a, $r, $d)",
                        ("$a", m.Account), ("$r", r.Address.ToLowerInvariant()), ("$d", day));
                }
                w.Exec("""
                    INSERT INTO daily_count(account, day, messages, first_time) VALUES ($a, $d, 1, $f)
                    ON CONFLICT(account, day) DO UPDATE SET messages = messages + 1, first_time = first_time + $f
                    """, ("$a", m.Account), ("$d", day), ("$f", firstTime));
            }
            return id;
        }, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<LeasedDelivery>> LeaseDueAsync(DateTimeOffset now, TimeSpan lease, int limit, IReadOnlyCollection<string> busyDomains, CancellationToken cancellationToken = default) =>
        _writer.RunAsync<IReadOnlyList<LeasedDelivery>>(w =>
        {
            var sql = new StringBuilder("""
                UPDATE delivery SET leased_until = $until WHERE id IN (
                  SELECT id FROM delivery WHERE state = 0 AND held = 0 AND next_attempt <= $now
                    AND (leased_until IS NULL OR leased_until <= $now)
                """);
            using SqliteCommand cmd = w.AdHoc("");
            int i = 0;
            if (busyDomains.Count > 0)
            {
                sql.Append(" AND domain NOT IN (");
                foreach (string d in busyDomains)
                {
                    string p = "$b" + i++.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    sql.Append(i > 1 ? ", " : "").Append(p);
                    cmd.Parameters.AddWithValue(p, d);
                }
                sql.Append(')');
            }
            sql.Append(" ORDER BY next_attempt LIMIT $limit) RETURNING id");
            cmd.CommandText = sql.ToString();
            cmd.Parameters.AddWithValue("$until", Ms(now + lease));
            cmd.Parameters.AddWithValue("$now", Ms(now));
            cmd.Parameters.AddWithValue("$limit", limit);
            var ids = new List<long>();
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read()) ids.Add(r.GetInt64(0));
            }
            var result = new List<LeasedDelivery>(ids.Count);
            foreach (long id in ids)
            {
                QueueDelivery d = ReadDeliveries(w.Command(DeliverySelect + " WHERE id = $id", ("$id", id)))[0];
                QueueMessage m = ReadMessages(w.Command(MessageSelect + " WHERE id = $id", ("$id", d.MessageId)))[0];
                var rcpts = ReadRecipients(w.Command(RecipientSelect + " WHERE delivery_id = $id AND state = 0 ORDER BY id", ("$id", id)));
                result.Add(new LeasedDelivery(m, d, rcpts));
            }
            return result;
        }, cancellationToken);

    /// <inheritdoc/>
    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT next_attempt, leased_until FROM delivery WHERE state = 0 AND held = 0 ORDER BY next_attempt LIMIT 64";
        using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        long? best = null;
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            long at = Math.Max(r.GetInt64(0), r.IsDBNull(1) ? 0 : r.GetInt64(1));
            if (best is null || at < best) best = at;
            // Later rows cannot be earlier than an unleased row's next_attempt.
            if (r.IsDBNull(1)) break;
        }
        return best is { } b ? FromMs(b) : null;
    }

    /// <inheritdoc/>
    public Task RecordAttemptAsync(AttemptOutcome o, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            foreach (var (rid, state, code, enhanced, text) in o.Recipients)
            {
                w.Exec("UPDATE recipient SET state = $s, code = $c, enhanced = $e, text = $t WHERE id = $id",
                    ("$s", (int)state), ("$c", code), ("$e", enhanced), ("$t", text), ("$id", rid));
            }
            long now = Ms(o.Attempt.Time);
            w.Exec("""
                UPDATE delivery SET state = $s, attempts = $a, next_attempt = $n, delayed_dsn = $dd, leased_until = NULL,
                  last_error = $le, finished = $f WHERE id = $id
                """, ("$s", (int)o.State), ("$a", o.Attempts), ("$n", Ms(o.NextAttempt)), ("$dd", o.DelayedDsnSent ? 1 : 0),
                ("$le", o.LastError), ("$f", o.State == DeliveryState.Queued ? null : now), ("$id", o.DeliveryId));
            InsertAttempt(w, o.Attempt);
            foreach (SuppressedAddress s in o.Suppress) UpsertSuppression(w, s);
            return 0;
        }, cancellationToken);

    private static void InsertAttempt(QueueWriter w, QueueAttempt a) =>
        w.Exec("INSERT INTO attempt(delivery_id, time, transport, host, ip, tls, result, log) VALUES ($d, $t, $tr, $h, $ip, $tls, $r, $l)",
            ("$d", a.DeliveryId), ("$t", Ms(a.Time)), ("$tr", a.Transport), ("$h", a.Host), ("$ip", a.Ip), ("$tls", a.Tls), ("$r", a.Result), ("$l", a.Log));

    private static void UpsertSuppression(QueueWriter w, SuppressedAddress s) =>
        w.Exec("""
            INSERT INTO suppression(account, address, reason, added) VALUES ($a, $r, $why, $t)
            ON CONFLICT(account, address) DO UPDATE SET reason = $why, added = $t
            """, ("$a", s.Account), ("$r", s.Address.ToLowerInvariant()), ("$why", s.Reason), ("$t", Ms(s.Added)));

    /// <inheritdoc/>
    public Task ReleaseLeasesAsync(IReadOnlyList<long> deliveryIds, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            foreach (long id in deliveryIds) w.Exec("UPDATE delivery SET leased_until = NULL WHERE id = $id", ("$id", id));
            return 0;
        }, cancellationToken);

    /// <inheritdoc/>
    public Task ReleaseAllLeasesAsync(CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w => w.Exec("UPDATE delivery SET leased_until = NULL WHERE leased_until IS NOT NULL"), cancellationToken);

    private const string MessageSelect = "SELECT id, account, mail_from, size, flags, envid, ret, hold_until, created, file, message_id FROM message";
    private const string DeliverySelect = "SELECT id, message_id, domain, state, next_attempt, attempts, held, leased_until, delayed_dsn, finished, last_error FROM delivery";
    private const string RecipientSelect = "SELECT id, delivery_id, address, notify, orcpt, state, code, enhanced, text FROM recipient";

    private static string? Str(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? Time(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : FromMs(r.GetInt64(i));

    private static QueueMessage ReadMessage(SqliteDataReader r, int o) => new(r.GetInt64(o), Str(r, o + 1), r.GetString(o + 2), r.GetInt64(o + 3),
        (QueueMessageFlags)r.GetInt32(o + 4), Str(r, o + 5), Str(r, o + 6), Time(r, o + 7), FromMs(r.GetInt64(o + 8)), r.GetString(o + 9), Str(r, o + 10));

    private static QueueDelivery ReadDelivery(SqliteDataReader r, int o) => new(r.GetInt64(o), r.GetInt64(o + 1), r.GetString(o + 2),
        (DeliveryState)r.GetInt32(o + 3), FromMs(r.GetInt64(o + 4)), r.GetInt32(o + 5), r.GetInt32(o + 6) != 0, Time(r, o + 7),
        r.GetInt32(o + 8) != 0, Time(r, o + 9), Str(r, o + 10));

    private static List<QueueMessage> ReadMessages(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<QueueMessage>();
        while (r.Read()) list.Add(ReadMessage(r, 0));
        return list;
    }

    private static List<QueueDelivery> ReadDeliveries(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<QueueDelivery>();
        while (r.Read()) list.Add(ReadDelivery(r, 0));
        return list;
    }

    private static List<QueueRecipient> ReadRecipients(SqliteCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<QueueRecipient>();
        while (r.Read())
        {
            list.Add(new QueueRecipient(r.GetInt64(0), r.GetInt64(1), r.GetString(2), Str(r, 3), Str(r, 4), (DeliveryState)r.GetInt32(5),
                r.GetInt32(6), Str(r, 7), Str(r, 8)));
        }
        return list;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<QueueListItem>> ListAsync(QueueListFilter filter, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        using var cmd = c.CreateCommand();
        var sql = new StringBuilder("SELECT m.id, m.account, m.mail_from, m.size, m.flags, m.envid, m.ret, m.hold_until, m.created, m.file, m.message_id, "
            + "d.id, d.message_id, d.domain, d.state, d.next_attempt, d.attempts, d.held, d.leased_until, d.delayed_dsn, d.finished, d.last_error, "
            + "(SELECT count(*) FROM recipient r WHERE r.delivery_id = d.id) FROM delivery d JOIN message m ON m.id = d.message_id WHERE 1 = 1");
        if (!filter.IncludeFinished) sql.Append(" AND d.state = 0");
        if (filter.Account is not null)
        {
            sql.Append(" AND m.account = $a");
            cmd.Parameters.AddWithValue("$a", filter.Account);
        }
        if (filter.Domain is not null)
        {
            sql.Append(" AND d.domain = $d");
            cmd.Parameters.AddWithValue("$d", filter.Domain.ToLowerInvariant());
        }
        if (filter.Held is bool held)
        {
            sql.Append(" AND d.held = $h");
            cmd.Parameters.AddWithValue("$h", held ? 1 : 0);
        }
        sql.Append(" ORDER BY d.message_id, d.id LIMIT $limit");
        cmd.Parameters.AddWithValue("$limit", filter.Limit);
        cmd.CommandText = sql.ToString();
        var list = new List<QueueListItem>();
        using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            list.Add(new QueueListItem(ReadMessage(r, 0), ReadDelivery(r, 11), r.GetInt32(22)));
        return list;
    }

    /// <inheritdoc/>
    public async Task<QueueMessageDetails?> GetAsync(long messageId, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        using var tx = c.BeginTransaction();
        SqliteCommand Cmd(string sql)
        {
            var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            cmd.Parameters.AddWithValue("$id", messageId);
            return cmd;
        }
        using var mc = Cmd(MessageSelect + " WHERE id = $id");
        var messages = ReadMessages(mc);
        if (messages.Count == 0) return null;
        using var dc = Cmd(DeliverySelect + " WHERE message_id = $id ORDER BY id");
        var deliveries = ReadDeliveries(dc);
        using var rc = Cmd(RecipientSelect + " WHERE delivery_id IN (SELECT id FROM delivery WHERE message_id = $id) ORDER BY id");
        var recipients = ReadRecipients(rc);
        var attempts = new List<QueueAttempt>();
        using (var ac = Cmd("SELECT delivery_id, time, transport, host, ip, tls, result, log FROM attempt WHERE delivery_id IN (SELECT id FROM delivery WHERE message_id = $id) ORDER BY id"))
        using (var r = ac.ExecuteReader())
        {
            while (r.Read())
                attempts.Add(new QueueAttempt(r.GetInt64(0), FromMs(r.GetInt64(1)), r.GetString(2), Str(r, 3), Str(r, 4), r.GetString(5), r.GetString(6), r.GetString(7)));
        }
        var events = new List<QueueEvent>();
        using (var ec = Cmd("SELECT message_id, time, kind, text FROM event WHERE message_id = $id ORDER BY id"))
        using (var r = ec.ExecuteReader())
        {
            while (r.Read()) events.Add(new QueueEvent(r.GetInt64(0), FromMs(r.GetInt64(1)), r.GetString(2), r.GetString(3)));
        }
        return new QueueMessageDetails(messages[0], deliveries, recipients, attempts, events);
    }

    /// <inheritdoc/>
    public Task<int> SetHeldAsync(long messageId, bool held, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w => w.Exec("UPDATE delivery SET held = $h WHERE message_id = $id AND state = 0 AND held <> $h", ("$h", held ? 1 : 0), ("$id", messageId)), cancellationToken);

    /// <inheritdoc/>
    public Task<int> ScheduleAsync(long messageId, DateTimeOffset when, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            w.Exec("UPDATE message SET hold_until = NULL WHERE id = $id", ("$id", messageId));
            return w.Exec("UPDATE delivery SET next_attempt = $n WHERE message_id = $id AND state = 0", ("$n", Ms(when)), ("$id", messageId));
        }, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<QueueRecipient>> FailAsync(long messageId, DateTimeOffset now, string enhanced, string text, CancellationToken cancellationToken = default) =>
        _writer.RunAsync<IReadOnlyList<QueueRecipient>>(w =>
        {
            var failed = ReadRecipients(w.Command(RecipientSelect + " WHERE state = 0 AND delivery_id IN (SELECT id FROM delivery WHERE message_id = $id AND state = 0)", ("$id", messageId)));
            w.Exec("UPDATE recipient SET state = 2, code = 550, enhanced = $e, text = $t WHERE state = 0 AND delivery_id IN (SELECT id FROM delivery WHERE message_id = $id AND state = 0)",
                ("$e", enhanced), ("$t", text), ("$id", messageId));
            w.Exec("UPDATE delivery SET state = 2, finished = $now, leased_until = NULL WHERE message_id = $id AND state = 0", ("$now", Ms(now)), ("$id", messageId));
            return failed;
        }, cancellationToken);

    /// <inheritdoc/>
    public Task<string?> DropAsync(long messageId, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            string? file = (string?)w.Scalar("SELECT file FROM message WHERE id = $id", ("$id", messageId));
            if (file is not null) w.Exec("DELETE FROM message WHERE id = $id", ("$id", messageId));
            return file;
        }, cancellationToken);

    /// <inheritdoc/>
    public Task AddEventAsync(long messageId, DateTimeOffset time, string kind, string text, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w => w.Exec("INSERT INTO event(message_id, time, kind, text) SELECT $m, $t, $k, $x WHERE EXISTS (SELECT 1 FROM message WHERE id = $m)",
            ("$m", messageId), ("$t", Ms(time)), ("$k", kind), ("$x", text)), cancellationToken);

    /// <inheritdoc/>
    public async Task<QueueMessage?> FindSentMessageAsync(string? envelopeId, string? messageIdHeader, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        foreach (var (column, value) in new[] { ("envid", envelopeId), ("message_id", messageIdHeader) })
        {
            if (string.IsNullOrEmpty(value)) continue;
            using var cmd = c.CreateCommand();
            cmd.CommandText = MessageSelect + $" WHERE {column} = $v ORDER BY id DESC LIMIT 1";
            cmd.Parameters.AddWithValue("$v", value);
            var found = ReadMessages(cmd);
            if (found.Count > 0) return found[0];
        }
        return null;
    }

    /// <inheritdoc/>
    public async Task<AccountSendingCounts> GetSendingCountsAsync(string account, string address, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT (SELECT messages FROM daily_count WHERE account = $a AND day = $d),
                   (SELECT first_time FROM daily_count WHERE account = $a AND day = $d),
                   (SELECT 1 FROM known_recipient WHERE account = $a AND address = $r),
                   (SELECT reason FROM suppression WHERE account = $a AND address = $r),
                   (SELECT added FROM suppression WHERE account = $a AND address = $r)
            """;
        string addr = address.ToLowerInvariant();
        cmd.Parameters.AddWithValue("$a", account);
        cmd.Parameters.AddWithValue("$d", Day(now));
        cmd.Parameters.AddWithValue("$r", addr);
        using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        r.Read();
        SuppressedAddress? s = r.IsDBNull(3) ? null : new SuppressedAddress(account, addr, r.GetString(3), FromMs(r.GetInt64(4)));
        return new AccountSendingCounts(r.IsDBNull(0) ? 0 : r.GetInt32(0), r.IsDBNull(1) ? 0 : r.GetInt32(1), !r.IsDBNull(2), s);
    }

    /// <inheritdoc/>
    public Task AddSuppressionsAsync(IReadOnlyList<SuppressedAddress> entries, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w =>
        {
            foreach (SuppressedAddress s in entries) UpsertSuppression(w, s);
            return 0;
        }, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> RemoveSuppressionAsync(string account, string address, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(w => w.Exec("DELETE FROM suppression WHERE account = $a AND address = $r", ("$a", account), ("$r", address.ToLowerInvariant())) > 0, cancellationToken);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<SuppressedAddress>> ListSuppressionsAsync(string? account, CancellationToken cancellationToken = default)
    {
        await using SqliteConnection c = OpenReader();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT account, address, reason, added FROM suppression" + (account is null ? "" : " WHERE account = $a") + " ORDER BY account, address";
        if (account is not null) cmd.Parameters.AddWithValue("$a", account);
        var list = new List<SuppressedAddress>();
        using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            list.Add(new SuppressedAddress(r.GetString(0), r.GetString(1), r.GetString(2), FromMs(r.GetInt64(3))));
        return list;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> PurgeFinishedAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default) =>
        _writer.RunAsync<IReadOnlyList<string>>(w =>
        {
            var victims = new List<(long Id, string File)>();
            using (var r = w.Command("""
                SELECT m.id, m.file FROM message m WHERE m.created < $b AND NOT EXISTS (
                  SELECT 1 FROM delivery d WHERE d.message_id = m.id AND (d.state = 0 OR d.finished >= $b))
                ORDER BY m.created LIMIT $n
                """, ("$b", Ms(before)), ("$n", limit)).ExecuteReader())
            {
                while (r.Read()) victims.Add((r.GetInt64(0), r.GetString(1)));
            }
            foreach (var (id, _) in victims) w.Exec("DELETE FROM message WHERE id = $id", ("$id", id));
            // Counters older than a week answer no limit any more.
            w.Exec("DELETE FROM daily_count WHERE day < $d", ("$d", Day(before) - 7));
            return victims.Select(v => v.File).ToList();
        }, cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        SqliteConnection.ClearAllPools();
    }
}
