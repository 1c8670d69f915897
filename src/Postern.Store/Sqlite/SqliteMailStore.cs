using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>
/// The embedded store of a data directory: <c>postern.db</c> (global) and <c>accounts/&lt;name&gt;/</c>
/// (index.db, msg/, tmp/). Account stores are opened on first use and shared; when the last user disposes one it
/// stays open for <see cref="IdleAccountLifetime"/>, so that a stream of deliveries to an account nobody has open
/// (SMTP with no IMAP session) does not open and close its database and writer for every message.
/// </summary>
public sealed class SqliteMailStore : IMailStore
{
    private readonly Dictionary<string, SqliteAccountStore> _open = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _openLock = new(1, 1);
    private readonly SqliteAccountDirectory _directory;
    private bool _disposed;
    private Timer? _sweeper;

    /// <summary>How long an account store nobody uses stays open.</summary>
    public static readonly TimeSpan IdleAccountLifetime = TimeSpan.FromSeconds(30);

    private SqliteMailStore(string dataDirectory)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        _directory = new SqliteAccountDirectory(this, Path.Combine(DataDirectory, "postern.db"));
    }

    /// <summary>The data directory.</summary>
    public string DataDirectory { get; }

    /// <inheritdoc/>
    public IAccountDirectory Directory => _directory;

    /// <summary>Most distinct junk-filter tokens kept per account; past it, tokens seen in only one message are dropped.</summary>
    public int JunkMaxWords { get; set; } = 1_000_000;

    /// <summary>Opens (creating if needed) the store in <paramref name="dataDirectory"/>.</summary>
    public static SqliteMailStore Open(string dataDirectory)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(dataDirectory, "accounts"));
        var store = new SqliteMailStore(dataDirectory);
        store._directory.Initialize();
        return store;
    }

    /// <inheritdoc/>
    public event Action<string, IReadOnlyList<StoreChange>>? AccountChanged;

    internal void OnAccountChanged(string account, IReadOnlyList<StoreChange> changes) => AccountChanged?.Invoke(account, changes);

    internal string AccountDirectory(string name) => Path.Combine(DataDirectory, "accounts", name);

    /// <inheritdoc/>
    public async ValueTask<IAccountStore> OpenAccountAsync(string accountName, CancellationToken cancellationToken = default)
    {
        await _openLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open.TryGetValue(accountName, out var store))
            {
                store.RefCount++;
                return store;
            }
            var info = await _directory.GetAccountAsync(accountName, cancellationToken).ConfigureAwait(false) ?? throw new AccountNotFoundException(accountName);
            store = SqliteAccountStore.Open(this, info.Name, AccountDirectory(info.Name), info.QuotaBytes);
            store.RefCount = 1;
            _open[info.Name] = store;
            return store;
        }
        finally
        {
            _openLock.Release();
        }
    }

    internal async ValueTask ReleaseAsync(SqliteAccountStore store)
    {
        await _openLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (store.RefCount <= 0) return;
            if (--store.RefCount > 0) return;
            store.IdleSince = Environment.TickCount64;
            _sweeper ??= new Timer(_ => _ = CloseIdleAsync(), null, IdleAccountLifetime / 2, IdleAccountLifetime / 2);
        }
        finally
        {
            _openLock.Release();
        }
    }

    private async Task CloseIdleAsync()
    {
        var idle = new List<SqliteAccountStore>();
        await _openLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            long now = Environment.TickCount64;
            foreach (var s in _open.Values)
            {
                if (s.RefCount == 0 && now - s.IdleSince >= (long)IdleAccountLifetime.TotalMilliseconds)
                    idle.Add(s);
            }
            foreach (var s in idle) _open.Remove(s.AccountName);
        }
        finally
        {
            _openLock.Release();
        }
        foreach (var s in idle)
            await s.CloseAsync().ConfigureAwait(false);
    }

    /// <summary>Creates the account's database and default mailboxes (used right after the global row is written).</summary>
    internal async Task InitializeAccountAsync(string name)
    {
        var store = await OpenAccountAsync(name).ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
    }

    internal void QuotaChanged(string name, long? quota)
    {
        _openLock.Wait();
        try
        {
            if (_open.TryGetValue(name, out var s)) s.SetQuota(quota);
        }
        finally
        {
            _openLock.Release();
        }
    }

    /// <summary>Closes every account store (whatever their reference counts) and the global database.</summary>
    public async ValueTask DisposeAsync()
    {
        List<SqliteAccountStore> stores;
        await _openLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            _sweeper?.Dispose();
            stores = [.. _open.Values];
            _open.Clear();
        }
        finally
        {
            _openLock.Release();
        }
        foreach (var s in stores)
        {
            s.RefCount = 0;
            await s.CloseAsync().ConfigureAwait(false);
        }
        _directory.Close();
        SqliteConnection.ClearAllPools();
    }
}
