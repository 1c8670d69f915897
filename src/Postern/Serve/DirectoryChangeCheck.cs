// Whether the global database (DATA/postern.db: domains, accounts, addresses) has changed since
// the last look, for the running server's domain check (AcmeService): SQLite's PRAGMA
// data_version on a read-only connection of its own moves whenever any other connection commits,
// in this process or another (the CLI adding a domain while the server runs). One step of a
// prepared statement: the domain list is only read again when something changed.
using Microsoft.Data.Sqlite;

namespace Postern.Serve;

/// <summary>Tells whether DATA/postern.db changed since the previous call.</summary>
internal sealed class DirectoryChangeCheck : IDisposable
{
    private readonly string _path;
    private readonly Lock _lock = new();
    private SqliteConnection? _connection;
    private SqliteCommand? _dataVersion;
    private long? _last;

    /// <param name="databasePath">The global database, DATA/postern.db.</param>
    public DirectoryChangeCheck(string databasePath) => _path = databasePath;

    /// <summary>
    /// True at the first call, after any commit of another connection since the previous call, and
    /// whenever the database cannot be asked (the caller then reads the list anyway).
    /// </summary>
    public bool HasChanged()
    {
        lock (_lock)
        {
            try
            {
                if (_dataVersion is null)
                {
                    _connection = new SqliteConnection(new SqliteConnectionStringBuilder
                    {
                        DataSource = _path,
                        Mode = SqliteOpenMode.ReadOnly,
                        Pooling = false, // a connection of its own: data_version counts the commits of the others
                    }.ToString());
                    _connection.Open();
                    _dataVersion = _connection.CreateCommand();
                    _dataVersion.CommandText = "PRAGMA data_version";
                    _dataVersion.Prepare();
                }
                long version = (long)_dataVersion.ExecuteScalar()!;
                bool changed = _last != version;
                _last = version;
                return changed;
            }
            catch (SqliteException)
            {
                Close();
                return true;
            }
        }
    }

    private void Close()
    {
        _dataVersion?.Dispose();
        _connection?.Dispose();
        _dataVersion = null;
        _connection = null;
        _last = null;
    }

    public void Dispose()
    {
        lock (_lock) Close();
    }
}
