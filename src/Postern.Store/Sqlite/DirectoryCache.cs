using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>
/// Answers of the global database that SMTP asks for every recipient and message (address, alias, local domain,
/// delivery rules), kept while the database is unchanged. Whether it changed is SQLite's <c>PRAGMA data_version</c>
/// on a connection of its own: the value moves whenever another connection commits, in this process (the
/// directory's writer) or in another (the CLI adding an address while the server runs), so a change is seen by the
/// very next lookup. The check is one step of an already prepared statement, far cheaper than opening a pooled
/// connection and preparing the query it saves. Entries are bounded (recipients come from the network): past
/// <see cref="MaxEntries"/> the cache starts again empty.
/// </summary>
internal sealed class DirectoryCache : IDisposable
{
    /// <summary>Most answers kept at once.</summary>
    public const int MaxEntries = 10_000;

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _dataVersion;
    private readonly Lock _lock = new();
    private volatile Generation _current = new(long.MinValue);

    private sealed class Generation(long version)
    {
        public long Version { get; } = version;
        public ConcurrentDictionary<(int Kind, string Key), object?> Answers { get; } = new();
    }

    public DirectoryCache(string connectionString)
    {
        _connection = new SqliteConnection(connectionString);
        _connection.Open();
        _dataVersion = _connection.CreateCommand();
        _dataVersion.CommandText = "PRAGMA data_version";
        _dataVersion.Prepare();
    }

    /// <summary>The cached answer of <paramref name="kind"/> for <paramref name="key"/>, or <paramref name="load"/>'s, remembered.</summary>
    public T Get<T>(int kind, string key, Func<string, T> load)
    {
        Generation g = CurrentGeneration();
        if (g.Answers.TryGetValue((kind, key), out object? cached)) return (T)cached!;
        // Loaded after the version was read: a commit in between only makes the next lookup start a new generation.
        T value = load(key);
        if (g.Answers.Count < MaxEntries) g.Answers[(kind, key)] = value;
        else _current = new Generation(g.Version);
        return value;
    }

    private Generation CurrentGeneration()
    {
        long version;
        lock (_lock) version = (long)_dataVersion.ExecuteScalar()!;
        Generation g = _current;
        if (g.Version == version) return g;
        g = new Generation(version);
        _current = g;
        return g;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _dataVersion.Dispose();
            _connection.Dispose();
        }
    }
}
