using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Postern.Store.Sqlite;

/// <summary>
/// Group commit. Every change to an account goes through this single writer. The loop takes all requests
/// queued at that moment (up to <see cref="MaxBatch"/>), runs each inside its own savepoint of one transaction
/// (a failing request is rolled back alone), commits once with synchronous=FULL, and only then completes the
/// callers and publishes the change feed. Message files were written to their final paths and fsynced (file and
/// folder) by the callers before queuing, in parallel, so a batch costs one WAL fsync however many appends it
/// holds. Nothing is acknowledged before it is durable.
/// </summary>
internal sealed class AccountWriter : IAsyncDisposable
{
    /// <summary>Most requests in one transaction, bounding the latency a batch adds.</summary>
    public const int MaxBatch = 256;

    private readonly Channel<WriteRequest> _queue = Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly WriteContext _ctx;
    private readonly ChangeFeed _feed;
    private readonly Task _loop;

    public AccountWriter(SqliteConnection connection, MessageFiles files, ChangeFeed feed, Func<long?> quota)
    {
        _ctx = new WriteContext(connection, files, quota);
        _feed = feed;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The account's size in bytes as of the last commit, or -1 before the first batch loaded it.</summary>
    public long CommittedAccountSize => _ctx.CommittedAccountSize;

    /// <summary>Changes after each commit that created, renamed or deleted a mailbox or changed its special use.</summary>
    public long MailboxVersion => _ctx.MailboxVersion;

    public Task<T> EnqueueAsync<T>(Func<WriteContext, T> operation, CancellationToken cancellationToken, Action? onFailure = null)
    {
        var req = new WriteRequest<T>(operation, cancellationToken, onFailure);
        if (!_queue.Writer.TryWrite(req)) throw new ObjectDisposedException(nameof(AccountWriter), "account store closed");
        return req.Task;
    }

    private async Task RunAsync()
    {
        var batch = new List<WriteRequest>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var r)) batch.Add(r);
            RunBatch(batch);
        }
    }

    private void RunBatch(List<WriteRequest> batch)
    {
        var succeeded = new List<WriteRequest>(batch.Count);
        try
        {
            _ctx.BeginBatch();
            for (int i = 0; i < batch.Count; i++)
            {
                var req = batch[i];
                if (req.CancellationToken.IsCancellationRequested)
                {
                    req.Cancel();
                    continue;
                }
                _ctx.BeginOperation(i);
                try
                {
                    req.Run(_ctx);
                    _ctx.EndOperation(commit: true, i);
                    succeeded.Add(req);
                }
                catch (Exception ex)
                {
                    _ctx.EndOperation(commit: false, i);
                    req.Fail(ex);
                }
            }
            _ctx.CommitBatch();
        }
        catch (Exception ex)
        {
            _ctx.AbortBatch();
            foreach (var req in succeeded) req.Fail(ex);
            return;
        }
        _ctx.AfterCommit();
        _feed.Publish(_ctx.CommittedChanges);
        foreach (var req in succeeded) req.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        _ctx.Dispose();
    }

    private abstract class WriteRequest
    {
        public abstract CancellationToken CancellationToken { get; }
        public abstract void Run(WriteContext ctx);
        public abstract void Fail(Exception ex);
        public abstract void Cancel();
        public abstract void Complete();
    }

    private sealed class WriteRequest<T>(Func<WriteContext, T> operation, CancellationToken cancellationToken, Action? onFailure) : WriteRequest
    {
        private readonly TaskCompletionSource<T> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _tcs.Task;
        public override CancellationToken CancellationToken => cancellationToken;
        public override void Run(WriteContext ctx) => _result = operation(ctx);

        public override void Fail(Exception ex)
        {
            onFailure?.Invoke();
            _tcs.TrySetException(ex);
        }

        public override void Cancel()
        {
            onFailure?.Invoke();
            _tcs.TrySetCanceled(cancellationToken);
        }

        public override void Complete() => _tcs.TrySetResult(_result!);
    }
}

