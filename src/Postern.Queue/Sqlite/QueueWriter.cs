using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Postern.Queue.Sqlite;

/// <summary>
/// Group commit for the queue database, as the store's AccountWriter does for an account: one writer
/// connection takes every request queued at that moment, runs each in its own savepoint of one
/// transaction (a failing one is rolled back alone), commits once with synchronous=FULL, and only then
/// completes the callers. Concurrent enqueues share a commit; none is answered before it is durable.
/// </summary>
internal sealed class QueueWriter : IAsyncDisposable
{
    public const int MaxBatch = 256;

    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection _conn;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private SqliteTransaction? _tx;
    private long _commits;

    public QueueWriter(SqliteConnection connection)
    {
        _conn = connection;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Transactions committed so far (the benchmark reports commits per submission).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public Task<T> RunAsync<T>(Func<QueueWriter, T> operation, CancellationToken cancellationToken)
    {
        var req = new Request<T>(operation, cancellationToken);
        if (!_queue.Writer.TryWrite(req)) throw new ObjectDisposedException(nameof(QueueWriter), "queue store closed");
        return req.Task;
    }

    /// <summary>A prepared command bound to the current transaction, with the given parameters.</summary>
    public SqliteCommand Command(string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        if (!_commands.TryGetValue(sql, out var cmd))
        {
            cmd = _conn.CreateCommand();
            cmd.CommandText = sql;
            _commands[sql] = cmd;
        }
        cmd.Parameters.Clear();
        cmd.Transaction = _tx;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }

    public int Exec(string sql, params ReadOnlySpan<(string Name, object? Value)> args) => Command(sql, args).ExecuteNonQuery();

    public object? Scalar(string sql, params ReadOnlySpan<(string Name, object? Value)> args)
    {
        object? v = Command(sql, args).ExecuteScalar();
        return v is DBNull ? null : v;
    }

    /// <summary>A one-off command (SQL built at run time) in the current transaction; the caller disposes it.</summary>
    public SqliteCommand AdHoc(string sql)
    {
        var cmd = _conn.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = _tx;
        return cmd;
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var r)) batch.Add(r);
            RunBatch(batch);
        }
    }

    private void RunBatch(List<Request> batch)
    {
        var succeeded = new List<Request>(batch.Count);
        try
        {
            _tx = _conn.BeginTransaction(deferred: false);
            for (int i = 0; i < batch.Count; i++)
            {
                Request req = batch[i];
                if (req.CancellationToken.IsCancellationRequested)
                {
                    req.Cancel();
                    continue;
                }
                string sp = "op" + i.ToString(CultureInfo.InvariantCulture);
                _tx.Save(sp);
                try
                {
                    req.Run(this);
                    _tx.Release(sp);
                    succeeded.Add(req);
                }
                catch (Exception ex)
                {
                    _tx.Rollback(sp);
                    req.Fail(ex);
                }
            }
            _tx.Commit();
            Interlocked.Increment(ref _commits);
        }
        catch (Exception ex)
        {
            try
            {
                _tx?.Rollback();
            }
            catch (Exception)
            {
                // After an I/O error the connection may have rolled back already.
            }
            foreach (Request req in succeeded) req.Fail(ex);
            return;
        }
        finally
        {
            _tx?.Dispose();
            _tx = null;
        }
        foreach (Request req in succeeded) req.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        foreach (var c in _commands.Values) c.Dispose();
        _commands.Clear();
        await _conn.DisposeAsync().ConfigureAwait(false);
    }

    private abstract class Request
    {
        public abstract CancellationToken CancellationToken { get; }
        public abstract void Run(QueueWriter w);
        public abstract void Fail(Exception ex);
        public abstract void Cancel();
        public abstract void Complete();
    }

    private sealed class Request<T>(Func<QueueWriter, T> operation, CancellationToken cancellationToken) : Request
    {
        private readonly TaskCompletionSource<T> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _tcs.Task;
        public override CancellationToken CancellationToken => cancellationToken;
        public override void Run(QueueWriter w) => _result = operation(w);
        public override void Fail(Exception ex) => _tcs.TrySetException(ex);
        public override void Cancel() => _tcs.TrySetCanceled(cancellationToken);
        public override void Complete() => _tcs.TrySetResult(_result!);
    }
}
