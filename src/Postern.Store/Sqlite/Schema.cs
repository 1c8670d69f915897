using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>Database schemas. <c>schema_version</c> holds the version so later migrations know where to start.</summary>
internal static class Schema
{
    public const int GlobalVersion = 3;
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

    // Migrations of the global database, applied in order: GlobalMigrations[i] takes version i+1 to i+2.
    // A new database gets GlobalDdl and then every migration, so both paths end with the same schema.
    private static readonly string[] GlobalMigrations =
    [
        // 1 -> 2 (SMTP delivery): a destination mailbox per address, catch-all addresses ("@domain")
        // found by domain, aliases with local members, and delivery rules per account.
        """
        ALTER TABLE address ADD COLUMN mailbox TEXT;
        CREATE INDEX address_domain ON address(substr(address, instr(address, '@') + 1));
        CREATE TABLE alias (
            address TEXT PRIMARY KEY,
            members TEXT NOT NULL,
            members_may_send INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE INDEX alias_domain ON alias(substr(address, instr(address, '@') + 1));
        CREATE TABLE delivery_rule (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL REFERENCES account(name),
            field TEXT NOT NULL,
            header TEXT,
            pattern TEXT NOT NULL,
            mailbox TEXT NOT NULL
        );
        CREATE INDEX delivery_rule_account ON delivery_rule(account, id);
        """,
        // 2 -> 3 (administration): the local domains as a table of their own, so that a domain is
        // local before it has an address and `config domain rm` can refuse while addresses use it.
        // Existing data folders keep working: every domain of an address or alias becomes a domain.
        """
        CREATE TABLE domain (
            name TEXT PRIMARY KEY,
            created INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO domain (name, created)
            SELECT DISTINCT substr(address, instr(address, '@') + 1), CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM address
            UNION SELECT DISTINCT substr(address, instr(address, '@') + 1), CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM alias;
        """,
    ];

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
    public static bool EnsureGlobal(SqliteConnection conn)
    {
        bool created = Ensure(conn, GlobalDdl, 1, null, GlobalVersion);
        Migrate(conn, GlobalMigrations, GlobalVersion);
        return created;
    }

    private static void Migrate(SqliteConnection conn, string[] migrations, int target)
    {
        using var tx = conn.BeginTransaction();
        long have = (long)(Db.Scalar(conn, tx, "SELECT version FROM schema_version") ?? 0L);
        if (have > target) throw new StoreException($"database schema version {have} is newer than this program ({target})");
        for (long v = have; v < target; v++)
            Db.Exec(conn, tx, migrations[v - 1]);
        if (have < target)
            Db.Exec(conn, tx, "UPDATE schema_version SET version = $v", ("$v", target));
        tx.Commit();
    }

    /// <summary>Creates the account schema and default mailboxes when the database is new.</summary>
    // accounts/NAME/junk.db: the junk filter's training (Junk/SqliteJunkWordStore.cs). Derived from the messages'
    // $Junk/$NotJunk keywords and rebuilt from them by `postern junk retrain`, so it lives apart from index.db.
    private const string JunkDdl = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        CREATE TABLE junk_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            junk_messages INTEGER NOT NULL,
            ham_messages INTEGER NOT NULL,
            words INTEGER NOT NULL,
            modseq INTEGER NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            threshold REAL
        );
        INSERT INTO junk_state (id, junk_messages, ham_messages, words, modseq) VALUES (1, 0, 0, 0, 0);
        CREATE TABLE word (word TEXT PRIMARY KEY, junk INTEGER NOT NULL, ham INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE trained (content_id INTEGER PRIMARY KEY, class INTEGER NOT NULL);
        CREATE TABLE contact (address TEXT PRIMARY KEY, last_sent INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX contact_last_sent ON contact(last_sent);
        """;

    /// <summary>Creates the junk training schema when the database is new.</summary>
    public static bool EnsureJunk(SqliteConnection conn) => Ensure(conn, JunkDdl, 1, null, 1);

    public static bool EnsureAccount(SqliteConnection conn, Action<SqliteTransaction> initialize) => Ensure(conn, AccountDdl, AccountVersion, initialize, AccountVersion);

    private static bool Ensure(SqliteConnection conn, string ddl, int version, Action<SqliteTransaction>? initialize, int newestKnown)
    {
        using var tx = conn.BeginTransaction();
        bool exists = Db.Scalar(conn, tx, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'") is not null;
        if (exists)
        {
            long have = (long)(Db.Scalar(conn, tx, "SELECT version FROM schema_version") ?? 0L);
            if (have > newestKnown) throw new StoreException($"database schema version {have} is newer than this program ({newestKnown})");
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