/// <summary>
/// State of the writer connection during a batch: the transaction, account counters (MODSEQ,
/// UIDVALIDITY, usage; blob ids come from <see cref="MessageFiles.ReserveBlobId"/>) kept in memory and written once per batch, files to delete, and events.
/// Everything an operation did is undone with its savepoint when it fails.
/// </summary>
internal sealed class WriteContext : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Func<long?> _quota;
    private readonly List<string> _opDeleteAfterCommit = [];
    private readonly List<string> _batchDeleteAfterCommit = [];
    private readonly List<StoreChange> _opChanges = [];
    private readonly List<StoreChange> _batchChanges = [];
    private (long ModSeq, long NextUidValidity, long Size) _saved;
    private bool _countersLoaded;
    private bool _opMailboxesChanged;
    private bool _batchMailboxesChanged;
    private long _committedAccountSize = -1;
    private long _mailboxVersion;

    public WriteContext(SqliteConnection connection, MessageFiles files, Func<long?> quota)
    {
        Connection = connection;
        Files = files;
        _quota = quota;
    }

    public SqliteConnection Connection { get; }
    public MessageFiles Files { get; }
    public SqliteTransaction Transaction { get; private set; } = null!;
    public long ModSeq { get; private set; }
    public long NextUidValidity { get; private set; }
    public long AccountSize { get; set; }
    public long? QuotaLimit => _quota();
    public DateTimeOffset Now { get; private set; }
    public IReadOnlyList<StoreChange> CommittedChanges => _batchChanges;

    /// <summary>See <see cref="AccountWriter.CommittedAccountSize"/>; read by other threads.</summary>
    public long CommittedAccountSize => Volatile.Read(ref _committedAccountSize);

    /// <summary>See <see cref="AccountWriter.MailboxVersion"/>; read by other threads.</summary>
    public long MailboxVersion => Volatile.Read(ref _mailboxVersion);

    /// <summary>Marks the current operation as changing the list of mailboxes (names, selectability, special use).</summary>
    public void MailboxesChanged() => _opMailboxesChanged = true;

    public long NewModSeq() => ++ModSeq;

    /// <summary>A UIDVALIDITY strictly greater than any given before in this account; seeded from the clock so a re-created account also starts higher.</summary>
    public uint NewUidValidity()
    {
        long now = Now.ToUnixTimeSeconds();
        long v = Math.Max(NextUidValidity, Math.Min(now, uint.MaxValue - 1));
        if (v >= uint.MaxValue) throw new StoreException("UIDVALIDITY space exhausted");
        NextUidValidity = v + 1;
        return (uint)v;
    }

    public void AddChange(StoreChange change)
    {
        _opChanges.Add(change);
        if (change is MailboxCreated or MailboxRenamed or MailboxDeleted) _opMailboxesChanged = true;
    }

    public void DeleteFileAfterCommit(string path) => _opDeleteAfterCommit.Add(path);

    public SqliteCommand Command(string sql)
    {
        var cmd = Cached(sql);
        cmd.Parameters.Clear();
        return cmd;
    }

    /// <summary>The command for <paramref name="sql"/>, created once per connection, in the current transaction.</summary>
    private SqliteCommand Cached(string sql)
    {
        if (!_commands.TryGetValue(sql, out var cmd))
        {
            cmd = Connection.CreateCommand();
            cmd.CommandText = sql;
            _commands[sql] = cmd;
        }
        cmd.Transaction = Transaction;
        return cmd;
    }

    public int Exec(string sql, params ReadOnlySpan<(string Name, object? Value)> args) => Bound(sql, args).ExecuteNonQuery();

    public object? Scalar(string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        var r = Bound(sql, args).ExecuteScalar();
        return r is DBNull ? null : r;
    }

    public SqliteDataReader Query(string sql, params ReadOnlySpan<(string Name, object? Value)> args) => Bound(sql, args).ExecuteReader();

    /// <summary>The cached command with these arguments. The parameter objects of its last run are reused when the
    /// names match (the usual case: one statement, one argument list), which saves creating them for every message.</summary>
    private SqliteCommand Bound(string sql, ReadOnlySpan<(string Name, object? Value)> args)
    {
        var cmd = Cached(sql);
        var ps = cmd.Parameters;
        bool same = ps.Count == args.Length;
        for (int i = 0; same && i < args.Length; i++) same = string.Equals(ps[i].ParameterName, args[i].Name, StringComparison.Ordinal);
        if (same)
        {
            for (int i = 0; i < args.Length; i++) ps[i].Value = args[i].Value ?? DBNull.Value;
            return cmd;
        }
        ps.Clear();
        foreach (var (n, v) in args) ps.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }

    public void BeginBatch()
    {
        _batchDeleteAfterCommit.Clear();
        _batchChanges.Clear();
        _batchMailboxesChanged = false;
        Now = DateTimeOffset.UtcNow;
        Transaction = Connection.BeginTransaction(deferred: false);
        if (!_countersLoaded) LoadCounters();
    }

    private void LoadCounters()
    {
        using var r = Query("SELECT modseq, next_blob_id, next_uidvalidity, size FROM account_state WHERE id = 1");
        if (!r.Read()) throw new StoreException("account_state row missing");
        ModSeq = r.GetInt64(0);
        Files.EnsureBlobIdsFrom(r.GetInt64(1));
        NextUidValidity = r.GetInt64(2);
        AccountSize = r.GetInt64(3);
        _countersLoaded = true;
    }

    public void BeginOperation(int index)
    {
        _saved = (ModSeq, NextUidValidity, AccountSize);
        _opDeleteAfterCommit.Clear();
        _opChanges.Clear();
        _opMailboxesChanged = false;
        Transaction.Save(SavepointName(index));
    }

    public void EndOperation(bool commit, int index)
    {
        if (commit)
        {
            Transaction.Release(SavepointName(index));
            _batchDeleteAfterCommit.AddRange(_opDeleteAfterCommit);
            _batchChanges.AddRange(_opChanges);
            _batchMailboxesChanged |= _opMailboxesChanged;
            return;
        }
        Transaction.Rollback(SavepointName(index));
        (ModSeq, NextUidValidity, AccountSize) = _saved;
    }

    private static string SavepointName(int index) => "op" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void CommitBatch()
    {
        Exec("UPDATE account_state SET modseq = $m, next_blob_id = $b, next_uidvalidity = $u, size = $s WHERE id = 1",
            ("$m", ModSeq), ("$b", Files.NextBlobId), ("$u", NextUidValidity), ("$s", AccountSize));
        Transaction.Commit();
        Transaction.Dispose();
        Volatile.Write(ref _committedAccountSize, AccountSize);
    }

    public void AbortBatch()
    {
        try
        {
            Transaction?.Rollback();
        }
        catch (Exception)
        {
            // The connection may already have rolled back after an I/O error.
        }
        Transaction?.Dispose();
        _countersLoaded = false;
        _batchChanges.Clear();
        // The batch may have been partly applied before the failure: whoever caches the mailbox list reloads it.
        Interlocked.Increment(ref _mailboxVersion);
    }

    public void AfterCommit()
    {
        // Bumped after the commit, so a reader that saw the new version also sees the committed rows.
        if (_batchMailboxesChanged) Interlocked.Increment(ref _mailboxVersion);
        // Unreferenced files are removed only after the commit; a crash before leaves an orphan the verifier removes.
        foreach (var f in _batchDeleteAfterCommit) MessageFiles.TryDelete(f);
    }

    public void Dispose()
    {
        foreach (var c in _commands.Values) c.Dispose();
        _commands.Clear();
        Connection.Dispose();
    }
}
