// DATA/reports.db holds report material (DMARC evaluations, TLS results, received reports):
// its own SQLite database with its own schema version, so that report data never slows or
// locks the mail databases. Several stores share the file; each adds its tables as a numbered
// step here. Steps are applied in order on open, in one transaction; a released step is never
// edited (append a new one instead), so a data folder of any older version migrates forward.
using System.Globalization;
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>The schema of DATA/reports.db and how a connection to it is opened.</summary>
public static partial class ReportsSchema
{
    /// <summary>File name of the database in the data folder.</summary>
    public const string FileName = "reports.db";

    /// <summary>The steps in order: applying step <c>i</c> brings the schema to version <c>i + 1</c>.</summary>
    private static readonly string[] Steps =
    [
        DmarcEvaluationsStep, // 1
        TlsResultsStep, // 2 (outgoing TLS results, sent-report bookkeeping)
        IncomingReportsStep, // 3 (reports received)
        IncomingReportsReceivedIndexStep, // 4 (received reports by arrival, for the retention clean-up)
    ];

    /// <summary>Schema version this code writes and reads.</summary>
    public static int Version => Steps.Length;

    /// <summary>Whether a data folder has a reports database.</summary>
    public static bool Exists(string dataDirectory) => File.Exists(Path.Combine(dataDirectory, FileName));

    /// <summary>The database's path in a data folder.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>Opens (creating when missing) DATA/reports.db for writing and migrates it to <see cref="Version"/>.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteConnection OpenWriter(string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        string path = PathIn(dataDirectory);
        var conn = new SqliteConnection(Db.ConnectionString(path, readOnly: false));
        try
        {
            conn.Open();
            // Report data: WAL keeps readers (the CLI, the report senders) off the writer's back;
            // synchronous=NORMAL because losing the last batch in a power cut is acceptable here.
            Db.Exec(conn, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
            using SqliteTransaction tx = conn.BeginTransaction();
            bool exists = Db.Scalar(conn, tx, "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'") is not null;
            long version = 0;
            if (!exists)
            {
                Db.Exec(conn, tx, "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version(version) VALUES (0);");
            }
            else
            {
                version = Convert.ToInt64(Db.Scalar(conn, tx, "SELECT version FROM schema_version") ?? 0L, CultureInfo.InvariantCulture);
                if (version > Version)
                    throw new StoreException($"{path} has schema version {version}; this Postern knows up to {Version} (upgrade Postern)");
            }
            for (long step = version; step < Version; step++)
                Db.Exec(conn, tx, Steps[step]);
            if (version < Version)
                Db.Exec(conn, tx, "UPDATE schema_version SET version = $v", ("$v", Version));
            tx.Commit();
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    /// <summary>Opens DATA/reports.db read-only (the CLI while the server runs); the schema must not be newer than this code.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static SqliteConnection OpenReader(string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        var conn = new SqliteConnection(Db.ConnectionString(PathIn(dataDirectory), readOnly: true));
        try
        {
            conn.Open();
            long version = Convert.ToInt64(Db.Scalar(conn, null, "SELECT version FROM schema_version") ?? 0L, CultureInfo.InvariantCulture);
            if (version > Version)
                throw new StoreException($"{FileName} has schema version {version}; this Postern knows up to {Version} (upgrade Postern)");
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }
}
