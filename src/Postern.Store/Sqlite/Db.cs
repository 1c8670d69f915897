using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>Connection strings, pragmas and small command helpers shared by the SQLite backend.</summary>
internal static class Db
{
    /// <summary>Seconds a statement waits on a lock held by another connection before failing.</summary>
    public const int BusyTimeoutSeconds = 30;

    public static string ConnectionString(string path, bool readOnly) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        ForeignKeys = true,
        DefaultTimeout = BusyTimeoutSeconds,
        Cache = SqliteCacheMode.Private,
    }.ToString();

    /// <summary>Opens a read-write connection with the durability pragmas: WAL and synchronous=FULL, so a commit is on disk when it returns.</summary>
    public static SqliteConnection OpenWriter(string path)
    {
        var conn = new SqliteConnection(ConnectionString(path, readOnly: false));
        conn.Open();
        Exec(conn, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        return conn;
    }

    public static int Exec(SqliteConnection conn, SqliteTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection conn, SqliteTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        var v = cmd.ExecuteScalar();
        return v is DBNull ? null : v;
    }

    public static SqliteCommand Command(SqliteConnection conn, SqliteTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    public static long ToUnixMs(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static string? NullableString(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
