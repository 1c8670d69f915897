using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>Database schemas. <c>schema_version</c> holds the version so later migrations know where to start.</summary>
internal static class Schema
{
    public const int GlobalVersion = 1;
    public const int AccountVersion = 1;

    private const string GlobalDdl = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        CREATE TABLE account (
            name TEXT PRIMARY KEY,
            created INTEGER NOT NULL,
            quota INTEGER,
            credentials TEXT
        ) WITHOUT ROWID;
        CREATE TABLE address (
            address TEXT PRIMARY KEY,
            account TEXT NOT NULL REFERENCES account(name)
        ) WITHOUT ROWID;
        CREATE INDEX address_account ON address(account);
        CREATE TABLE login_attempt (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            remote_ip TEXT NOT NULL,
            login_name TEXT NOT NULL,
            mechanism TEXT NOT NULL,
            result TEXT NOT NULL,
            protocol TEXT NOT NULL
        );
        CREATE INDEX login_attempt_name ON login_attempt(login_name, time);
        """;

    // message is WITHOUT ROWID keyed by (mailbox_id, uid): listing a mailbox is one ordered range scan.
    // size/flags are denormalized onto message so SELECT and FETCH FLAGS never join blob.
    private const string AccountDdl = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        CREATE TABLE account_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            modseq INTEGER NOT NULL,
            next_blob_id INTEGER NOT NULL,
            next_uidvalidity INTEGER NOT NULL,
            size INTEGER NOT NULL
        );
        CREATE TABLE mailbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            special_use INTEGER NOT NULL DEFAULT 0,
            selectable INTEGER NOT NULL DEFAULT 1,
            uidvalidity INTEGER NOT NULL,
            uidnext INTEGER NOT NULL DEFAULT 1,
            highestmodseq INTEGER NOT NULL,
            recent_from INTEGER NOT NULL DEFAULT 1,
            messages INTEGER NOT NULL DEFAULT 0,
            unseen INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE subscription (name TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE blob (
            id INTEGER PRIMARY KEY,
            size INTEGER NOT NULL,
            file_size INTEGER NOT NULL,
            refcount INTEGER NOT NULL,
            prefix BLOB,
            structure BLOB,
            message_id TEXT, in_reply_to TEXT, refs TEXT, base_subject TEXT, subject TEXT, date INTEGER,
            from_addr TEXT, from_name TEXT, to_addr TEXT, to_name TEXT, cc_addr TEXT, cc_name TEXT, preview TEXT
        );
        CREATE INDEX blob_message_id ON blob(message_id);
        CREATE TABLE message (
            mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),
            uid INTEGER NOT NULL,
            blob_id INTEGER NOT NULL REFERENCES blob(id),
            modseq INTEGER NOT NULL,
            flags INTEGER NOT NULL,
            keywords TEXT NOT NULL,
            size INTEGER NOT NULL,
            internaldate INTEGER NOT NULL,
            savedate INTEGER NOT NULL,
            PRIMARY KEY (mailbox_id, uid)
        ) WITHOUT ROWID;
        CREATE INDEX message_modseq ON message(mailbox_id, modseq);
        CREATE INDEX message_blob ON message(blob_id);
        CREATE TABLE expunged (
            mailbox_id INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            modseq INTEGER NOT NULL,
            PRIMARY KEY (mailbox_id, uid)
        ) WITHOUT ROWID;
        CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
        """;

    /// <summary>Creates the global schema when the database is new; returns whether it was created.</summary>
    public static bool EnsureGlobal(SqliteConnection conn) => Ensure(conn, GlobalDdl, GlobalVersion, null);

    /// <summary>Creates the account schema and default mailboxes when the database is new.</summary>
    public static bool EnsureAccount(SqliteConnection conn, Action<SqliteTransaction> initialize) => Ensure(conn, AccountDdl, AccountVersion, initialize);

    private static bool Ensure(SqliteConnection conn, string ddl, int version, Action<SqliteTransaction>? initialize)
    {
        using var tx = conn.BeginTransaction();
        bool exists = Db.Scalar(conn, tx, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'") is not null;
        if (exists)
        {
            long have = (long)(Db.Scalar(conn, tx, "SELECT version FROM schema_version") ?? 0L);
            if (have > version) throw new StoreException($"database schema version {have} is newer than this program ({version})");
            tx.Commit();
            return false;
        }
        Db.Exec(conn, tx, ddl);
        Db.Exec(conn, tx, "INSERT INTO schema_version(version) VALUES ($v)", ("$v", version));
        initialize?.Invoke(tx);
        tx.Commit();
        return true;
    }
}
