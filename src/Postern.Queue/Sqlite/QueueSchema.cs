using Microsoft.Data.Sqlite;

namespace Postern.Queue.Sqlite;

/// <summary>The queue database's schema; <c>schema_version</c> holds the version so later migrations know where to start.</summary>
internal static partial class QueueSchema
{
    public const int Version = 2;

    /// <summary>Steps after version 1: step i brings version i+1 to i+2. A new database runs them all after <see cref="Ddl"/>.</summary>
    private static readonly string[] Steps = [TransportSecurityStep];

    // delivery_due is partial: only waiting deliveries are in it, so finding due work stays a short
    // index range however many finished entries are kept for inspection.
    private const string Ddl = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        CREATE TABLE message (
            id INTEGER PRIMARY KEY,
            account TEXT,
            mail_from TEXT NOT NULL,
            size INTEGER NOT NULL,
            flags INTEGER NOT NULL,
            envid TEXT,
            ret TEXT,
            hold_until INTEGER,
            created INTEGER NOT NULL,
            file TEXT NOT NULL,
            message_id TEXT
        );
        CREATE INDEX message_created ON message(created);
        CREATE INDEX message_envid ON message(envid) WHERE envid IS NOT NULL;
        CREATE INDEX message_message_id ON message(message_id) WHERE message_id IS NOT NULL;
        CREATE TABLE delivery (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
            domain TEXT NOT NULL,
            state INTEGER NOT NULL,
            next_attempt INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            leased_until INTEGER,
            delayed_dsn INTEGER NOT NULL DEFAULT 0,
            finished INTEGER,
            last_error TEXT
        );
        CREATE INDEX delivery_due ON delivery(next_attempt) WHERE state = 0 AND held = 0;
        CREATE INDEX delivery_message ON delivery(message_id);
        CREATE TABLE recipient (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
            address TEXT NOT NULL,
            notify TEXT,
            orcpt TEXT,
            state INTEGER NOT NULL,
            code INTEGER NOT NULL DEFAULT 0,
            enhanced TEXT,
            text TEXT
        );
        CREATE INDEX recipient_delivery ON recipient(delivery_id);
        CREATE TABLE attempt (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
            time INTEGER NOT NULL,
            transport TEXT NOT NULL,
            host TEXT,
            ip TEXT,
            tls TEXT NOT NULL,
            result TEXT NOT NULL,
            log TEXT NOT NULL
        );
        CREATE INDEX attempt_delivery ON attempt(delivery_id);
        CREATE TABLE event (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
            time INTEGER NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        );
        CREATE INDEX event_message ON event(message_id);
        CREATE TABLE suppression (
            account TEXT NOT NULL,
            address TEXT NOT NULL,
            reason TEXT NOT NULL,
            added INTEGER NOT NULL,
            PRIMARY KEY (account, address)
        ) WITHOUT ROWID;
        CREATE TABLE daily_count (
            account TEXT NOT NULL,
            day INTEGER NOT NULL,
            messages INTEGER NOT NULL DEFAULT 0,
            first_time INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (account, day)
        ) WITHOUT ROWID;
        CREATE TABLE known_recipient (
            account TEXT NOT NULL,
            address TEXT NOT NULL,
            first_day INTEGER NOT NULL,
            PRIMARY KEY (account, address)
        ) WITHOUT ROWID;
        """;

    /// <summary>Creates the schema in a new database, or upgrades an older one step by step; refuses a database newer than this program.</summary>
    public static void Ensure(SqliteConnection conn)
    {
        using var tx = conn.BeginTransaction();
        using var probe = conn.CreateCommand();
        probe.Transaction = tx;
        probe.CommandText = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'";
        long have;
        if (probe.ExecuteScalar() is not null)
        {
            probe.CommandText = "SELECT version FROM schema_version";
            have = (long)(probe.ExecuteScalar() ?? 0L);
            if (have > Version) throw new InvalidOperationException($"queue database schema version {have} is newer than this program ({Version})");
        }
        else
        {
            probe.CommandText = Ddl + "INSERT INTO schema_version(version) VALUES (1);";
            probe.ExecuteNonQuery();
            have = 1;
        }
        for (long v = have; v < Version; v++)
        {
            probe.CommandText = Steps[v - 1] + $"UPDATE schema_version SET version = {v + 1};";
            probe.ExecuteNonQuery();
        }
        tx.Commit();
    }
}
