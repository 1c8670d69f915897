// What every store over DATA/reports.db holds: one writing connection (opened and migrated by
// ReportsSchema.OpenWriter) used under one lock, so its writes never interleave, and read-only
// connections of their own for queries (WAL: readers never wait for the writer).
using Microsoft.Data.Sqlite;
using Postern.Store.Sqlite;

namespace Postern.Store.Reports;

/// <summary>A report store's writing connection to DATA/reports.db, its lock, and its read connections.</summary>
internal sealed class ReportsConnection : IAsyncDisposable
{
    private readonly string _path;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _lock = new(1, 1);

    private ReportsConnection(string path, SqliteConnection writer)
    {
        _path = path;
        _writer = writer;
    }

    /// <summary>Opens (creating and migrating when needed) DATA/reports.db for writing.</summary>
    /// <exception cref="StoreException">The database has a newer schema than this version of Postern knows.</exception>
    public static ReportsConnection Open(string dataDirectory) => new(ReportsSchema.PathIn(dataDirectory), ReportsSchema.OpenWriter(dataDirectory));

    /// <summary>Runs <paramref name="write"/> on the writing connection, alone (without a transaction of its own).</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, T> write, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return write(_writer);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Runs <paramref name="write"/> on the writing connection, alone, in one transaction committed when it returns.</summary>
    public Task<T> WriteInTransactionAsync<T>(Func<SqliteConnection, SqliteTransaction, T> write, CancellationToken cancellationToken) =>
        WriteAsync(c =>
        {
            using SqliteTransaction tx = c.BeginTransaction();
            T result = write(c, tx);
            tx.Commit();
            return result;
        }, cancellationToken);

    /// <summary>A new read-only connection (the caller disposes it).</summary>
    public async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var conn = new SqliteConnection(Db.ConnectionString(_path, readOnly: true));
        try
        {
            await conn.OpenAsync(cancellationToken).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for the write in progress, then closes the writing connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
            _lock.Dispose();
        }
    }
}
